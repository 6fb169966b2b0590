"""A trader's actions on live orders, executions and positions (issue 18; seed 000 story #26
"order modification", seed 001's execution-engine API):

- ``cancel_order``: cancel a working order at the broker (POST /options/orders/{order_id}/cancel);
- ``modify_order``: change a working order's price, trigger or quantity within the broker's rules
  (POST /options/orders/{order_id}/modify);
- ``cancel_execution``: stop a pending execution before anything is sent
  (POST /options/executions/{execution_id}/cancel);
- ``close_position``: close one position now, through the engine's exit path
  (POST /options/positions/{position_id}/close);
- ``live_positions``: open positions with LTP, MTM and the stop at the broker
  (GET /options/positions/live).

Every action goes through what the engine itself uses (no second path to a broker):

- the account's broker client from the engine context (``ctx.clients``): paper, the broker
  adapters, their per-account rate limiter (``shared_utils.brokers.ratelimit``: place, modify and
  cancel share the account's ``orders`` bucket) and the egress route;
- the kill switch (``execution.guards.kill_switch_problem``): a cancel and a close reduce risk and
  are always allowed; a modify that INCREASES risk is refused while a switch is on;
- the exit path (``execution.exits``): a close cancels the position's stop first and learns from
  one order-book read what filled meanwhile (``cancel_working``), reads the broker's net position
  (``closable_at_broker``, invariant I4), and sends a protected closing order through the placer
  (``close_positions`` -> ``placer.place_orders``: intent first, deterministic key, reconcile by
  tag); a long that hedges an open short of the same account is not sold alone (I3);
- the booking path (``execution.lifecycle.apply_broker_report``): what the broker answers is
  applied to the stored order exactly as the poller would;
- an audit trail: one ``AUDIT#`` item per action (who, when, what was asked, what the broker
  said, the outcome) and a line on the order's ``status_history``.

Refusals raise :class:`~shared_utils.errors.Conflict` (409) with the reason in words: a final
order, an order not at the broker yet, an order of a running execution step, the broker's modify
rules (tick, lot, trigger side, filled quantity, no price on a MARKET order), a kill switch, the
broker's own refusal (its message quoted). When the broker cannot be reached the action raises
:class:`BrokerUnreachable` (503). Unknown ids (or another user's) raise ``NotFound`` (404).

Money is Decimal rupees on the contract's tick; quantities are units; instants UTC on the wire.
Sources of the broker rules: ../shared/reference/broker-samples/kite/place_order_params.json
(``modify_order`` parameters: quantity, price, order_type, trigger_price; variety/product/side/
symbol cannot change), kite/order_statuses.json (working states), README fact 2 (MARKET orders
carry market protection, no price), and the fakes that refuse the same (local/fakes/core.py:
tick and lot multiples, only OPEN / TRIGGER PENDING orders modifiable or cancellable).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from shared_utils.brokers.errors import BrokerError, OrderNotFound, OrderRejected, SessionExpired
from shared_utils.clock import IST, to_ist, utc_iso_ms
from shared_utils.errors import Conflict, InvalidRequest
from shared_utils.models.enums import (
    ExecutionStatus,
    ExecutionType,
    OrderPurpose,
    OrderStatus,
    OrderType,
    TransactionType,
)
from shared_utils.models.execution import Execution, OrderRecord, Position
from shared_utils.persistence import keys
from shared_utils.persistence.repositories import NotFound, VersionConflict

#: an execution in one of these states is running a step (Prepare claimed it .. Finalize)
RUNNING = frozenset({ExecutionStatus.CLAIMED, ExecutionStatus.IN_PROGRESS})
#: working at the broker (modifiable / cancellable there)
AT_BROKER = frozenset({OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING, OrderStatus.PARTIALLY_FILLED})
#: key attempts of manual closes of one leg under its entry execution (the engine's square-off
#: uses 1 and a crossed stop's exit 2: ``stops.STOP_CROSSED_ATTEMPT``); one attempt per close
MANUAL_CLOSE_FIRST_ATTEMPT = 10
MANUAL_CLOSE_LAST_ATTEMPT = 99
#: the flag a manual close puts on its closing orders (the order list shows "closed by hand")
MANUAL_FLAG = "MANUAL_CLOSE"
#: separator of a position id's parts (never in a strategy id, client id or symbol: keys._ID_RE)
POSITION_ID_SEP = "~"
AUDIT_PREFIX = "AUDIT"


class BrokerUnreachable(Exception):
    """503: the broker (or the account's session) could not be reached; nothing was changed
    there as far as the platform knows. ``str()`` says why."""


def position_id(position: Position) -> str:
    """Public id of a position: ``{strategy_id}~{client_id}~{tradingsymbol}``."""
    return POSITION_ID_SEP.join((position.strategy_id, position.client_id, position.tradingsymbol))


def parse_position_id(value: str) -> tuple[str, str, str]:
    """(strategy_id, client_id, tradingsymbol) of a position id. Raises NotFound when malformed."""
    parts = value.split(POSITION_ID_SEP)
    if len(parts) != 3:
        raise NotFound(f"position {value} not found")
    try:
        for part, name in zip(parts, ("strategy_id", "client_id", "tradingsymbol")):
            keys.check_id(part, name)
    except ValueError as exc:
        raise NotFound(f"position {value} not found") from exc
    return parts[0], parts[1], parts[2]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _broker_message(exc: BaseException) -> str:
    return str(getattr(exc, "broker_message", None) or exc)


@dataclass
class ModifyChange:
    """What a modify asks for (None = keep): prices in rupees, quantity in units."""

    price: Decimal | None = None
    trigger_price: Decimal | None = None
    quantity: int | None = None


class OrderActions:
    """The actions above for one engine context (``shared_utils.services.market_status.api_context``
    in the API: the deployed engine's composition root, or the local platform's engine)."""

    def __init__(self, ctx: Any, repos: Any = None) -> None:
        """``repos``: the tables to act on when they are not ``ctx.repos`` (the API passes the
        handlers' own repositories; the engine functions called with ``self.ctx`` see them too)."""
        if repos is not None and repos is not ctx.repos:
            import dataclasses

            ctx = dataclasses.replace(ctx, repos=repos)
        self.ctx = ctx
        self.repos = ctx.repos
        self.clock = ctx.clock

    # ------------------------------------------------------------------ lookups
    def order(self, user_id: str, order_id: str) -> OrderRecord:
        """The caller's order by its public id (the platform's broker tag). Raises NotFound."""
        try:
            keys.check_id(order_id, "order_id")
        except ValueError as exc:
            raise NotFound(f"order {order_id} not found") from exc
        found = self.repos.orders.by_tag(order_id)
        if found is None or found.user_id != user_id:
            raise NotFound(f"order {order_id} not found")
        return self.repos.orders.get(user_id, found.order_key)  # the index copy lags: read the item

    def _client(self, user_id: str, client_id: str) -> Any:
        try:
            account = self.repos.accounts.get(user_id, client_id)
        except LookupError as exc:
            raise Conflict(f"broker account {client_id} is no longer linked") from exc
        try:
            return self.ctx.clients.client_for(account)
        except (BrokerError, LookupError) as exc:
            raise BrokerUnreachable(f"no usable broker session for {client_id}: {_broker_message(exc)}") from exc

    def _running_step(self, order: OrderRecord) -> str | None:
        """Why ``order`` belongs to a running execution step (its own execution claimed or in
        progress, for an ENTRY/EXIT order; the strategy's exit running today, for any order)."""
        if order.purpose in (OrderPurpose.ENTRY, OrderPurpose.EXIT):
            try:
                execution = self.repos.executions.get_by_id(order.user_id, order.execution_id)
            except (LookupError, ValueError):
                execution = None
            if execution is not None and execution.status in RUNNING:
                return (f"it belongs to the running {execution.execution_type.value.lower()} {execution.execution_id} "
                        f"({execution.status.value}); the engine decides its orders until the step ends")
        today = to_ist(self.clock.now()).date()
        exit_ = self.repos.executions.get(order.user_id, order.strategy_id, ExecutionType.EXIT, today)
        if exit_ is not None and exit_.status in RUNNING and exit_.execution_id != order.execution_id:
            return (f"the strategy's exit {exit_.execution_id} is running ({exit_.status.value}): it cancels and "
                    "closes this leg itself")
        return None

    def _check_actionable(self, order: OrderRecord, action: str) -> None:
        if order.status in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.NOT_SENT):
            raise Conflict(f"order {order.tag} is {order.status.value}: a final order cannot be {action}",
                           [f"{order.tradingsymbol} {order.transaction_type.value} {order.quantity} "
                            f"({order.purpose.value}) is final ({order.status.value})"])
        if order.status in (OrderStatus.PENDING, OrderStatus.SENT, OrderStatus.UNKNOWN) or not order.broker_order_id:
            raise Conflict(f"order {order.tag} is {order.status.value}: it is not known at the broker yet, so it "
                           f"cannot be {action}; the engine reconciles it by tag")
        running = self._running_step(order)
        if running:
            raise Conflict(f"order {order.tag} cannot be {action} now: {running}", [running])

    # ------------------------------------------------------------------ audit
    def audit(self, user_id: str, actor: str, action: str, target: str, request: dict[str, Any],
              outcome: str, broker_message: str | None = None, **extra: Any) -> str:
        """Store one audit item (``AUDIT#{utc instant}#{id}`` in the user's partition): who,
        when, what was asked, the outcome and what the broker said. Returns its id."""
        now = self.clock.now()
        audit_id = uuid.uuid4().hex[:16]
        item = {"user_id": user_id, "sort_key": f"{AUDIT_PREFIX}#{utc_iso_ms(now)}#{audit_id}",
                "entity_type": AUDIT_PREFIX, "audit_id": audit_id, "at": utc_iso_ms(now), "actor": actor,
                "action": action, "target": target, "request": {k: str(v) for k, v in request.items() if v is not None},
                "outcome": outcome, "broker_message": broker_message or "",
                **{k: v for k, v in extra.items() if v is not None}}
        self.repos.orders.table.put(item)
        return audit_id

    def audit_trail(self, user_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The user's audit items, newest first."""
        items = list(self.repos.orders.table.query_all(user_id, f"{AUDIT_PREFIX}#"))
        return sorted(items, key=lambda i: i["sort_key"], reverse=True)[:limit]

    def _note(self, order: OrderRecord, action: str, actor: str, message: str) -> OrderRecord:
        """Add a line on the order's status history (the order's own trail); re-read on a race."""
        current = order
        for _ in range(5):
            entry = {"at": self.clock.now().isoformat(), "from": current.status.value, "to": current.status.value,
                     "message": message, "action": action, "by": actor}
            try:
                return self.repos.orders.save(current.model_copy(
                    update={"status_history": (list(current.status_history) + [entry])[-20:]}), current.version)
            except VersionConflict:
                current = self.repos.orders.get(order.user_id, order.order_key)
        return current

    def _read_back(self, client: Any, order: OrderRecord, follow_up: bool = True) -> OrderRecord | None:
        """The broker's report of ``order`` from one order-book read, applied through the engine's
        booking path; None when the book could not be read."""
        from shared_utils.execution.exits import find_in_book, read_book
        from shared_utils.execution.lifecycle import apply_broker_report

        try:
            book = read_book(client)
        except BrokerError:
            return None
        report = find_in_book(book, order)
        if report is None:
            return None
        current = self.repos.orders.get(order.user_id, order.order_key)
        return apply_broker_report(self.ctx, current, report, self.clock.now(), client, follow_up=follow_up)

    # ------------------------------------------------------------------ cancel an order
    def cancel_order(self, user_id: str, order_id: str, actor: str) -> dict[str, Any]:
        """Cancel a working order at the broker. Allowed under a kill switch (it reduces risk).

        Returns the order's state after the broker's answer: ``{"order_id", "action": "CANCEL",
        "status", "filled_quantity", "quantity", "price", "trigger_price", "broker_message",
        "audit_id", "at", "warnings"}`` (a stop that filled before the cancel arrived comes back
        FILLED with a warning: the position was closed by it).

        Raises NotFound, Conflict (final, not at the broker yet, running step, broker refused),
        BrokerUnreachable.
        """
        from shared_utils.execution.booking import save_report

        order = self.order(user_id, order_id)
        self._check_actionable(order, "cancelled")
        client = self._client(user_id, order.client_id)
        request = {"broker_order_id": order.broker_order_id}
        try:
            client.cancel_order(order.broker_order_id)
        except (OrderRejected, OrderNotFound) as exc:
            after = self._read_back(client, order) or order
            message = _broker_message(exc)
            audit_id = self.audit(user_id, actor, "CANCEL_ORDER", order.tag, request, "REFUSED_BY_BROKER", message,
                                  status=after.status.value)
            raise Conflict(f"the broker refused to cancel order {order.tag}: {message}",
                           [f"the order is {after.status.value} (audit {audit_id})"]) from exc
        except BrokerError as exc:
            # the outcome is not known (a lost answer, the broker down): the book tells
            after = self._read_back(client, order)
            if after is None or after.status in AT_BROKER:
                self.audit(user_id, actor, "CANCEL_ORDER", order.tag, request, "BROKER_UNREACHABLE", _broker_message(exc))
                raise BrokerUnreachable(f"the cancel of order {order.tag} did not go through: {_broker_message(exc)}; "
                                        "the order is still working, try again") from exc
            return self._answer(after, "CANCEL", self.audit(user_id, actor, "CANCEL_ORDER", order.tag, request,
                                                            after.status.value, _broker_message(exc)))
        after = self._read_back(client, order)
        if after is None:  # accepted, the book unreadable: recorded as the exits do
            after = save_report(self.repos, self.repos.orders.get(user_id, order.order_key), OrderStatus.CANCELLED,
                                order.filled_quantity, None, f"cancelled by {actor}", self.clock.now())
        after = self._note(after, "CANCEL", actor, f"cancel asked by {actor}; the broker reports {after.status.value}")
        audit_id = self.audit(user_id, actor, "CANCEL_ORDER", order.tag, request, after.status.value,
                              after.broker_message)
        return self._answer(after, "CANCEL", audit_id)

    def _answer(self, order: OrderRecord, action: str, audit_id: str, warnings: list[str] | None = None) -> dict[str, Any]:
        warnings = list(warnings or [])
        if action == "CANCEL" and order.status is OrderStatus.FILLED:
            warnings.append(f"the order filled at {order.average_price} before the cancel reached the broker")
        if action == "CANCEL" and order.status is OrderStatus.CANCELLED and order.purpose is OrderPurpose.STOP_LOSS:
            warnings.append(f"{order.client_id} leg {order.leg_no} {order.tradingsymbol} has no stop at the broker now; "
                            "the platform does not place it again")
        return {"order_id": order.tag, "action": action, "status": order.status.value,
                "purpose": order.purpose.value, "client_id": order.client_id, "tradingsymbol": order.tradingsymbol,
                "transaction_type": order.transaction_type.value, "order_type": order.order_type.value,
                "quantity": order.quantity, "filled_quantity": order.filled_quantity,
                "price": _money(order.price), "trigger_price": _money(order.trigger_price),
                "average_price": _money(order.average_price), "broker_order_id": order.broker_order_id,
                "broker_message": order.broker_message, "audit_id": audit_id, "at": utc_iso_ms(self.clock.now()),
                "warnings": warnings}

    # ------------------------------------------------------------------ modify an order
    def _tick(self, order: OrderRecord) -> Decimal:
        from shared_utils.execution.stops import tick_of

        return order.tick_size or tick_of(self.ctx, order)

    def modify_problems(self, order: OrderRecord, change: ModifyChange) -> list[str]:
        """The broker's modify rules and the platform's safety rules, checked before sending.
        Returns one sentence per problem (empty: the modify may be sent)."""
        problems: list[str] = []
        tick = self._tick(order)
        price = change.price if change.price is not None else order.price
        trigger = change.trigger_price if change.trigger_price is not None else order.trigger_price
        if change.price is not None:
            if order.order_type in (OrderType.MARKET, OrderType.SL_M):
                problems.append(f"a {order.order_type.value} order has no limit price to change (Kite: market orders "
                                "carry market protection, not a price)")
            elif change.price <= 0:
                problems.append("price must be above 0")
            elif change.price % tick:
                problems.append(f"price {change.price} is not a multiple of the tick size {tick}")
        if change.trigger_price is not None:
            if order.order_type not in (OrderType.SL, OrderType.SL_M):
                problems.append(f"a {order.order_type.value} order has no trigger price (only SL and SL-M orders do)")
            elif change.trigger_price <= 0:
                problems.append("trigger_price must be above 0")
            elif change.trigger_price % tick:
                problems.append(f"trigger_price {change.trigger_price} is not a multiple of the tick size {tick}")
        if (order.order_type is OrderType.SL and price is not None and trigger is not None and not problems):
            if order.transaction_type is TransactionType.BUY and trigger > price:
                problems.append(f"a BUY stop-loss needs trigger_price <= price (trigger {trigger}, price {price})")
            if order.transaction_type is TransactionType.SELL and trigger < price:
                problems.append(f"a SELL stop-loss needs trigger_price >= price (trigger {trigger}, price {price})")
        if change.quantity is not None:
            if change.quantity <= 0:
                problems.append("quantity must be above 0")
            elif order.lot_size and change.quantity % order.lot_size:
                problems.append(f"quantity {change.quantity} is not a multiple of the lot size {order.lot_size}")
            elif change.quantity <= order.filled_quantity:
                problems.append(f"quantity {change.quantity} must stay above the {order.filled_quantity} units "
                                "already filled (cancel the order to stop the rest)")
            else:
                problems += self._quantity_problems(order, change.quantity)
        return problems

    def _quantity_problems(self, order: OrderRecord, quantity: int) -> list[str]:
        """A closing order (stop, target, exit) never closes more than the position holds (it would
        open the other side: a SELL beyond a long is a naked short); no order above the freeze
        quantity (the exchange refuses it; a modify cannot be sliced)."""
        from shared_utils.analytics.charges import underlying_of
        from shared_utils.market.freeze import freeze_quantity

        problems = []
        if order.purpose in (OrderPurpose.STOP_LOSS, OrderPurpose.TARGET, OrderPurpose.EXIT):
            position = self.repos.positions.get(order.user_id, order.strategy_id, order.client_id, order.tradingsymbol)
            held = abs(position.quantity) if position is not None else 0
            if quantity - order.filled_quantity > held:
                problems.append(f"quantity {quantity} would close more than the {held} units held in "
                                f"{order.tradingsymbol} (the rest would open a new position)")
        underlying = underlying_of(order.tradingsymbol)
        freeze = freeze_quantity(underlying, to_ist(self.clock.now()).date()) if underlying else None
        if freeze and quantity > freeze:
            problems.append(f"quantity {quantity} is above the exchange's freeze quantity {freeze} for {underlying}")
        return problems

    @staticmethod
    def increases_risk(order: OrderRecord, change: ModifyChange) -> list[str]:
        """How ``change`` would increase the account's risk (empty: it does not).

        An ENTRY order opens risk: more quantity, or a more marketable price (BUY higher, SELL
        lower). A closing order (stop, target, exit) removes risk: less quantity, a trigger moved
        away from the market (BUY stop higher, SELL stop lower), a stop-limit whose limit buffer
        narrows relative to its trigger, or a less marketable limit on a LIMIT closing order (BUY
        lower, SELL higher) leaves more risk on."""
        buy = order.transaction_type is TransactionType.BUY
        why = []
        if order.purpose is OrderPurpose.ENTRY:
            if change.quantity is not None and change.quantity > order.quantity:
                why.append(f"quantity up from {order.quantity} to {change.quantity} on an entry")
            if change.price is not None and order.price is not None and (
                    change.price > order.price if buy else change.price < order.price):
                why.append(f"entry price made more marketable ({order.price} -> {change.price})")
            return why
        if change.quantity is not None and change.quantity < order.quantity:
            why.append(f"closing quantity down from {order.quantity} to {change.quantity}")
        if change.trigger_price is not None and order.trigger_price is not None and (
                change.trigger_price > order.trigger_price if buy else change.trigger_price < order.trigger_price):
            why.append(f"stop trigger moved away from the market ({order.trigger_price} -> {change.trigger_price})")
        if order.order_type is OrderType.SL and order.price is not None and order.trigger_price:
            # a stop-limit's limit rides on its trigger: what matters is the buffer between them
            # (relative to the trigger, as stops.stop_prices sets it): a narrower one may not fill
            # when the price gaps through the trigger
            trigger = change.trigger_price if change.trigger_price is not None else order.trigger_price
            price = change.price if change.price is not None else order.price
            before = (order.price - order.trigger_price if buy else order.trigger_price - order.price) / order.trigger_price
            after = (price - trigger if buy else trigger - price) / trigger
            if after < before:
                why.append(f"stop-limit buffer narrowed from {before:.2%} to {after:.2%} of the trigger")
        elif change.price is not None and order.price is not None and (
                change.price < order.price if buy else change.price > order.price):
            why.append(f"closing limit made less marketable ({order.price} -> {change.price})")
        return why

    def modify_order(self, user_id: str, order_id: str, change: ModifyChange, actor: str) -> dict[str, Any]:
        """Change a working order's price, trigger and/or quantity at the broker.

        Checked before the broker is called (409 with every reason): final / not at the broker /
        running step; the broker's rules (``modify_problems``); under a kill switch, a change that
        increases risk (``increases_risk``). The broker's refusal is a 409 quoting it. On success
        the stored order carries the new values and the broker's state (a modify can fill it).

        Returns the same shape as :meth:`cancel_order` with ``action`` "MODIFY".
        """
        from shared_utils.execution.guards import kill_switch_problem

        if change.price is None and change.trigger_price is None and change.quantity is None:
            raise InvalidRequest.field(("body",), "nothing to change: give price, trigger_price and/or quantity")
        order = self.order(user_id, order_id)
        self._check_actionable(order, "modified")
        unchanged = (change.price in (None, order.price) and change.trigger_price in (None, order.trigger_price)
                     and change.quantity in (None, order.quantity))
        if unchanged:
            raise InvalidRequest.field(("body",), "nothing to change: the order already has these values")
        problems = self.modify_problems(order, change)
        request = {"broker_order_id": order.broker_order_id, "price": change.price,
                   "trigger_price": change.trigger_price, "quantity": change.quantity}
        if problems:
            self.audit(user_id, actor, "MODIFY_ORDER", order.tag, request, "REFUSED", "; ".join(problems))
            raise Conflict(f"order {order.tag} cannot be modified that way", problems)
        riskier = self.increases_risk(order, change)
        if riskier:
            switch = kill_switch_problem(self.repos, user_id, ExecutionType.ENTRY, order.client_id)
            if switch:
                reasons = [switch] + riskier
                self.audit(user_id, actor, "MODIFY_ORDER", order.tag, request, "REFUSED_KILL_SWITCH", "; ".join(reasons))
                raise Conflict(f"order {order.tag}: a change that increases risk is refused while a kill switch is on",
                               reasons)
        from shared_utils.brokers.models import ModifyRequest

        client = self._client(user_id, order.client_id)
        try:
            client.modify_order(ModifyRequest(order_id=order.broker_order_id, quantity=change.quantity,
                                              price=change.price, trigger_price=change.trigger_price))
        except (OrderRejected, OrderNotFound, SessionExpired) as exc:
            self._read_back(client, order)
            message = _broker_message(exc)
            audit_id = self.audit(user_id, actor, "MODIFY_ORDER", order.tag, request, "REFUSED_BY_BROKER", message)
            raise Conflict(f"the broker refused to modify order {order.tag}: {message}", [f"audit {audit_id}"]) from exc
        except BrokerError as exc:
            self.audit(user_id, actor, "MODIFY_ORDER", order.tag, request, "BROKER_UNREACHABLE", _broker_message(exc))
            raise BrokerUnreachable(f"the modify of order {order.tag} did not go through: {_broker_message(exc)}; "
                                    "read the order before trying again") from exc
        current = self.repos.orders.get(user_id, order.order_key)
        updates: dict[str, Any] = {}
        if change.price is not None:
            updates["price"] = change.price
        if change.trigger_price is not None:
            updates["trigger_price"] = change.trigger_price
        if change.quantity is not None:
            updates["quantity"] = change.quantity
            if order.lot_size:
                updates["lots"] = change.quantity // order.lot_size
        described = ", ".join(f"{k} {getattr(order, k)} -> {v}" for k, v in updates.items() if k != "lots")
        for _ in range(5):
            entry = {"at": self.clock.now().isoformat(), "from": current.status.value, "to": current.status.value,
                     "message": f"modified by {actor}: {described}", "action": "MODIFY", "by": actor}
            try:
                current = self.repos.orders.save(current.model_copy(update={
                    **updates, "status_history": (list(current.status_history) + [entry])[-20:]}), current.version)
                break
            except VersionConflict:
                current = self.repos.orders.get(user_id, order.order_key)
        after = self._read_back(client, current) or current
        audit_id = self.audit(user_id, actor, "MODIFY_ORDER", order.tag, request, after.status.value,
                              after.broker_message, change=described)
        return self._answer(after, "MODIFY", audit_id)

    # ------------------------------------------------------------------ cancel an execution
    def cancel_execution(self, user_id: str, execution_id: str, actor: str) -> dict[str, Any]:
        """Stop a pending ENTRY execution: afterwards nothing of it is sent. An EXIT is never
        cancelled (409): the engine's invariant "every position is exited" (the exit retry would
        close what a cancelled exit left open anyway).

        - not claimed yet (announced or scheduled, no record): a CANCELLED record is written as
          the day's claim, so Prepare finds it taken and skips the strategy;
        - CLAIMED (Prepare ran, no orders planned): the record turns CANCELLED (version-checked);
          Resolve plans nothing for a cancelled execution;
        - IN_PROGRESS with orders planned but no account's PlaceOrders claim taken yet: this
          action takes each account's placement claim itself (the same conditional put), so a
          PlaceOrders that starts later finds it taken and sends nothing, and the intents become
          NOT_SENT "cancelled by ...".

        Raises NotFound (no such execution of yours), Conflict (409: an exit; sending started
        for an account; the execution already ended: its status; a past day).
        Returns ``{"execution_id", "status": "CANCELLED", "previous_status", "orders_not_sent",
        "accounts", "audit_id", "message"}``.
        """
        from shared_utils.execution.placer import batch_id, mark_not_sent

        try:
            strategy_id, trade_date, execution_type = keys.parse_execution_id(execution_id)
        except (ValueError, KeyError) as exc:
            raise NotFound(f"execution {execution_id} not found") from exc
        strategy = self.repos.strategies.get(user_id, strategy_id)  # NotFound when not the caller's
        if execution_type is ExecutionType.EXIT:
            raise Conflict(f"execution {execution_id} is an exit: exits are never cancelled (every position is "
                           "exited; an exit that finds nothing to close sends nothing)",
                           ["to keep positions open longer, change the strategy's exit_time before the exit is due"])
        now = self.clock.now()
        today = to_ist(now).date()
        if trade_date < today:
            raise Conflict(f"execution {execution_id} is for {trade_date.isoformat()}, a past day")
        reason = f"cancelled by {actor} at {to_ist(now):%H:%M:%S} IST"
        existing = self.repos.executions.get(user_id, strategy_id, execution_type, trade_date)
        if existing is None:
            slot = strategy.entry_time if execution_type is ExecutionType.ENTRY else strategy.exit_time
            execute_at = datetime.combine(trade_date, time.fromisoformat(slot), tzinfo=IST)
            record = Execution(execution_id=execution_id, user_id=user_id, strategy_id=strategy_id,
                               basket_id=strategy.basket_id, execution_type=execution_type, trade_date=trade_date,
                               execution_time=slot, execute_at=execute_at, status=ExecutionStatus.CANCELLED,
                               trigger="MANUAL", claimed_by=f"cancelled-by-{actor}"[:64], claimed_at=now,
                               completed_at=now, reasons=[reason])
            if self.repos.executions.claim(record) is not None:
                audit_id = self.audit(user_id, actor, "CANCEL_EXECUTION", execution_id, {}, "CANCELLED", None,
                                      previous_status="NOT_CLAIMED")
                return {"execution_id": execution_id, "status": "CANCELLED", "previous_status": "SCHEDULED",
                        "orders_not_sent": 0, "accounts": [], "audit_id": audit_id,
                        "message": f"the {execution_type.value.lower()} of {trade_date.isoformat()} will not run: "
                                   f"{reason}"}
            existing = self.repos.executions.get(user_id, strategy_id, execution_type, trade_date)
        if existing.status is ExecutionStatus.CANCELLED:
            raise Conflict(f"execution {execution_id} is already cancelled", existing.reasons[-3:])
        if existing.status not in RUNNING:
            raise Conflict(f"execution {execution_id} already ended ({existing.status.value}): nothing left to cancel",
                           existing.reasons[-5:])
        orders = self.repos.orders.list_for_execution(user_id, execution_id)
        planned = [o for o in orders if o.attempt == 0 and o.purpose in (OrderPurpose.ENTRY, OrderPurpose.EXIT)]
        if existing.status is ExecutionStatus.CLAIMED and not planned:
            try:
                saved = self.repos.executions.save(existing.model_copy(update={
                    "status": ExecutionStatus.CANCELLED, "completed_at": now,
                    "reasons": existing.reasons + [reason]}), existing.version)
            except VersionConflict as exc:
                raise Conflict(f"execution {execution_id} moved on while it was being cancelled; read it and retry") from exc
            audit_id = self.audit(user_id, actor, "CANCEL_EXECUTION", execution_id, {}, "CANCELLED", None,
                                  previous_status=existing.status.value)
            return {"execution_id": execution_id, "status": saved.status.value, "previous_status": existing.status.value,
                    "orders_not_sent": 0, "accounts": [], "audit_id": audit_id,
                    "message": f"nothing will be sent: {reason}"}
        claims = self.repos.orders.placement_claims(user_id, execution_id)
        sending = sorted({c.get("client_id") for c in claims if not str(c.get("claimed_by", "")).startswith("cancel")})
        if sending or any(o.status is not OrderStatus.PENDING for o in planned):
            accounts = sending or sorted({o.client_id for o in planned if o.status is not OrderStatus.PENDING})
            raise Conflict(f"execution {execution_id}: sending started for {', '.join(accounts)}; it can no longer be "
                           "cancelled (cancel its working orders or close its positions instead)")
        stopped, lost = [], []
        for client_id in sorted({o.client_id for o in planned}):
            mine = [o for o in planned if o.client_id == client_id]
            if self.repos.orders.claim_placement(user_id, execution_id, client_id, batch_id(mine),
                                                 f"cancelled-by-{actor}"[:64], now):
                stopped.append(client_id)
                for order in mine:
                    mark_not_sent(self.repos, order, f"not sent: {reason}", "CANCELLED", now)
            else:
                lost.append(client_id)
        note = reason + (f"; sending had already started for {', '.join(lost)}" if lost else "")
        from shared_utils.execution.exits import add_reasons

        # re-read and retried when Finalize saved meanwhile (the note was dropped before)
        add_reasons(self.ctx, user_id, execution_id, [note])
        audit_id = self.audit(user_id, actor, "CANCEL_EXECUTION", execution_id, {},
                              "CANCELLED" if not lost else "PARTLY_CANCELLED", None, accounts=",".join(stopped))
        if lost:
            raise Conflict(f"execution {execution_id}: stopped for {', '.join(stopped) or 'no account'}, but sending "
                           f"had already started for {', '.join(lost)}", [f"audit {audit_id}"])
        return {"execution_id": execution_id, "status": "CANCELLED", "previous_status": existing.status.value,
                "orders_not_sent": sum(1 for o in planned), "accounts": stopped, "audit_id": audit_id,
                "message": f"nothing will be sent: {reason}"}

    # ------------------------------------------------------------------ close a position
    def _protected_short(self, position: Position) -> Position | None:
        """An open short of the same account that would be left uncovered if ``position`` (a
        long) were sold now: the account's shorts with the long's cover key (same underlying,
        expiry and CE/PE: ``exits._cover_key``; every short when a contract is unknown), over
        every strategy of the user, are more than the other longs of that key. None for a short
        or when the remaining longs still cover them."""
        from shared_utils.execution.exits import _cover_key

        if position.quantity <= 0:
            return None
        key = _cover_key(self.ctx, position)
        held = [p for p in self.repos.positions.list(position.user_id, client_id=position.client_id) if p.quantity]
        same = [p for p in held if key is None or _cover_key(self.ctx, p) in (key, None)]
        shorts = [p for p in same if p.quantity < 0]
        remaining = sum(p.quantity for p in same if p.quantity > 0 and not (
            p.strategy_id == position.strategy_id and p.tradingsymbol == position.tradingsymbol))
        if shorts and sum(-p.quantity for p in shorts) > remaining:
            return shorts[0]
        return None

    def close_position(self, user_id: str, pos_id: str, actor: str) -> dict[str, Any]:
        """Close one position now through the engine's exit path, recorded as a manual exit.

        1. refused (409) when the strategy's entry or exit is running, when the position is flat,
           or when it is a long that hedges an open short of the account (close the short first:
           shorts are bought back before longs are sold, I3);
        2. its stop (and any working order of the leg) is cancelled first and the book read back
           (``exits.cancel_working``): a stop that filled meanwhile already closed it; a stop whose
           cancel cannot be confirmed keeps protecting it and the close is refused;
        3. the broker's net position is read (``exits.closable_at_broker``): only what the broker
           really holds is closed;
        4. the closing order (protected: the leg's LIMIT with exit slippage, or MARKET with market
           protection; sliced at the freeze quantity) goes through the placer under the entry's
           execution, purpose EXIT, key attempt 10.. (one per manual close), flagged MANUAL_CLOSE.

        Allowed under a kill switch (it reduces risk). Returns ``{"position_id", "strategy_id",
        "client_id", "tradingsymbol", "quantity_before", "quantity_after", "cancelled_orders",
        "orders", "reasons", "audit_id"}``.
        """
        from shared_utils.execution.exits import cancel_working, close_positions, closable_at_broker
        from shared_utils.execution.guards import session_problem

        strategy_id, client_id, symbol = parse_position_id(pos_id)
        position = self.repos.positions.get(user_id, strategy_id, client_id, symbol)
        if position is None:
            raise NotFound(f"position {pos_id} not found")
        if not position.quantity:
            raise Conflict(f"position {pos_id} is already flat: nothing to close")
        now = self.clock.now()
        today = to_ist(now).date()
        for kind in ExecutionType:
            running = self.repos.executions.get(user_id, strategy_id, kind, today)
            if running is not None and running.status in RUNNING:
                raise Conflict(f"the strategy's {kind.value.lower()} {running.execution_id} is running "
                               f"({running.status.value}); close the position once it has finished")
        exchange = "BSE" if position.exchange == "BFO" else "NSE"
        closed_market = session_problem(self.ctx.calendar, now, exchange)
        if closed_market:
            raise Conflict(f"position {pos_id} cannot be closed now: {closed_market}")
        short = self._protected_short(position)
        if short is not None:
            raise Conflict(f"position {pos_id} is a long that hedges the open short {short.tradingsymbol} "
                           f"({short.quantity}) of {client_id}: close the short first, so no short is left naked",
                           [f"shorts are bought back before longs are sold (short position "
                            f"{position_id(short)})"])
        request = {"quantity": position.quantity}
        cancels = cancel_working(self.ctx, user_id, strategy_id, today, client_ids={client_id}, legs={position.leg_no})
        stuck = [(o, why) for o, why in cancels.failed if o.tradingsymbol == symbol]
        if stuck:
            reasons = [f"{o.purpose.value} order {o.tag}: {why}" for o, why in stuck]
            self.audit(user_id, actor, "CLOSE_POSITION", pos_id, request, "REFUSED_CANCEL_FAILED", "; ".join(reasons))
            raise Conflict(f"position {pos_id}: its working orders could not be cancelled, so it is not closed "
                           "twice (the stop keeps protecting it); try again", reasons)
        reasons = [f"{o.purpose.value} order {o.tag} filled at {o.average_price} before its cancel"
                   for o in cancels.filled if o.tradingsymbol == symbol]
        position = self.repos.positions.get(user_id, strategy_id, client_id, symbol)
        before = position.quantity if position else 0
        orders: list[dict[str, Any]] = []
        if position is not None and position.quantity:
            closable, mismatches = closable_at_broker(self.ctx, user_id, strategy_id, [position], today)
            reasons += mismatches
            if closable:
                execution_id = position.entry_execution_id or keys.execution_id(strategy_id, ExecutionType.ENTRY, today)
                attempt = self._next_close_attempt(user_id, execution_id, client_id, position.leg_no)
                results = close_positions(self.ctx, user_id, strategy_id, execution_id, closable, today, attempt, now)
                for result in results:
                    orders += result.get("orders", [])
                    if result.get("error"):
                        reasons.append(str(result["error"]))
                self._flag_manual(user_id, [o["order_key"] for o in orders], actor)
            elif not mismatches:
                reasons.append("nothing to close at the broker")
        else:
            reasons.append("the position was closed by its own order before the close was sent")
        after = self.repos.positions.get(user_id, strategy_id, client_id, symbol)
        self._note_entry(user_id, position or after, actor, before, orders)
        outcome = ",".join(sorted({o["status"] for o in orders})) or "NOTHING_SENT"
        audit_id = self.audit(user_id, actor, "CLOSE_POSITION", pos_id, request, outcome, "; ".join(
            o.get("message") or "" for o in orders if o.get("message")) or None)
        return {"position_id": pos_id, "strategy_id": strategy_id, "client_id": client_id, "tradingsymbol": symbol,
                "quantity_before": before, "quantity_after": after.quantity if after else 0,
                "cancelled_orders": [o.tag for o in cancels.cancelled],
                "orders": [{"order_id": keys.order_tag(o["order_key"]), "transaction_type": o["transaction_type"],
                            "quantity": o["quantity"], "price": o.get("price"), "average_price": o.get("average_price"),
                            "status": o["status"], "message": o.get("message")} for o in orders],
                "reasons": reasons, "audit_id": audit_id}

    def _next_close_attempt(self, user_id: str, execution_id: str, client_id: str, leg_no: int) -> int:
        used = [o.attempt for o in self.repos.orders.list_for_execution(user_id, execution_id, client_id)
                if o.leg_no == leg_no and o.purpose is OrderPurpose.EXIT and o.attempt >= MANUAL_CLOSE_FIRST_ATTEMPT]
        attempt = max(used, default=MANUAL_CLOSE_FIRST_ATTEMPT - 1) + 1
        if attempt > MANUAL_CLOSE_LAST_ATTEMPT:
            raise Conflict(f"leg {leg_no} of {client_id} was closed by hand {len(used)} times today; close it at the broker")
        return attempt

    def _flag_manual(self, user_id: str, order_keys: list[str], actor: str) -> None:
        for order_key in order_keys:
            for _ in range(5):
                order = self.repos.orders.get(user_id, order_key)
                if MANUAL_FLAG in order.flags:
                    break
                entry = {"at": self.clock.now().isoformat(), "from": order.status.value, "to": order.status.value,
                         "message": f"manual close by {actor}", "action": "CLOSE", "by": actor}
                try:
                    self.repos.orders.save(order.model_copy(update={
                        "flags": order.flags + [MANUAL_FLAG],
                        "status_history": (list(order.status_history) + [entry])[-20:]}), order.version)
                    break
                except VersionConflict:
                    continue

    def _note_entry(self, user_id: str, position: Position | None, actor: str, before: int,
                    orders: list[dict[str, Any]]) -> None:
        """The manual exit in the entry execution's reasons (the execution's story shows it)."""
        if position is None or not position.entry_execution_id or not orders:
            return
        statuses = ", ".join(sorted({o["status"] for o in orders}))
        note = (f"manual close by {actor} at {to_ist(self.clock.now()):%H:%M:%S} IST: {position.client_id} leg "
                f"{position.leg_no} {position.tradingsymbol} {before} units ({len(orders)} orders {statuses})")
        for _ in range(3):
            try:
                execution = self.repos.executions.get_by_id(user_id, position.entry_execution_id)
                self.repos.executions.save(execution.model_copy(update={"reasons": execution.reasons + [note]}),
                                           execution.version)
                return
            except (VersionConflict, LookupError):
                continue

    # ------------------------------------------------------------------ live positions
    def live_positions(self, user_id: str, strategy_id: str | None = None) -> dict[str, Any]:
        """Open positions with the LTP now (the engine's market data), MTM and each one's stop as
        the broker reports it (one order-book read per account; the stored stop when the book
        cannot be read, said in ``stop.source`` and ``warnings``).

        Returns ``{"items": [...], "total_mtm", "as_of", "warnings"}``; money as strings (rupees).
        """
        from shared_utils.execution.exits import find_in_book, read_book, strategy_orders
        from shared_utils.execution.order_state import WORKING

        now = self.clock.now()
        today = to_ist(now).date()
        positions = [p for p in self.repos.positions.list(user_id, strategy_id) if p.quantity]
        warnings: list[str] = []
        stops: dict[tuple[str, str], OrderRecord] = {}
        for sid in sorted({p.strategy_id for p in positions}):
            for order in strategy_orders(self.ctx, user_id, sid, today):
                if order.purpose is OrderPurpose.STOP_LOSS and order.status in WORKING:
                    stops[(order.client_id, order.tradingsymbol)] = order
        books: dict[str, dict[str, Any] | None] = {}
        for client_id in sorted({p.client_id for p in positions}):
            try:
                books[client_id] = read_book(self._client(user_id, client_id))
            except (BrokerError, BrokerUnreachable, Conflict) as exc:
                books[client_id] = None
                warnings.append(f"{client_id}: order book unavailable ({exc}); stops as last recorded")
        items = []
        total = Decimal(0)
        for position in sorted(positions, key=lambda p: (p.strategy_id, p.client_id, p.leg_no, p.tradingsymbol)):
            ltp, source = self._ltp(position, now, warnings)
            unrealised = (ltp - position.average_price) * position.quantity if ltp is not None else Decimal(0)
            mtm = position.realised_pnl + unrealised
            total += mtm
            stop = stops.get((position.client_id, position.tradingsymbol))
            stop_view = None
            if stop is not None:
                book = books.get(position.client_id)
                report = find_in_book(book, stop) if book is not None else None
                stop_view = {
                    "order_id": stop.tag, "broker_order_id": stop.broker_order_id,
                    "status": report.status.value if report is not None else stop.status.value,
                    "transaction_type": stop.transaction_type.value, "order_type": stop.order_type.value,
                    "quantity": report.quantity if report is not None and report.quantity else stop.quantity,
                    "trigger_price": _money(report.trigger_price if report is not None and report.trigger_price
                                            else stop.trigger_price),
                    "price": _money(report.price if report is not None and report.price else stop.price),
                    "source": "broker" if report is not None else "records"}
            items.append({
                "position_id": position_id(position), "strategy_id": position.strategy_id,
                "client_id": position.client_id, "tradingsymbol": position.tradingsymbol,
                "exchange": position.exchange, "leg_no": position.leg_no, "product": position.product.value,
                "quantity": position.quantity, "average_price": str(position.average_price),
                "ltp": _money(ltp), "ltp_source": source, "unrealised_pnl": str(unrealised),
                "realised_pnl": str(position.realised_pnl), "mtm": str(mtm), "stop": stop_view})
        return {"items": items, "total_mtm": str(total), "as_of": utc_iso_ms(now), "warnings": warnings}

    def _ltp(self, position: Position, now: datetime, warnings: list[str]) -> tuple[Decimal | None, str]:
        try:
            contract = self.ctx.master.by_symbol(position.exchange, position.tradingsymbol)
            return self.ctx.market.quote(contract, now).ltp, "market"
        except Exception as exc:  # noqa: BLE001 - a missing quote never hides the position
            warnings.append(f"{position.tradingsymbol}: no quote now ({exc}); last recorded LTP shown")
            return position.ltp, "records"


def default_actions(repos: Any = None) -> OrderActions:
    """The actions over the API's engine context (``market_status.api_context``: the local
    platform's engine, else the deployed composition root built once per container) acting on
    ``repos`` (the handler's repositories) when given."""
    from shared_utils.services.market_status import api_context

    return OrderActions(api_context(), repos)


__all__ = ["OrderActions", "ModifyChange", "BrokerUnreachable", "position_id", "parse_position_id",
           "default_actions", "MANUAL_FLAG"]
