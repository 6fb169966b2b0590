"""The ONE place broker updates of an order are applied, whoever learnt them: PlaceOrders'
order-book read, a Kite postback, the order poller or the duplicate checker.

``apply_broker_report`` feeds ``order_state.apply_report`` through ``booking.save_report``
(version-checked; new fills booked into the position), then runs the follow-ups of the new
state:

- an ENTRY order whose fills are final gets its leg's stop loss at the broker
  (``stops.place_stop_loss``; idempotent by key);
- a STOP_LOSS or TARGET order that filled is announced ("Order Alert" kind STOP_LOSS_HIT) so a
  trader knows the leg was closed by its stop.

Reports are broker reports (``shared_utils.brokers.models.OrderReport``): units and rupees.
"""

from __future__ import annotations

from datetime import datetime
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
    if follow_up:
        after_update(ctx, saved, client, newly_filled=saved.filled_quantity > before_filled)
    return saved


def after_update(ctx: Any, order: OrderRecord, client: Any | None = None, newly_filled: bool = False) -> None:
    """Follow-ups of an order's current state (safe to call repeatedly)."""
    from shared_utils.execution.stops import needs_stop, place_stop_loss

    if order.purpose is OrderPurpose.ENTRY and needs_stop(order):
        place_stop_loss(ctx, order, client)
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
