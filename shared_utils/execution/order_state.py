"""The platform's order state machine, fed by broker acknowledgements, postbacks and polling.

::

    PENDING -> SENT -> OPEN -> PARTIALLY_FILLED -> FILLED
       |         |      |  \\-> TRIGGER_PENDING -> OPEN ...
       |         |      \\-> CANCELLED | REJECTED
       |         \\-> UNKNOWN (outcome not known: reconcile by tag, never re-send)
       \\-> REJECTED (refused before sending: risk limit, guard)

Late-fill edges real brokers produce: a CANCELLED or REJECTED report can be followed by a fill
that happened before the cancel reached the exchange (Kite documents trades arriving after the
status update); so CANCELLED -> PARTIALLY_FILLED/FILLED is allowed when the filled quantity
grows. FILLED is final. A report never moves filled_quantity backwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from shared_utils.models.enums import OrderStatus
from shared_utils.models.execution import OrderRecord

S = OrderStatus
ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.SENT, S.OPEN, S.TRIGGER_PENDING, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.CANCELLED, S.UNKNOWN,
                         S.NOT_SENT}),
    # SENT/UNKNOWN -> NOT_SENT: the broker's book, read well after the send, does not know the
    # order (duplicate_checker MISSING_AT_BROKER): it never arrived (issue 13 item 6)
    S.SENT: frozenset({S.OPEN, S.TRIGGER_PENDING, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.CANCELLED, S.UNKNOWN,
                       S.NOT_SENT}),
    S.UNKNOWN: frozenset({S.OPEN, S.TRIGGER_PENDING, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.CANCELLED, S.NOT_SENT}),
    S.OPEN: frozenset({S.TRIGGER_PENDING, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED}),
    S.TRIGGER_PENDING: frozenset({S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED}),
    S.CANCELLED: frozenset({S.PARTIALLY_FILLED, S.FILLED}),
    S.REJECTED: frozenset({S.PARTIALLY_FILLED, S.FILLED}),
    S.FILLED: frozenset(),
    S.NOT_SENT: frozenset(),  # final: never reached the broker (contract C2)
}
#: statuses after which the order can still change at the broker
WORKING = frozenset({S.PENDING, S.SENT, S.UNKNOWN, S.OPEN, S.TRIGGER_PENDING, S.PARTIALLY_FILLED})
ACCEPTED = frozenset({S.OPEN, S.TRIGGER_PENDING, S.PARTIALLY_FILLED, S.FILLED})


class IllegalTransition(ValueError):
    """A report would move an order backwards (e.g. FILLED -> OPEN); it is recorded, not applied."""


@dataclass(frozen=True)
class FillDelta:
    """New fill quantity (units) at ``price`` (rupees) learnt from a report."""

    quantity: int
    price: Decimal


def apply_report(order: OrderRecord, status: OrderStatus, filled_quantity: int, average_price: Decimal | None,
                 message: str | None, at: datetime, broker_order_id: str | None = None) -> tuple[OrderRecord, FillDelta | None]:
    """Apply one broker report to ``order``; returns the new record and the fill delta.

    The delta's price is derived from the change in (average x filled) so partial fills at
    different prices book correctly.

    Raises:
        IllegalTransition: the status change is not allowed (the caller logs and keeps the old).
    """
    current = order.status
    if filled_quantity > order.filled_quantity and average_price is None:
        # a fill without its price cannot be booked into the position: it is not taken from this
        # report (the next report with a price books it), so filled_quantity never runs ahead
        # of the position (I4)
        filled_quantity = order.filled_quantity
    if status is S.FILLED and max(filled_quantity, order.filled_quantity) < order.quantity:
        # a status without its quantity (e.g. a report rebuilt from a status alone): never a
        # FILLED record short of its quantity, which no later report could complete (FILLED is
        # final) and whose position would never be booked. It stays working until a full
        # report arrives (the poller reads the book every minute).
        status = S.PARTIALLY_FILLED if max(filled_quantity, order.filled_quantity) else S.OPEN
        message = message or "the broker reported FILLED without the filled quantity; waiting for the full report"
    filled = max(filled_quantity, order.filled_quantity)
    if status == current and filled == order.filled_quantity:
        if message and message != order.broker_message:
            return order.model_copy(update={"broker_message": message}), None
        return order, None
    late_fill = current in (S.CANCELLED, S.REJECTED) and filled > order.filled_quantity
    if status != current and status not in ALLOWED[current] and not late_fill:
        raise IllegalTransition(f"order {order.order_key}: {current.value} -> {status.value} is not allowed")
    if late_fill and status in (S.CANCELLED, S.REJECTED):
        status = S.FILLED if filled >= order.quantity else S.PARTIALLY_FILLED
    delta = None
    if filled > order.filled_quantity and average_price is not None:
        old_value = (order.average_price or Decimal(0)) * order.filled_quantity
        new_value = average_price * filled
        qty = filled - order.filled_quantity
        delta = FillDelta(qty, ((new_value - old_value) / qty).quantize(Decimal("0.0001")))
    history = list(order.status_history) + [{"at": at.isoformat(), "from": current.value, "to": status.value,
                                              "filled": filled, "message": message}]
    updated = order.model_copy(update={
        "status": status, "filled_quantity": filled,
        "average_price": average_price if average_price is not None else order.average_price,
        "broker_message": message or order.broker_message,
        "broker_order_id": broker_order_id or order.broker_order_id,
        "status_history": history[-20:],
    })
    return updated, delta
