"""The ONE place broker updates of an order are applied, whoever learnt them: PlaceOrders'
order-book read, a Kite postback, the order poller or the duplicate checker.

``apply_broker_report`` feeds ``order_state.apply_report`` through ``booking.save_report``
(version-checked; new fills booked into the position), then runs the follow-ups of the new
state:

- an ENTRY order with fills gets its leg's stop loss at the broker for the filled part at once
  (``stops.place_stop_loss``; idempotent by key; raised when more fills arrive);
- an ENTRY order still PARTIALLY_FILLED ``PARTIAL_CANCEL_AFTER`` after its send has the unfilled
  rest cancelled (policy, issue 13 item 12): the strategy's ``partial_fill_policy`` then decides
  (COMPLETE re-sends the missing quantity at the current price within ``entry_max_slippage``;
  LEAVE alerts; SQUARE_OFF closes the filled legs) instead of a stale limit filling later;
- a STOP_LOSS or TARGET order that filled is announced ("Order Alert" kind STOP_LOSS_HIT) so a
  trader knows the leg was closed by its stop.

Reports are broker reports (``shared_utils.brokers.models.OrderReport``): units and rupees.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared_utils.brokers.models import OrderReport
from shared_utils.execution.booking import save_report
from shared_utils.execution.events import ORDER_ALERT, SOURCE_ENGINE
from shared_utils.models.enums import OrderPurpose, OrderStatus
from shared_utils.models.execution import OrderRecord


def apply_broker_report(ctx: Any, order: OrderRecord, report: OrderReport, at: datetime | None = None,
                        client: Any | None = None, follow_up: bool = True) -> OrderRecord:
    """Apply ``report`` to the stored ``order``; returns the stored record after follow-ups."""
    at = at or ctx.clock.now()
    before_filled = order.filled_quantity
    saved = save_report(ctx.repos, order, report.status, report.filled_quantity, report.average_price,
                        report.message, at, report.order_id)
    if saved.status is not order.status:
        note_late_failure(ctx, saved)
    if follow_up:
        after_update(ctx, saved, client, newly_filled=saved.filled_quantity > before_filled)
    return saved


#: final states of an ENTRY/EXIT order that mean "not accepted" (I2)
_FAILED = frozenset({OrderStatus.REJECTED, OrderStatus.NOT_SENT})


def note_late_failure(ctx: Any, order: OrderRecord, attempts: int = 3) -> bool:
    """I2 after Finalize: an ENTRY/EXIT order of a COMPLETED execution that turns out not
    accepted (the broker's risk checks rejected it after acknowledging it; a send the broker never
    received) makes that execution PARTIAL with the reason, and an Order Alert (kind
    LATE_REJECTION) names the account and leg. An exit's retry (``exits.finish_exit``) still closes
    what is open. Returns True when the execution was changed."""
    from shared_utils.models.enums import ExecutionStatus
    from shared_utils.persistence import keys
    from shared_utils.persistence.repositories import VersionConflict

    if order.status not in _FAILED or order.purpose not in (OrderPurpose.ENTRY, OrderPurpose.EXIT):
        return False
    try:
        kind = keys.parse_execution_id(order.execution_id)[2]
    except Exception:  # noqa: BLE001 - not an execution id of ours: nothing to mark
        return False
    if kind.value != order.purpose.value:
        return False  # a square-off (EXIT) under an ENTRY execution: the fill policy reports it
    reason = (f"{order.client_id} leg {order.leg_no} {order.tradingsymbol} {order.transaction_type.value} "
              f"{order.status.value} after the execution completed: {order.broker_message or 'no reason given'}")
    for _ in range(attempts):
        try:
            execution = ctx.repos.executions.get_by_id(order.user_id, order.execution_id)
        except LookupError:
            return False
        if execution.status is not ExecutionStatus.COMPLETED:
            return False
        try:
            ctx.repos.executions.save(execution.model_copy(update={
                "status": ExecutionStatus.PARTIAL, "reasons": execution.reasons + [reason]}), execution.version)
            break
        except VersionConflict:
            continue
    else:
        return False
    detail = {"kind": "LATE_REJECTION", "user_id": order.user_id, "strategy_id": order.strategy_id,
              "execution_id": order.execution_id, "client_id": order.client_id, "accounts": [order.client_id],
              "order_key": order.order_key, "leg_no": order.leg_no, "tradingsymbol": order.tradingsymbol,
              "message": reason}
    if ctx.publisher is not None:
        ctx.publisher.publish(SOURCE_ENGINE, ORDER_ALERT, detail)
    ctx.observer({"event": "alert", **detail})
    return True


#: how long a partly filled entry may keep working before its unfilled rest is cancelled
PARTIAL_CANCEL_AFTER = timedelta(seconds=3)
REST_CANCEL_FLAG = "REST_CANCEL_REQUESTED"


def cancel_unfilled_rest(ctx: Any, order: OrderRecord, client: Any | None = None) -> OrderRecord:
    """Cancel the unfilled rest of a PARTIALLY_FILLED entry once it is ``PARTIAL_CANCEL_AFTER``
    old (asked once: flagged on the record; the next book read records the CANCELLED state).
    Returns the stored record."""
    from shared_utils.brokers.errors import BrokerError
    from shared_utils.persistence.repositories import VersionConflict

    sent = order.sent_at or order.execute_at
    if (order.purpose is not OrderPurpose.ENTRY or order.status is not OrderStatus.PARTIALLY_FILLED
            or not order.broker_order_id or REST_CANCEL_FLAG in order.flags or sent is None
            or ctx.clock.now() - sent < PARTIAL_CANCEL_AFTER):
        return order
    try:
        client = client or ctx.clients.client_for(ctx.repos.accounts.get(order.user_id, order.client_id))
        client.cancel_order(order.broker_order_id)
        note = f"unfilled {order.quantity - order.filled_quantity} units cancelled (partial-fill policy)"
    except (BrokerError, LookupError) as exc:
        note = f"cancel of the unfilled rest failed: {exc}"
    try:
        return ctx.repos.orders.save(order.model_copy(update={"flags": order.flags + [REST_CANCEL_FLAG],
                                                              "broker_message": note}), order.version)
    except VersionConflict:
        return ctx.repos.orders.get(order.user_id, order.order_key)


def after_update(ctx: Any, order: OrderRecord, client: Any | None = None, newly_filled: bool = False) -> None:
    """Follow-ups of an order's current state (safe to call repeatedly)."""
    from shared_utils.execution.stops import needs_stop, place_stop_loss

    if order.purpose is OrderPurpose.ENTRY and needs_stop(order):
        place_stop_loss(ctx, order, client)
        if order.status is OrderStatus.PARTIALLY_FILLED:
            cancel_unfilled_rest(ctx, ctx.repos.orders.get(order.user_id, order.order_key), client)
    elif (order.purpose in (OrderPurpose.STOP_LOSS, OrderPurpose.TARGET) and newly_filled
          and order.status is OrderStatus.FILLED):
        detail = {"kind": f"{order.purpose.value}_HIT", "user_id": order.user_id, "strategy_id": order.strategy_id,
                  "execution_id": order.execution_id, "client_id": order.client_id, "order_key": order.order_key,
                  "leg_no": order.leg_no, "tradingsymbol": order.tradingsymbol,
                  "average_price": str(order.average_price), "quantity": order.filled_quantity,
                  "message": f"leg {order.leg_no} {order.tradingsymbol} closed by its {order.purpose.value.lower()} "
                             f"at {order.average_price}"}
        if ctx.publisher is not None:
            ctx.publisher.publish(SOURCE_ENGINE, ORDER_ALERT, detail)
        ctx.observer({"event": "alert", **detail})
