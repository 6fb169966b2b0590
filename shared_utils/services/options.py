"""Baskets, strategies, legs, allocations and the schedule view: the use cases of the options
REST API (seed 002 "API Specifications", "Phase 1 API Endpoints"; seed 001 activate/pause).

Every method takes the caller's ``user_id`` (the Cognito ``sub``) and only ever touches items in
that user's partition: another user's id is indistinguishable from a missing one (404).

Raises (the API maps them): ``NotFound`` 404, ``InvalidRequest`` 422 (field + reason),
``Conflict``/``AlreadyExists``/``VersionConflict`` 409.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from shared_utils.clock import IST, Clock, SystemClock, ist_datetime, utc_iso_ms
from shared_utils.config import EnvironmentConfig
from shared_utils.errors import Conflict, InvalidRequest
from shared_utils.execution.settlement import moved_exits
from shared_utils.market.calendar import default_calendar
from shared_utils.execution.readiness import executability_problems, schedule_warnings
from shared_utils.market.errors import MarketError
from shared_utils.models.allocation import AdvancedAllocationRequest, Allocation, AllocationSpec, AllocationUpdate
from shared_utils.models.basket import Basket, BasketCreate, BasketUpdate
from shared_utils.models.enums import EntityStatus, ExecutionType, ExpiryType
from shared_utils.models.leg import Leg, LegCreate, LegsCreate, LegUpdate
from shared_utils.models.strategy import Strategy, StrategySpec, StrategyUpdate
from shared_utils.persistence.repositories import NotFound, Repositories, schedule_entries
from shared_utils.services.market_data import lot_size_for


def definition_changed(*args, **kwargs) -> None:
    """marketplace: subscribers are told of an owner's edit (shared_utils.marketplace.service)."""
    from shared_utils.marketplace.service import definition_changed as _changed

    _changed(*args, **kwargs)


def new_id(prefix: str) -> str:
    """``bkt_3f2a...``: a prefix and 20 hex characters of a random UUID."""
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def _validation_to_invalid(exc: ValidationError, prefix: tuple = ("body",)) -> InvalidRequest:
    return InvalidRequest([(prefix + tuple(e["loc"]), e["msg"]) for e in exc.errors()])


class OptionsService:
    """The options platform's use cases over :class:`Repositories`."""

    def __init__(self, repos: Repositories, env: EnvironmentConfig, clock: Clock | None = None) -> None:
        self.repos = repos
        self.env = env
        self.clock = clock or SystemClock()

    # -- helpers ---------------------------------------------------------------------------------
    def today(self) -> date:
        return self.clock.now().astimezone(IST).date()

    def _known_underlying(self, underlying: str, loc: tuple) -> None:
        from shared_utils.market.instruments import load_underlyings

        known = load_underlyings()
        if underlying not in known:
            raise InvalidRequest.field(loc, f"unknown underlying {underlying!r}; known: {', '.join(sorted(known))}")

    def _basket_active(self, user_id: str, basket_id: str | None) -> bool:
        if basket_id is None:
            return True
        return self.repos.baskets.get(user_id, basket_id).status is EntityStatus.ACTIVE

    # -- baskets ----------------------------------------------------------------------------------
    def create_basket(self, user_id: str, body: BasketCreate, creator_name: str = "") -> Basket:
        basket = Basket(basket_id=new_id("bkt"), user_id=user_id, creator_user_id=user_id, creator_name=creator_name,
                        current_capital=body.initial_capital, **body.model_dump())
        return self.repos.baskets.create(basket)

    def list_baskets(self, user_id: str, limit: int | None = None, next_token: str | None = None):
        return self.repos.baskets.list(user_id, limit=limit, next_token=next_token)

    def get_basket(self, user_id: str, basket_id: str) -> tuple[Basket, list[Strategy]]:
        basket = self.repos.baskets.get(user_id, basket_id)
        return basket, self.repos.strategies.list_all(user_id, basket_id)

    def update_basket(self, user_id: str, basket_id: str, body: BasketUpdate) -> Basket:
        """Edit a basket. Pausing/activating it also switches its strategies' schedule slots
        (written with the basket in one transaction when they fit in 100 items)."""
        basket = self.repos.baskets.get(user_id, basket_id)
        changes = body.model_dump(exclude_unset=True)
        if "initial_capital" in changes and basket.current_capital == basket.initial_capital:
            changes["current_capital"] = changes["initial_capital"]
        updated = basket.model_copy(update=changes)
        if "status" in changes and changes["status"] != basket.status:
            active = updated.status is EntityStatus.ACTIVE
            new, op = self.repos.baskets.item_ops_update(updated, basket.version)
            ops = [op]
            for strategy in self.repos.strategies.list_all(user_id, basket_id):
                ops += self.repos.schedules.put_ops(schedule_entries(strategy, active))
            self.repos.table.transact(ops[:100])
            for start in range(100, len(ops), 100):
                self.repos.table.transact(ops[start:start + 100])
            return new
        return self.repos.baskets.update(updated, basket.version)

    def delete_basket(self, user_id: str, basket_id: str) -> None:
        """Delete a basket and its (non-active) strategies with their legs, allocations and
        schedule entries. 409 while it holds an ACTIVE strategy."""
        basket = self.repos.baskets.get(user_id, basket_id)
        from shared_utils.marketplace.service import subscribers_holding  # marketplace: subscribers

        subscribed = subscribers_holding(self.repos, user_id, basket_id)
        if subscribed:
            raise Conflict(f"basket {basket_id} runs for marketplace subscribers", subscribed)
        strategies = self.repos.strategies.list_all(user_id, basket_id)
        active = [s.strategy_id for s in strategies if s.status is EntityStatus.ACTIVE]
        if active:
            raise Conflict(f"basket {basket_id} holds {len(active)} ACTIVE strateg{'y' if len(active) == 1 else 'ies'}; "
                           "pause or delete them first", [f"strategy {s} is ACTIVE" for s in active])
        held = [f"strategy {s.strategy_id}: {h}" for s in strategies for h in self._open_positions(user_id, s.strategy_id)]
        if held:
            raise Conflict(f"basket {basket_id} holds strategies with open positions; exit them first", held)
        for strategy in strategies:
            self.repos.strategies.delete(strategy, self.repos.legs.list(user_id, strategy.strategy_id),
                                         self.repos.allocations.list(user_id, strategy.strategy_id))
        self.repos.table.transact([self.repos.baskets.delete_op(user_id, basket_id, basket.version)])

    # -- strategies -------------------------------------------------------------------------------
    def create_strategy(self, user_id: str, basket_id: str | None, body: StrategySpec) -> Strategy:
        self._known_underlying(body.underlying, ("body", "underlying"))
        basket_version = None
        basket_active = True
        if basket_id is not None:
            basket = self.repos.baskets.get(user_id, basket_id)
            count = len(self.repos.strategies.list_all(user_id, basket_id))
            limit = self.env.settings.options_platform.max_strategies_per_basket
            if count >= limit:
                raise InvalidRequest.field(("path", "basket_id"),
                                           f"basket {basket_id} already holds {count} strategies (max_strategies_per_basket is {limit})")
            basket_version = basket.version
            basket_active = basket.status is EntityStatus.ACTIVE
        strategy = Strategy(strategy_id=new_id("stg"), user_id=user_id, basket_id=basket_id, **body.model_dump())
        created = self.repos.strategies.create(strategy, basket_active=basket_active, basket_version=basket_version)
        definition_changed(self.repos, self.env, self.clock, created, "strategy added to the basket")  # marketplace: subscribers
        return created

    def list_strategies(self, user_id: str, basket_id: str | None = None) -> list[Strategy]:
        return self.repos.strategies.list_all(user_id, basket_id)

    def list_basket_strategies(self, user_id: str, basket_id: str) -> list[Strategy]:
        """The strategies of one of the user's baskets. Raises NotFound (404) for a basket that
        does not exist or belongs to someone else."""
        self.repos.baskets.get(user_id, basket_id)
        return self.repos.strategies.list_all(user_id, basket_id)

    def strategy_detail(self, user_id: str, strategy_id: str) -> dict[str, Any]:
        """The strategy with its legs, allocations, schedule and executability."""
        strategy = self.repos.strategies.get(user_id, strategy_id)
        legs = self.repos.legs.list(user_id, strategy_id)
        allocations = self.repos.allocations.list(user_id, strategy_id)
        problems = executability_problems(strategy, legs, allocations, self.today())
        return {
            "strategy": strategy,
            "legs": legs,
            "allocations": allocations,
            "executable": not problems,
            "executability_problems": problems,
            # an exit day that is not a trading day exits on the previous trading day (I5): said here
            "warnings": strategy.day_warnings() + schedule_warnings(strategy, legs, self.today()) + moved_exits(
                default_calendar(), strategy.exit_days, self.today(),
                exchange="BSE" if strategy.underlying in ("SENSEX", "BANKEX", "SENSEX50") else "NSE"),
        }

    def update_strategy(self, user_id: str, strategy_id: str, body: StrategyUpdate) -> Strategy:
        strategy = self.repos.strategies.get(user_id, strategy_id)
        changes = body.model_dump(exclude_unset=True)
        new_basket = changes.pop("basket_id", strategy.basket_id)
        merged = strategy.spec()
        merged.update(changes)
        if "product" in changes and "is_intra_day" not in changes:
            merged.pop("is_intra_day", None)
        if "exit_days" not in changes and merged.get("product") == "MIS" and "entry_days" in changes:
            merged["exit_days"] = []
        try:
            spec = StrategySpec.model_validate({k: (v.model_dump() if hasattr(v, "model_dump") else v)
                                                for k, v in merged.items()})
        except ValidationError as exc:
            raise _validation_to_invalid(exc) from exc
        self._known_underlying(spec.underlying, ("body", "underlying"))
        if spec.underlying != strategy.underlying:
            legs = self.repos.legs.list(user_id, strategy_id)
            if legs:
                raise InvalidRequest.field(("body", "underlying"),
                                           f"legs {', '.join(str(l.leg_no) for l in legs)} trade {strategy.underlying}; "
                                           "change or delete them before changing the underlying")
        if new_basket != strategy.basket_id and new_basket is not None:
            self.repos.baskets.get(user_id, new_basket)
        data = spec.model_dump()
        data.pop("status")
        updated = Strategy.model_validate({**strategy.model_dump(), **data, "basket_id": new_basket})
        saved = self.repos.strategies.update(updated, strategy.version, self._basket_active(user_id, new_basket))
        definition_changed(self.repos, self.env, self.clock, saved, "strategy edited", strategy)  # marketplace: subscribers
        return saved

    def set_status(self, user_id: str, strategy_id: str, status: EntityStatus) -> Strategy:
        """Activate or pause. Activation requires an executable strategy in an ACTIVE basket."""
        strategy = self.repos.strategies.get(user_id, strategy_id)
        basket_active = self._basket_active(user_id, strategy.basket_id)
        if status is EntityStatus.ACTIVE:
            problems = executability_problems(strategy, self.repos.legs.list(user_id, strategy_id),
                                              self.repos.allocations.list(user_id, strategy_id), self.today())
            if not basket_active:
                problems.append(f"basket {strategy.basket_id} is not ACTIVE")
            if problems:
                raise Conflict(f"strategy {strategy_id} cannot be activated", problems)
        if strategy.status is status:
            return strategy
        saved = self.repos.strategies.update(strategy.model_copy(update={"status": status}), strategy.version,
                                             basket_active)
        definition_changed(self.repos, self.env, self.clock, saved, f"strategy {status.value}", strategy)  # marketplace: subscribers
        return saved

    def _open_positions(self, user_id: str, strategy_id: str) -> list[str]:
        """The strategy's open positions in words ("ZERODHA123 NIFTY2681824900PE -195 units")."""
        return [f"{p.client_id} {p.tradingsymbol} {p.quantity} units (leg {p.leg_no})"
                for p in self.repos.positions.list(user_id, strategy_id) if p.quantity]

    def delete_strategy(self, user_id: str, strategy_id: str) -> None:
        """Delete a strategy with its legs, allocations and schedule. 409 naming them while it
        holds open positions (they would be orphaned: nothing would exit them; I5)."""
        strategy = self.repos.strategies.get(user_id, strategy_id)
        from shared_utils.marketplace.service import subscribers_holding  # marketplace: subscribers

        subscribed = subscribers_holding(self.repos, user_id, strategy.basket_id)
        if subscribed:
            raise Conflict(f"strategy {strategy_id} runs for marketplace subscribers", subscribed)
        held = self._open_positions(user_id, strategy_id)
        if held:
            raise Conflict(f"strategy {strategy_id} holds {len(held)} open position{'s' if len(held) > 1 else ''}; "
                           "exit them first (POST /options/executions/manual with execution_type EXIT) or wait for its exit", held)
        self.repos.strategies.delete(strategy, self.repos.legs.list(user_id, strategy_id),
                                     self.repos.allocations.list(user_id, strategy_id))

    # -- legs ------------------------------------------------------------------------------------
    def _lot_size_or_none(self, leg: Any) -> int | None:
        try:
            return lot_size_for(leg.underlying, leg.expiry_type, leg.expiry_offset, self.today()).lot
        except Exception:  # noqa: BLE001 - unknown lot size: the unit limit is checked at Resolve
            return None

    def _check_sizes(self, problems: list) -> None:
        """Platform size limits and the risk fields (shared_utils.services.limits, I8): 422."""
        if problems:
            raise InvalidRequest(problems)

    def _check_leg(self, strategy: Strategy, leg: LegCreate | Leg, loc: tuple) -> None:
        from shared_utils.services.limits import allocation_problems, leg_problems

        limits = self.env.settings.execution_engine.limits
        self._check_sizes(leg_problems(limits, leg, loc, self._lot_size_or_none(leg)))
        # the leg's lots times each existing allocation's multiplier must stay inside the limits
        for allocation in self.repos.allocations.list(strategy.user_id, strategy.strategy_id):
            found = allocation_problems(limits, [leg], allocation, loc, self._lot_size_or_none)
            self._check_sizes([(loc + ("lots",), msg) for _, msg in found if "max_margin" not in msg])
        max_legs = self.env.settings.options_platform.max_legs_per_strategy
        if leg.leg_no > max_legs:
            raise InvalidRequest.field(loc + ("leg_no",), f"{leg.leg_no} is above max_legs_per_strategy ({max_legs})")
        if leg.underlying != strategy.underlying:
            raise InvalidRequest.field(loc + ("underlying",),
                                       f"{leg.underlying} differs from the strategy's underlying {strategy.underlying}")
        if leg.expiry_type is ExpiryType.WEEKLY:
            from shared_utils.market.expiry import has_weeklies

            if not has_weeklies(leg.underlying, self.today()):
                raise InvalidRequest.field(loc + ("expiry_type",),
                                           f"{leg.underlying} lists no weekly options (only NIFTY and SENSEX do since "
                                           "20 Nov 2024, SEBI/HO/MRD/TPD-1/P/CIR/2024/132); use MONTHLY")

    def add_legs(self, user_id: str, strategy_id: str, body: LegsCreate) -> list[Leg]:
        strategy = self.repos.strategies.get(user_id, strategy_id)
        existing = self.repos.legs.list(user_id, strategy_id)
        max_legs = self.env.settings.options_platform.max_legs_per_strategy
        if len(existing) + len(body.legs) > max_legs:
            raise InvalidRequest.field(("body", "legs"), f"the strategy would have {len(existing) + len(body.legs)} legs; "
                                                         f"max_legs_per_strategy is {max_legs}")
        for index, leg in enumerate(body.legs):
            self._check_leg(strategy, leg, ("body", "legs", index))
        clashes = sorted({leg.leg_no for leg in body.legs} & {leg.leg_no for leg in existing})
        if clashes:
            raise Conflict(f"leg_no {', '.join(map(str, clashes))} already exists in strategy {strategy_id}")
        legs = [Leg(user_id=user_id, strategy_id=strategy_id, **leg.model_dump()) for leg in body.legs]
        created = self.repos.legs.create_many(legs, strategy)
        definition_changed(self.repos, self.env, self.clock, strategy, f"legs {', '.join(str(l.leg_no) for l in legs)} added")  # marketplace: subscribers
        return created

    def list_legs(self, user_id: str, strategy_id: str) -> list[Leg]:
        self.repos.strategies.get(user_id, strategy_id)
        return self.repos.legs.list(user_id, strategy_id)

    def get_leg(self, user_id: str, strategy_id: str, leg_no: int) -> Leg:
        """One leg of one of the user's strategies. Raises NotFound (404) for an unknown or
        foreign strategy, or a leg_no the strategy does not have."""
        self.repos.strategies.get(user_id, strategy_id)
        return self.repos.legs.get(user_id, strategy_id, leg_no)

    def update_leg(self, user_id: str, strategy_id: str, leg_no: int, body: LegUpdate) -> Leg:
        strategy = self.repos.strategies.get(user_id, strategy_id)
        leg = self.repos.legs.get(user_id, strategy_id, leg_no)
        merged = leg.fields()
        changes = body.model_dump(exclude_unset=True)
        if "entry_by" in changes and "strike_selection_config" not in changes:
            merged.pop("strike_selection_config", None)
        merged.update(changes)
        merged["leg_no"] = leg_no
        try:
            parsed = LegCreate.model_validate(
                {k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in merged.items() if v is not None})
        except ValidationError as exc:
            raise _validation_to_invalid(exc) from exc
        self._check_leg(strategy, parsed, ("body",))
        updated = Leg.model_validate({**leg.model_dump(), **parsed.model_dump()})
        saved = self.repos.legs.update(updated, leg.version)
        definition_changed(self.repos, self.env, self.clock, strategy, f"leg {leg_no} changed: {', '.join(sorted(changes))}")  # marketplace: subscribers
        return saved

    def delete_leg(self, user_id: str, strategy_id: str, leg_no: int) -> None:
        strategy = self.repos.strategies.get(user_id, strategy_id)
        self.repos.legs.delete(self.repos.legs.get(user_id, strategy_id, leg_no))
        definition_changed(self.repos, self.env, self.clock, strategy, f"leg {leg_no} removed")  # marketplace: subscribers

    # -- allocations -------------------------------------------------------------------------------
    def _check_allocation(self, user_id: str, legs: list[Leg], spec: AllocationSpec | Allocation, loc: tuple) -> None:
        if self.repos.accounts.find(user_id, spec.client_id) is None:
            raise InvalidRequest.field(loc + ("client_id",),
                                       f"{spec.client_id} is not one of your linked broker accounts")
        from shared_utils.services.limits import allocation_problems

        self._check_sizes(allocation_problems(self.env.settings.execution_engine.limits, legs, spec, loc,
                                              self._lot_size_or_none))
        overrides = spec.allocation_config.leg_overrides or {}
        known = {str(leg.leg_no) for leg in legs}
        unknown = sorted(set(overrides) - known, key=int)
        if unknown:
            raise InvalidRequest.field(loc + ("allocation_config", "leg_overrides"),
                                       f"leg {', '.join(unknown)} does not exist in this strategy "
                                       f"(legs: {', '.join(sorted(known, key=int)) or 'none'})")

    def _allocation(self, user_id: str, strategy_id: str, spec: AllocationSpec, legs: list[Leg]) -> Allocation:
        allocation = Allocation(user_id=user_id, strategy_id=strategy_id, **spec.model_dump())
        allocation.calculated_totals = allocation.totals([(leg.leg_no, leg.lots, leg.enabled) for leg in legs])
        return allocation

    def add_allocations(self, user_id: str, strategy_id: str, specs: list[AllocationSpec],
                        loc_prefix: tuple = ("body", "allocations")) -> list[Allocation]:
        self.repos.strategies.get(user_id, strategy_id)
        legs = self.repos.legs.list(user_id, strategy_id)
        for index, spec in enumerate(specs):
            self._check_allocation(user_id, legs, spec, loc_prefix + ((index,) if len(loc_prefix) > 1 else ()))
        existing = {a.client_id for a in self.repos.allocations.list(user_id, strategy_id)}
        limit = self.env.settings.options_platform.max_allocations_per_strategy
        if len(existing) + len(specs) > limit:
            raise InvalidRequest.field(loc_prefix, f"the strategy would be allocated to {len(existing) + len(specs)} "
                                                   f"accounts; max_allocations_per_strategy is {limit}")
        clashes = [s.client_id for s in specs if s.client_id in existing]
        if clashes:
            raise Conflict(f"strategy {strategy_id} is already allocated to {', '.join(clashes)}; "
                           "use PUT .../allocations/{client_id} to change it")
        return self.repos.allocations.create_many([self._allocation(user_id, strategy_id, s, legs) for s in specs])

    def add_allocation(self, user_id: str, strategy_id: str, spec: AllocationSpec) -> Allocation:
        return self.add_allocations(user_id, strategy_id, [spec], ("body",))[0]

    def add_advanced_allocations(self, user_id: str, strategy_id: str, body: AdvancedAllocationRequest) -> list[Allocation]:
        return self.add_allocations(user_id, strategy_id, body.allocations)

    def list_allocations(self, user_id: str, strategy_id: str) -> list[Allocation]:
        self.repos.strategies.get(user_id, strategy_id)
        return self.repos.allocations.list(user_id, strategy_id)

    def get_allocation(self, user_id: str, strategy_id: str, client_id: str) -> Allocation:
        """One allocation of one of the user's strategies. Raises NotFound (404) for an unknown or
        foreign strategy, or an account the strategy is not allocated to."""
        self.repos.strategies.get(user_id, strategy_id)
        return self.repos.allocations.get(user_id, strategy_id, client_id)

    def update_allocation(self, user_id: str, strategy_id: str, client_id: str, body: AllocationUpdate) -> Allocation:
        self.repos.strategies.get(user_id, strategy_id)
        allocation = self.repos.allocations.get(user_id, strategy_id, client_id)
        changes = body.model_dump(exclude_unset=True)
        config = changes.pop("allocation_config", None)
        multiplier = changes.pop("strategy_lots_multiplier", None)
        overrides = changes.pop("leg_overrides", None)
        if config is None and multiplier is not None:
            config = {"type": "STRATEGY_LEVEL", "strategy_lots_multiplier": multiplier}
        if config is None and overrides is not None:
            config = {"type": "LEG_LEVEL", "leg_overrides": overrides}
        data = allocation.model_dump()
        data.update(changes)
        if config is not None:
            data["allocation_config"] = config
        try:
            updated = Allocation.model_validate(data)
        except ValidationError as exc:
            raise _validation_to_invalid(exc) from exc
        legs = self.repos.legs.list(user_id, strategy_id)
        self._check_allocation(user_id, legs, updated, ("body",))
        updated.calculated_totals = updated.totals([(leg.leg_no, leg.lots, leg.enabled) for leg in legs])
        return self.repos.allocations.update(updated, allocation.version)

    def delete_allocation(self, user_id: str, strategy_id: str, client_id: str) -> None:
        self.repos.strategies.get(user_id, strategy_id)
        self.repos.allocations.delete(self.repos.allocations.get(user_id, strategy_id, client_id))

    def allocation_summary(self, user_id: str, strategy_id: str, trade_date: date | None = None) -> dict[str, Any]:
        """Lots and quantity per account and per leg for one execution on ``trade_date`` (default
        today IST), with the lot size used and where it came from (the instrument master's
        contract, or the dated fallback table when the master does not list it)."""
        strategy = self.repos.strategies.get(user_id, strategy_id)
        legs = self.repos.legs.list(user_id, strategy_id)
        allocations = self.repos.allocations.list(user_id, strategy_id)
        day = trade_date or self.today()
        lot_info: dict[int, dict[str, Any]] = {}
        for leg in legs:
            try:
                lot = lot_size_for(leg.underlying, leg.expiry_type, leg.expiry_offset, day)
                lot_info[leg.leg_no] = {"lot_size": lot.lot, "expiry": lot.expiry.isoformat() if lot.expiry else None,
                                        "lot_size_source": lot.source}
            except MarketError as exc:
                lot_info[leg.leg_no] = {"lot_size": None, "expiry": None, "lot_size_source": f"unavailable: {exc}"}
        accounts = []
        totals_lots = 0
        totals_qty = 0
        per_leg_totals: dict[int, dict[str, int]] = {leg.leg_no: {"lots": 0, "quantity": 0} for leg in legs}
        for allocation in allocations:
            rows = []
            for leg in legs:
                lots = allocation.lots_for_leg(leg.leg_no, leg.lots, leg.enabled)
                lot_size = lot_info[leg.leg_no]["lot_size"]
                quantity = lots * lot_size if lot_size else None
                rows.append({"leg_no": leg.leg_no, "transaction_type": leg.transaction_type,
                             "option_type": leg.leg_type.option_type, "lots": lots, "quantity": quantity,
                             **lot_info[leg.leg_no]})
                if allocation.status is EntityStatus.ACTIVE:
                    per_leg_totals[leg.leg_no]["lots"] += lots
                    per_leg_totals[leg.leg_no]["quantity"] += quantity or 0
            account_lots = sum(r["lots"] for r in rows)
            account_qty = sum(r["quantity"] or 0 for r in rows)
            if allocation.status is EntityStatus.ACTIVE:
                totals_lots += account_lots
                totals_qty += account_qty
            accounts.append({"client_id": allocation.client_id, "priority": allocation.priority,
                             "status": allocation.status, "allocation_type": allocation.allocation_config.type,
                             "total_lots": account_lots, "total_quantity": account_qty, "legs": rows})
        return {
            "strategy_id": strategy_id, "underlying": strategy.underlying, "trade_date": day.isoformat(),
            "accounts": accounts,
            "legs": [{"leg_no": no, **values, **lot_info[no]} for no, values in per_leg_totals.items()],
            "total_lots": totals_lots, "total_quantity": totals_qty,
        }

    # -- schedule view -----------------------------------------------------------------------------
    def schedule(self, user_id: str, on: date, execution_type: ExecutionType | None = None) -> list[dict[str, Any]]:
        """What will run for this user on ``on`` (IST date), from the SCHEDULE items: each entry
        with its IST time, its target instant in UTC, and whether it is due, with reasons when
        it is not (holiday, weekday, paused, not executable)."""
        from shared_utils.market.calendar import default_calendar

        calendar = default_calendar()
        trading = calendar.is_trading_day(on)
        strategies = {s.strategy_id: s for s in self.repos.strategies.list_all(user_id)}
        from shared_utils.marketplace.definitions import definition_aware

        repos = definition_aware(self.repos)  # marketplace: a subscribed strategy is on the subscriber's schedule too
        rows = []
        for entry in self.repos.schedules.list_for_user(user_id):
            if execution_type is not None and entry.execution_type is not execution_type:
                continue
            strategy = strategies.get(entry.strategy_id)
            if strategy is None:
                try:
                    strategy = repos.strategies.get(user_id, entry.strategy_id)  # marketplace: definition owner
                except NotFound:
                    continue
            reasons = []
            if not trading:
                reasons.append(non_trading_reason(calendar, on))
            if entry.days and not entry.due_on_weekday(on):
                reasons.append(f"{on.strftime('%A').upper()} is not one of {', '.join(d.value for d in entry.days)}")
            if not entry.active:
                reasons.append("strategy or basket is not ACTIVE")
            if entry.execution_type is ExecutionType.ENTRY and not reasons:
                reasons += executability_problems(strategy, repos.legs.list(user_id, strategy.strategy_id),
                                                  repos.allocations.list(user_id, strategy.strategy_id), on)
            at = ist_datetime(on, entry.schedule_time)
            rows.append({
                "strategy_id": strategy.strategy_id, "strategy_name": strategy.strategy_name,
                "basket_id": strategy.basket_id, "execution_type": entry.execution_type,
                "time_ist": entry.schedule_time, "date": on.isoformat(), "execute_at": utc_iso_ms(at),
                "due": not reasons, "reasons": reasons,
            })
        return sorted(rows, key=lambda r: (r["time_ist"], r["execution_type"], r["strategy_name"]))


def non_trading_reason(calendar: Any, on: date) -> str:
    """``"2026-10-02 is not a trading day (Mahatma Gandhi Jayanti, NSE holiday)"`` / ``"(SATURDAY)"``:
    the holiday's name from the calendar (as the execution record's reason has it)."""
    holiday = calendar.holiday(on)
    if holiday is not None:
        return f"{on.isoformat()} is not a trading day ({holiday.name}, {holiday.exchange} holiday)"
    if on.weekday() >= 5:
        return f"{on.isoformat()} is not a trading day ({on.strftime('%A').upper()})"
    return f"{on.isoformat()} is not a trading day"


def parse_date(value: str | None, field: str, default: date) -> date:
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequest.field(("query", field), f"{value!r} is not a date YYYY-MM-DD") from exc


def decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


__all__ = ["OptionsService", "NotFound", "new_id", "parse_date", "datetime"]
