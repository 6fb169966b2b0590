"""Book broker reports into order records and fills into positions, safely under concurrent
writers (the placer, postbacks, the poller): every write is version-checked and retried on a
fresh read.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from shared_utils.execution.order_state import FillDelta, IllegalTransition, apply_report
from shared_utils.models.enums import OrderStatus, TransactionType
from shared_utils.models.execution import Fill, OrderRecord, Position
from shared_utils.persistence.repositories import AlreadyExists, Repositories, VersionConflict


def save_report(repos: Repositories, order: OrderRecord, status: OrderStatus, filled: int, average: Decimal | None,
                message: str | None, at: datetime, broker_order_id: str | None = None,
                extra: dict | None = None, attempts: int = 5) -> OrderRecord:
    """Apply a report to the stored order (re-reading on conflicts) and book any new fill into
    the position. Returns the stored record. An illegal transition keeps the stored status and
    only records the message."""
    current = order
    for _ in range(attempts):
        try:
            updated, delta = apply_report(current, status, filled, average, message, at, broker_order_id)
        except IllegalTransition:
            updated, delta = current, None
        if extra:
            updated = updated.model_copy(update=extra)
        if updated == current:
            return current
        if delta is not None:
            fills = list(updated.fills) + [Fill(trade_id=f"{updated.tag}-{len(updated.fills) + 1}",
                                                quantity=delta.quantity, price=delta.price, filled_at=at)]
            updated = updated.model_copy(update={"fills": fills})
        try:
            saved = repos.orders.save(updated, current.version)
        except VersionConflict:
            current = repos.orders.get(order.user_id, order.order_key)
            continue
        if delta is not None:
            book_fill(repos, saved, delta, at)
        return saved
    raise VersionConflict(f"order {order.order_key}: could not apply the report after {attempts} attempts")


def book_fill(repos: Repositories, order: OrderRecord, delta: FillDelta, at: datetime, attempts: int = 5) -> Position:
    """Add a fill to the (strategy, account, contract) position."""
    for _ in range(attempts):
        position = repos.positions.get(order.user_id, order.strategy_id, order.client_id, order.tradingsymbol)
        if position is None:
            position = Position(user_id=order.user_id, strategy_id=order.strategy_id, client_id=order.client_id,
                                tradingsymbol=order.tradingsymbol, exchange=order.exchange, leg_no=order.leg_no,
                                product=order.product, lot_size=order.lot_size, entry_execution_id=order.execution_id)
            position.apply_fill(TransactionType(order.transaction_type), delta.quantity, delta.price, at)
            try:
                return repos.positions.create(position)
            except AlreadyExists:  # created concurrently: retry as an update
                continue
        version = position.version
        position.apply_fill(TransactionType(order.transaction_type), delta.quantity, delta.price, at)
        try:
            return repos.positions.save(position, version)
        except VersionConflict:
            continue
    raise VersionConflict(f"position {order.tradingsymbol}: could not book the fill after {attempts} attempts")
