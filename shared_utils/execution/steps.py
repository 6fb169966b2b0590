"""The Express state machine's steps as plain functions over JSON state (ARCHITECTURE.md
"Execution"): ENTRY: Prepare (claims and resolves) -> Wait -> Map(PlaceOrders) -> Finalize;
EXIT: Prepare -> [PreCancel] -> Wait -> Resolve -> Map(PlaceOrders) -> Finalize.

Exactly-once rests on these things (invariants I1/I2 of issue 13, contract C1):

1. Prepare CLAIMS each execution (strategy, trade date, ENTRY/EXIT) with a conditional put whose
   claimant is this state-machine run (``run_id``). A duplicate event, a second emitter or a
   re-run state machine finds the claim taken and does nothing. A Lambda retry inside the same
   run recognises its own claim.
2. Resolve writes every planned order's intent (PENDING, deterministic key and broker tag) in
   batches BEFORE the Map, and hands the Map small references (one per account), never orders.
3. PlaceOrders claims its item with one conditional put before the sleep; a second PlaceOrders
   for the same item RECONCILES by tag and never sends (placer).
4. Finalize settles every intent still PENDING after the Map: NOT_SENT with the branch's error
   when the item was never claimed, reconciled by tag when it was; anything not accepted makes
   the execution PARTIAL/FAILED with an Order Alert naming accounts and legs.
5. An unknown outcome (timeout after sending) is reconciled by tag, never retried blindly.

Timing (issue 14 "critical path redesign"): an entry's intents are written by Prepare, ~2 min
ahead; the Wait ends ``send_lead_seconds`` (config) before ``execute_at`` so PlaceOrders starts
cold there, does its cold work (session, client, connection, intents, claim) and sleeps warm; at
the second only a batched price refresh and the sends. The send loop does no DynamoDB I/O except
the kill-switch read before the hedges (100 ms ahead) and again before shorts that waited for
hedges; records are saved after the account's last order, batched.

DynamoDB requests of an entry (issue 14 item 9; tests/functional/asl/test_request_diet.py):
per strategy Prepare reads the strategy, legs, allocations, basket, kill switches and the
accounts (one BatchGetItem), claims (one put) and writes the plan (one transaction per 100
items); per account PlaceOrders reads the account, the intents (one query), claims, reads the
kill switches (once, twice with hedges) and books everything with one positions query and one
transaction per 100 items; Finalize reads the orders once.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from shared_utils.clock import IST, epoch_ms, ist_datetime, parse_instant, to_ist, utc_iso_ms
from shared_utils.execution.context import EngineContext
from shared_utils.execution.events import EXECUTION_COMPLETED, ORDER_ALERT, SOURCE_ENGINE
from shared_utils.execution.exits import prepare_exit, reclaim_released_exit, release_note
from shared_utils.execution.settlement import exit_due_on
from shared_utils.execution.guards import kill_switch_problem, session_problem
from shared_utils.execution.market_data import market_data_problems
from shared_utils.execution.order_state import ACCEPTED
from shared_utils.execution.placer import intent_record, place_orders, settle_unplaced
from shared_utils.execution.planner import (
    PlannedOrder,
    ResolutionError,
    map_to_broker,
    plan_entry_orders,
    plan_exit_orders,
    resolve_legs,
)
from shared_utils.execution.readiness import executability_problems
from shared_utils.execution.watchlist import watch
from shared_utils.market.errors import MarketError
from shared_utils.models.enums import (
    EntityStatus,
    ExecutionStatus,
    ExecutionType,
    OrderPurpose,
    OrderStatus,
    TransactionType,
    Weekday,
)
from shared_utils.models.execution import Execution, ExecutionResults, OrderRecord, WorkItem
from shared_utils.persistence import keys
from shared_utils.persistence.repositories import NotFound

def _now(ctx: EngineContext) -> datetime:
    return ctx.clock.now()


class Loaded(NamedTuple):
    """What Prepare read and claimed for one execution, handed to Resolve in-process."""

    execution: Execution
    strategy: Any
    legs: list
    allocations: list


# ---------------------------------------------------------------------------- Prepare

def _memo(memo: dict[tuple, Any] | None, key: tuple, read):
    """``read()`` once per Prepare invocation: the strategies of one event share a user's kill
    switches and a basket (``memo`` lives for the invocation only; None: always read)."""
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    return memo[key]

def _due_problems(ctx: EngineContext, execution_type: ExecutionType, trigger: str, trade_date: date,
                  execute_at: datetime, strategy, legs, allocations, memo: dict | None = None) -> list[str]:
    problems: list[str] = []
    exchange = "BSE" if strategy.underlying in ("SENSEX", "BANKEX", "SENSEX50") else "NSE"
    guard = session_problem(ctx.calendar, execute_at, exchange)
    if guard:
        problems.append(guard)
    kill = _memo(memo, ("kill", strategy.user_id, execution_type),
                 lambda: kill_switch_problem(ctx.repos, strategy.user_id, execution_type))
    if kill:
        problems.append(kill)
    # an EXIT runs whatever the strategy's (or basket's) status while it has open positions: a
    # pause stops new entries, never the exit of what is held (issue 13 item 3, I5)
    holds = execution_type is ExecutionType.EXIT and any(
        p.quantity for p in ctx.repos.positions.list(strategy.user_id, strategy.strategy_id))
    if trigger == "SCHEDULE" and not holds:
        if strategy.status is not EntityStatus.ACTIVE:
            problems.append(f"strategy is {strategy.status.value}")
        if strategy.basket_id:
            try:
                basket = _memo(memo, ("basket", strategy.user_id, strategy.basket_id),
                               lambda: ctx.repos.baskets.get(strategy.user_id, strategy.basket_id))
                if basket.status is not EntityStatus.ACTIVE:
                    problems.append(f"basket {basket.basket_name} is {basket.status.value}")
            except NotFound:
                problems.append("its basket no longer exists")
    if trigger == "SCHEDULE":
        weekday = list(Weekday)[trade_date.weekday()]
        days = strategy.entry_days if execution_type is ExecutionType.ENTRY else strategy.exit_days
        slot = strategy.entry_time if execution_type is ExecutionType.ENTRY else strategy.exit_time
        moved_exit = (execution_type is ExecutionType.EXIT and days and weekday not in days
                      and exit_due_on(ctx.calendar, days, trade_date, exchange))  # exit day a holiday (I5)
        if days and weekday not in days and not moved_exit:
            problems.append(f"{weekday.value} is not one of its {execution_type.value.lower()} days "
                            f"({', '.join(d.value for d in days)})")
        if to_ist(execute_at).strftime("%H:%M") != slot:
            problems.append(f"its {execution_type.value.lower()} time is now {slot}, not {to_ist(execute_at):%H:%M}")
    if execution_type is ExecutionType.ENTRY:
        problems += executability_problems(strategy, legs, allocations, trade_date)
        if strategy.entry_dte is not None and legs:
            problems += _dte_problems(ctx, strategy, legs, trade_date)
    return problems


def _dte_problems(ctx: EngineContext, strategy, legs, trade_date: date) -> list[str]:
    from shared_utils.market.expiry import days_to_expiry, resolve_expiry

    try:
        expiries = [resolve_expiry(ctx.master, leg.underlying, leg.expiry_type, leg.expiry_offset, trade_date, ctx.calendar)
                    for leg in legs if leg.enabled]
    except MarketError as exc:
        return [f"DTE check: {exc}"]
    dte = days_to_expiry(min(expiries), trade_date)
    window = strategy.entry_dte
    if not window.min_dte <= dte <= window.max_dte:
        return [f"DTE {dte} is outside its entry window {window.min_dte}-{window.max_dte}"]
    return []


def prepare(detail: dict[str, Any], ctx: EngineContext, run_id: str | None = None) -> dict[str, Any]:
    """Load each strategy of the batch, check every guard, and CLAIM its execution.

    Returns the state with ``run_id``, ``executions`` (claimed by this run), ``claimed_count``
    and ``wait_until`` (``execute_at - send_lead_seconds``, or the event's when earlier); for an
    ENTRY also ``work_items``: it is resolved here (:func:`resolve` with what was just read), so
    the contracts and intents exist before the Wait. A strategy that must not run is recorded as
    a SKIPPED execution with its reasons (that record is also a claim, so nothing else runs it
    that day).
    """
    run_id = run_id or detail.get("run_id") or f"run-{uuid.uuid4().hex[:12]}"
    execution_type = ExecutionType(detail["execution_type"])
    trade_date = date.fromisoformat(detail["trade_date"])
    execute_at = parse_instant(detail["execute_at"])
    trigger = detail.get("trigger", "SCHEDULE")
    claimed: list[dict[str, str]] = []
    skipped: list[dict[str, Any]] = []
    loaded: dict[str, Loaded] = {}
    memo: dict[tuple, Any] = {}
    for ref in detail.get("strategies", []):
        user_id, strategy_id = ref["user_id"], ref["strategy_id"]
        execution_id = keys.execution_id(strategy_id, execution_type, trade_date)
        try:
            strategy = ctx.repos.strategies.get(user_id, strategy_id)
        except NotFound:
            skipped.append({"strategy_id": strategy_id, "user_id": user_id, "reasons": ["strategy no longer exists"]})
            continue
        legs = ctx.repos.legs.list(user_id, strategy_id)
        allocations = ctx.repos.allocations.list(user_id, strategy_id)
        problems = _due_problems(ctx, execution_type, trigger, trade_date, execute_at, strategy, legs, allocations,
                                 memo)
        record = Execution(
            execution_id=execution_id, user_id=user_id, strategy_id=strategy_id, basket_id=strategy.basket_id,
            execution_type=execution_type, trade_date=trade_date, execution_time=to_ist(execute_at).strftime("%H:%M"),
            execute_at=execute_at, status=ExecutionStatus.SKIPPED if problems else ExecutionStatus.CLAIMED,
            trigger=trigger, claimed_by=run_id, claimed_at=_now(ctx), reasons=problems,
            total_legs=sum(1 for leg in legs if leg.enabled),
        )
        stored = ctx.repos.executions.claim(record)
        if stored is None and execution_type is ExecutionType.EXIT and not problems:
            stored = reclaim_released_exit(ctx, record)  # an earlier exit found nothing (I5)
        if stored is None:
            existing = ctx.repos.executions.get(user_id, strategy_id, execution_type, trade_date)
            # a retried Prepare of this run: its claim (and, for an entry, the plan it resolved:
            # Resolve runs again and keeps the stored intents) is still this run's
            if existing is not None and existing.claimed_by == run_id and existing.status in (
                    ExecutionStatus.CLAIMED, ExecutionStatus.IN_PROGRESS, ExecutionStatus.FAILED):
                claimed.append({"execution_id": execution_id, "user_id": user_id, "strategy_id": strategy_id})
                loaded[execution_id] = Loaded(existing, strategy, legs, allocations)
            else:
                skipped.append({"strategy_id": strategy_id, "user_id": user_id,
                                "reasons": [f"already claimed by {existing.claimed_by if existing else 'another run'}"]})
            continue
        if problems:
            skipped.append({"strategy_id": strategy_id, "user_id": user_id, "reasons": problems})
            ctx.observer({"event": "skipped", "execution_id": execution_id, "strategy": strategy.strategy_name,
                          "reasons": problems})
            continue
        claimed.append({"execution_id": execution_id, "user_id": user_id, "strategy_id": strategy_id})
        loaded[execution_id] = Loaded(stored, strategy, legs, allocations)
    out = {**detail, "run_id": run_id, "executions": claimed, "claimed_count": len(claimed), "skipped": skipped}
    # the Map starts send_lead_seconds before execute_at, so cold starts and connections happen
    # before the second (issue 14): never later than the event's own wait_until
    lead = timedelta(seconds=ctx.env.settings.execution_engine.send_lead_seconds)
    out["wait_until"] = utc_iso_ms(min(execute_at - lead, parse_instant(detail.get("wait_until") or utc_iso_ms(execute_at))))
    if execution_type is ExecutionType.ENTRY and claimed:
        # entries are resolved NOW, ~lookahead minutes ahead, from what Prepare just read: the
        # contracts, quantities, slices and intents are stored before the Wait; only the limit
        # prices are refreshed at the second (placer.refresh_prices)
        out = resolve(out, ctx, loaded)
    if execution_type is ExecutionType.EXIT and claimed:
        # the exit's resting stops are cancelled ahead of the second (exits.pre_cancel_exits);
        # never later than wait_until, never before now (a manual/MTM exit 3 s ahead: at once)
        from shared_utils.execution.exits import cancel_at

        at = max(min(cancel_at(execute_at), parse_instant(out["wait_until"])), _now(ctx))
        out["cancel_at"] = utc_iso_ms(at)
    return out


# ---------------------------------------------------------------------------- Resolve

def _orders_today(ctx: EngineContext, user_id: str, strategy_id: str, trade_date: date) -> dict[str, int]:
    """The strategy's orders of the trade date by account (one Query per execution type)."""
    counts: dict[str, int] = {}
    for kind in ExecutionType:
        for order in ctx.repos.orders.list_for_execution(user_id, keys.execution_id(strategy_id, kind, trade_date)):
            counts[order.client_id] = counts.get(order.client_id, 0) + 1
    return counts


def _accounts(ctx: EngineContext, user_id: str, client_ids: list[str]) -> dict[str, Any]:
    """The user's broker accounts ``client_ids`` by client_id, in ONE BatchGetItem (missing
    ones are absent)."""
    from shared_utils.models.broker_account import BrokerAccount

    if not client_ids:
        return {}
    table = ctx.repos.accounts.table
    items = table.batch_get([(user_id, client_id) for client_id in client_ids])
    return {item["client_id"]: BrokerAccount.model_validate(item) for item in items}


def write_plan(ctx: EngineContext, execution: Execution, expected_version: int, intents: list[OrderRecord]) -> None:
    """Store the resolved execution (version-checked) and its PENDING intents (each only if
    absent) in one ``TransactWriteItems`` per <= 100 items. A transaction refused because an
    intent exists already (a retried Resolve) falls back to the de-duplicating batch write
    (stored intents are kept, never overwritten) and the versioned save."""
    from shared_utils.execution.booking import MAX_TRANSACTION_ITEMS, _transact
    from shared_utils.persistence.table import TransactionCancelled, to_item

    table = ctx.repos.orders.table
    new_execution = execution.model_copy(update={"version": expected_version + 1, "updated_at": _now(ctx)})
    ops = [table.put_op(to_item(new_execution, user_id=execution.user_id, sort_key=keys.execution_sk(
        execution.strategy_id, execution.execution_type, execution.trade_date)),
        condition="version = :expected", values={":expected": expected_version})]
    ops += [table.put_op(to_item(o, user_id=o.user_id, sort_key=o.order_key, gsi3pk=keys.gsi3_order_tag_pk(o.tag)),
                         condition="attribute_not_exists(sort_key)") for o in intents]
    try:
        for start in range(0, len(ops), MAX_TRANSACTION_ITEMS):
            _transact(table, ops[start:start + MAX_TRANSACTION_ITEMS])
    except TransactionCancelled:
        ctx.repos.orders.record_intents(intents)
        current = ctx.repos.executions.get_by_id(execution.user_id, execution.execution_id)
        if current.version == expected_version:
            ctx.repos.executions.save(execution, expected_version)


def _size_problems(ctx: EngineContext, legs, allocation, orders: list[PlannedOrder], resolved) -> list[str]:
    """Platform limits and ``position_sizing.max_lots`` (I8) on one account's entry orders."""
    from shared_utils.services.limits import lots_problems, notional_problem, units_problems

    limits = ctx.env.settings.execution_engine.limits
    problems: list[str] = []
    by_leg: dict[int, list[PlannedOrder]] = {}
    for order in orders:
        by_leg.setdefault(order.leg_no, []).append(order)
    legs_by_no = {leg.leg_no: leg for leg in legs}
    for leg_no, planned in sorted(by_leg.items()):
        leg = legs_by_no.get(leg_no)
        lots = sum(o.lots for o in planned)
        max_lots = leg.position_sizing.max_lots if leg is not None and leg.position_sizing else None
        what = f"{allocation.client_id} leg {leg_no}"
        problems += [msg for _, msg in lots_problems(limits, lots, max_lots, (), what)]
        problems += [msg for _, msg in units_problems(limits, lots, planned[0].lot_size, (), what)]
    strikes = {no: info.strike for no, (info, _) in resolved.items()}
    notional = notional_problem(limits, allocation.client_id, orders, strikes)
    return problems + ([notional] if notional else [])


def _daily_loss_problem(ctx: EngineContext, allocation, trade_date: date,
                        strategy_positions: list | None = None) -> str | None:
    """``risk_limits.max_daily_loss`` (rupees): no new entry once today's loss reached it.
    ``strategy_positions``: the strategy's positions (all accounts) when already read."""
    from shared_utils.services.limits import daily_loss

    limit = allocation.risk_limits.max_daily_loss
    if limit is None:
        return None
    if strategy_positions is None:
        strategy_positions = ctx.repos.positions.list(allocation.user_id, allocation.strategy_id)
    positions = [p for p in strategy_positions if p.client_id == allocation.client_id]
    loss = daily_loss(positions, trade_date, to_ist)
    if loss >= limit:
        return (f"{allocation.client_id}: loss today Rs {loss:,.2f} has reached max_daily_loss Rs {limit:,.2f}; "
                "no new entries today")
    return None


def _risk_problems(ctx: EngineContext, allocation, orders: list[PlannedOrder], trade_date: date,
                   execution_type: ExecutionType, today_orders: dict[str, int] | None = None,
                   strategy_positions: list | None = None) -> list[str]:
    if execution_type is ExecutionType.EXIT:
        return []  # risk limits never block closing a position
    limits = allocation.risk_limits
    problems = []
    loss = _daily_loss_problem(ctx, allocation, trade_date, strategy_positions)
    if loss:
        problems.append(loss)
    if limits.max_position_value is not None:
        value = sum(Decimal(o.price or o.ltp or 0) * o.quantity for o in orders)
        if value > limits.max_position_value:
            problems.append(f"{allocation.client_id}: position value Rs {value:,.2f} exceeds max_position_value "
                            f"Rs {limits.max_position_value:,.2f}")
    if limits.max_daily_trades is not None:
        if today_orders is None:
            today_orders = _orders_today(ctx, allocation.user_id, allocation.strategy_id, trade_date)
        today = today_orders.get(allocation.client_id, 0)
        if today + len(orders) > limits.max_daily_trades:
            problems.append(f"{allocation.client_id}: {today} orders today + {len(orders)} planned exceed "
                            f"max_daily_trades {limits.max_daily_trades}")
    return problems


def resolve(state: dict[str, Any], ctx: EngineContext, loaded: dict[str, Loaded] | None = None) -> dict[str, Any]:
    """Quotes, each leg's contract (one choice for all accounts), quantities, slices and prices;
    risk limits per account. Returns the state with ``work_items`` (one per account).

    ENTRY: called by Prepare (before the Wait) with what Prepare read (``loaded``, by execution
    id: no second read); EXIT: the Resolve state after the Wait and the pre-cancel, which reads
    the execution, strategy, legs and allocations itself (positions must be read late).
    Requests per strategy: the accounts of all its allocations in ONE BatchGetItem, the day's
    orders (max_daily_trades) one Query per execution type, and the plan (intents + execution)
    in one TransactWriteItems per <= 100 items."""
    execution_type = ExecutionType(state["execution_type"])
    trade_date = date.fromisoformat(state["trade_date"])
    now = _now(ctx)
    work_items: list[dict[str, Any]] = []
    for ref in state.get("executions", []):
        user_id, strategy_id = ref["user_id"], ref["strategy_id"]
        known = (loaded or {}).get(ref["execution_id"])
        if known is not None:
            execution, strategy, legs, allocations = known
        else:
            execution = ctx.repos.executions.get_by_id(user_id, ref["execution_id"])
            strategy = ctx.repos.strategies.get(user_id, strategy_id)
            legs = ctx.repos.legs.list(user_id, strategy_id)
            allocations = ctx.repos.allocations.list(user_id, strategy_id)
        allocations = [a for a in allocations if a.status is EntityStatus.ACTIVE]
        accounts = _accounts(ctx, user_id, [a.client_id for a in allocations])
        today_orders: dict[str, int] | None = None
        strategy_positions: list | None = None
        reasons = list(execution.reasons)
        per_account: list[tuple[Any, Any, list[PlannedOrder]]] = []
        resolved_legs = []
        refused = market_data_problems(ctx, execution_type, trade_date, user_id, allocations, accounts)
        reasons += refused
        try:
            if refused:
                per_account = []  # refused: nothing is priced or sent; the execution fails with the reasons (Finalize alerts)
            elif execution_type is ExecutionType.ENTRY:
                resolved = resolve_legs(ctx, strategy.underlying, legs, trade_date, now)
                resolved_legs = [info for info, _ in resolved.values()]
                for allocation in allocations:
                    account = accounts.get(allocation.client_id)
                    if account is None or account.status is not EntityStatus.ACTIVE:
                        reasons.append(f"{allocation.client_id}: broker account is not linked or not active")
                        continue
                    orders = plan_entry_orders(ctx, legs, allocation, resolved, strategy.product, trade_date)
                    problems = _size_problems(ctx, legs, allocation, orders, resolved)
                    if allocation.risk_limits.max_daily_trades is not None and today_orders is None:
                        today_orders = _orders_today(ctx, user_id, strategy_id, trade_date)
                    if allocation.risk_limits.max_daily_loss is not None and strategy_positions is None:
                        strategy_positions = ctx.repos.positions.list(user_id, strategy_id)
                    problems += _risk_problems(ctx, allocation, orders, trade_date, execution_type, today_orders,
                                               strategy_positions)
                    if problems:
                        reasons += problems
                        continue
                    if orders:
                        per_account.append((allocation, account, orders))
            else:
                legs_by_no = {leg.leg_no: leg for leg in legs}
                # cancel the strategy's stops and pending orders FIRST, learn any stop that filled
                # meanwhile, and only then read what is still open (exits.prepare_exit)
                deferred, exit_reasons = prepare_exit(ctx, user_id, strategy_id, trade_date)
                reasons += exit_reasons
                # positions are read here, at execute_at - 2 s, not in Prepare (two minutes early)
                positions = [p for p in ctx.repos.positions.list(user_id, strategy_id)
                             if p.quantity and (p.client_id, p.tradingsymbol) not in deferred]
                if not positions and not deferred:
                    reasons.append("no open position to exit")
                clients = sorted({p.client_id for p in positions})
                priority = {a.client_id: a.priority for a in allocations}
                missing = [c for c in clients if c not in accounts]
                accounts.update(_accounts(ctx, user_id, missing) if missing else {})
                for client_id in sorted(clients, key=lambda c: (priority.get(c, 999), c)):
                    account = accounts.get(client_id)
                    if account is None:
                        reasons.append(f"{client_id}: broker account is gone; close its position by hand")
                        continue
                    try:
                        orders = plan_exit_orders(ctx, legs_by_no, [p for p in positions if p.client_id == client_id],
                                                  trade_date, now)
                    except MarketError as exc:  # one account's contract never blocks the others' exit
                        reasons.append(f"{client_id}: cannot plan its closing orders ({exc})")
                        continue
                    allocation = next((a for a in allocations if a.client_id == client_id), None)
                    per_account.append((allocation, account, orders))
        except (ResolutionError, MarketError) as exc:
            reasons.append(str(exc))
            per_account = []
        header = {"execution_id": execution.execution_id, "user_id": user_id, "strategy_id": strategy_id,
                  "execute_at": state["execute_at"]}
        intents: list[OrderRecord] = []
        for allocation, account, orders in per_account:
            if ctx.effective_broker is not None:
                effective = ctx.effective_broker(account)
            else:
                effective = "paper" if account.trading_mode.value == "PAPER" else account.broker.value
            map_to_broker(ctx, orders, effective)
            intents += [intent_record({**header, "client_id": account.client_id}, o.to_state(), now,
                                      account.broker.value) for o in orders]
            margin = allocation.risk_limits.max_margin_utilization if allocation and execution_type is ExecutionType.ENTRY else None
            work_items.append(WorkItem(
                execution_id=execution.execution_id, user_id=user_id, strategy_id=strategy_id,
                client_id=account.client_id, execution_type=execution_type, execute_at=parse_instant(state["execute_at"]),
                execution_delay_ms=allocation.execution_config.execution_delay_ms if allocation else 0,
                max_entry_delay_ms=strategy.max_entry_delay_ms, hedge_fill_timeout_ms=strategy.hedge_fill_timeout_ms,
                max_margin_utilization=margin,
            ).model_dump(mode="json", exclude_none=True))
            work_items[-1]["execute_at"] = state["execute_at"]  # the event's own text, to the millisecond
        nothing_to_exit = execution_type is ExecutionType.EXIT and "no open position to exit" in reasons
        if nothing_to_exit and not per_account:
            reasons = release_note(reasons)  # finding nothing does not consume the day's exit (I5)
        updated = execution.model_copy(update={
            "status": ExecutionStatus.IN_PROGRESS if per_account else (
                ExecutionStatus.SKIPPED if nothing_to_exit else ExecutionStatus.FAILED),
            "started_at": now, "reasons": reasons, "resolved_legs": resolved_legs,
            "brokers_involved": [acc.client_id for _, acc, _ in per_account],
            "total_lots": sum(o.lots for _, _, orders in per_account for o in orders),
            "completed_at": None if per_account else now,
        })
        # every planned order is stored (PENDING) before the Map, with the execution's new state:
        # a branch that dies before doing anything leaves intents Finalize sees (I2); a retried
        # Resolve keeps the stored ones
        write_plan(ctx, updated, execution.version, intents)
        if not per_account:
            ctx.observer({"event": "skipped" if nothing_to_exit else "failed", "execution_id": execution.execution_id,
                          "strategy": strategy.strategy_name, "reasons": reasons})
    return {**state, "work_items": work_items}


# ---------------------------------------------------------------------------- Finalize

#: reasons listed per execution (the rest are counted): keeps the item and the state small
MAX_REASONS = 60


def finalize(state: dict[str, Any], ctx: EngineContext) -> dict[str, Any]:
    """Each execution's outcome from its stored orders, after the Map (contract C1).

    First every intent still PENDING is settled (``placer.settle_unplaced``): NOT_SENT with the
    branch's ``error`` from ``placements`` (or "never ran") when its item was never claimed,
    reconciled by tag when it was. Then: COMPLETED (every order accepted), PARTIAL (some),
    FAILED (none), with the reasons; publishes "Execution Completed", and an "Order Alert"
    naming every account and leg not accepted (``problems``) for PARTIAL/FAILED/unknown (I2).
    """
    now = _now(ctx)
    errors: dict[tuple[str, str], str] = {}
    notes: dict[str, list[str]] = {}
    for placement in state.get("placements") or []:
        if isinstance(placement, dict) and placement.get("notes"):
            notes.setdefault(placement.get("execution_id"), []).extend(
                f"{placement.get('client_id')}: {note}" for note in placement["notes"])
        if isinstance(placement, dict) and placement.get("error"):
            error = placement["error"]
            if isinstance(error, dict):  # Step Functions' Catch: {"Error": ..., "Cause": ...}
                error = f"{error.get('Error', 'error')}: {str(error.get('Cause', ''))[:300]}"
            errors[(placement.get("execution_id"), placement.get("client_id"))] = str(error)
    summaries = []
    for ref in state.get("executions", []):
        execution_id = ref["execution_id"]
        # one Query of the execution's orders serves the sweep and the outcome
        orders = ctx.repos.orders.list_for_execution(ref["user_id"], execution_id)
        changed = settle_unplaced(ctx, ref["user_id"], execution_id,
                                  {client: error for (eid, client), error in errors.items() if eid == execution_id},
                                  orders)
        if changed:
            fresh = {o.order_key: o for o in changed}
            orders = [fresh.get(o.order_key, o) for o in orders]
        execution = ctx.repos.executions.get_by_id(ref["user_id"], execution_id)
        orders = [o for o in orders if o.purpose in (OrderPurpose.ENTRY, OrderPurpose.EXIT)]
        accepted = [o for o in orders if o.status in ACCEPTED]
        rejected = [o for o in orders if o.status in (OrderStatus.REJECTED, OrderStatus.CANCELLED)]
        not_sent = [o for o in orders if o.status is OrderStatus.NOT_SENT]
        unknown = [o for o in orders if o.status in (OrderStatus.UNKNOWN, OrderStatus.PENDING, OrderStatus.SENT)]
        reasons = list(execution.reasons)
        reasons += [note for note in notes.get(execution_id, []) if note not in reasons]
        # one problem per account, leg, status and message (slices of a leg are counted, not
        # listed): the state, the stored execution and the alert stay small at any size (C1)
        grouped: dict[tuple, dict[str, Any]] = {}
        for order in rejected + not_sent + unknown:
            key = (order.client_id, order.leg_no, order.transaction_type.value, order.status.value,
                   order.broker_message or "no message")
            entry = grouped.setdefault(key, {
                "client_id": order.client_id, "leg_no": order.leg_no, "tradingsymbol": order.tradingsymbol,
                "transaction_type": order.transaction_type.value, "status": order.status.value,
                "reason": order.broker_message or "no message", "orders": 0, "quantity": 0})
            entry["orders"] += 1
            entry["quantity"] += order.quantity
        problems = list(grouped.values())
        for problem in problems[:MAX_REASONS]:
            slices = f" ({problem['orders']} orders, {problem['quantity']} units)" if problem["orders"] > 1 else ""
            reason = (f"{problem['client_id']} leg {problem['leg_no']} {problem['transaction_type']} "
                      f"{problem['tradingsymbol']}: {problem['status']} - {problem['reason'][:300]}{slices}")
            if reason not in reasons:
                reasons.append(reason)
        if len(problems) > MAX_REASONS:
            reasons.append(f"... and {len(problems) - MAX_REASONS} more account/leg problems (see the orders)")
        for (eid, client_id), error in errors.items():
            if eid == execution_id:
                note = f"{client_id}: PlaceOrders branch failed: {error}"
                if note not in reasons:
                    reasons.append(note)
        lags = sorted(o.lag_ms for o in orders if o.lag_ms is not None)
        if execution.execution_type is ExecutionType.EXIT and lags and lags[-1] > 1000:
            late = f"exit orders went out late: up to {lags[-1]:.0f} ms after execute_at"
            if late not in reasons:
                reasons.append(late)
        branch_failed = any(eid == execution_id for eid, _ in errors)
        if execution.status in (ExecutionStatus.SKIPPED, ExecutionStatus.FAILED) and not orders and not branch_failed:
            status = execution.status
        elif orders and len(accepted) == len(orders) and not branch_failed:
            status = ExecutionStatus.COMPLETED
        elif accepted:
            status = ExecutionStatus.PARTIAL
        else:
            status = ExecutionStatus.FAILED
        premium = sum(((o.average_price or Decimal(0)) * o.filled_quantity *
                       (1 if o.transaction_type is TransactionType.SELL else -1)) for o in orders)
        results = ExecutionResults(
            successful_orders=len(accepted), failed_orders=len(rejected) + len(not_sent), unknown_orders=len(unknown),
            total_premium=premium, first_order_lag_ms=lags[0] if lags else None,
            last_order_lag_ms=lags[-1] if lags else None,
            execution_time_ms=(now - execution.execute_at).total_seconds() * 1000,
        )
        saved = ctx.repos.executions.save(execution.model_copy(update={
            "status": status, "completed_at": now, "reasons": reasons, "results": results}), execution.version)
        summary = {"execution_id": saved.execution_id, "user_id": saved.user_id, "strategy_id": saved.strategy_id,
                   "execution_type": saved.execution_type.value, "status": status.value, "reasons": reasons,
                   "orders": len(orders), "accepted": len(accepted), "rejected": len(rejected),
                   "not_sent": len(not_sent), "unknown": len(unknown),
                   "accounts": sorted({p["client_id"] for p in problems}),
                   "first_order_lag_ms": results.first_order_lag_ms, "last_order_lag_ms": results.last_order_lag_ms}
        summaries.append(summary)
        if any(o.status in ACCEPTED or o.status is OrderStatus.UNKNOWN for o in orders):
            # the per-minute poller, stop-loss and duplicate checks follow this strategy from now on
            watch(ctx.repos, saved.user_id, saved.strategy_id, saved.trade_date, now)
        ctx.publisher.publish(SOURCE_ENGINE, EXECUTION_COMPLETED, summary)
        if status in (ExecutionStatus.PARTIAL, ExecutionStatus.FAILED) or unknown or not_sent or problems:
            ctx.publisher.publish(SOURCE_ENGINE, ORDER_ALERT, {**summary, "problems": problems[:50]})
        ctx.metric("Executions", 1, "Count", {"status": status.value})
        ctx.observer({"event": "execution", **summary})
    return {"run_id": state.get("run_id"), "execution_type": state.get("execution_type"),
            "trade_date": state.get("trade_date"), "results": summaries}


def execute_at_for(trade_date: date, slot: str) -> datetime:
    """The target instant (aware IST) of slot ``HH:MM`` on ``trade_date``."""
    return ist_datetime(trade_date, slot)


__all__ = ["prepare", "resolve", "place_orders", "finalize", "execute_at_for", "epoch_ms", "utc_iso_ms", "IST"]
