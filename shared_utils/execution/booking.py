"""Book broker reports into order records and fills into positions, safely under concurrent
writers (the placer, postbacks, the poller, the duplicate checker).

One unit of work per report (invariant I4 "books agree", issue 13 item 4): the order's new
state and the position change its new fill causes are ONE DynamoDB ``TransactWriteItems``:

- Put ORDER     condition ``version = :v``      (the version this report was applied to: a
                concurrent writer makes the whole transaction fail and we retry on a fresh read;
                the filled quantity only grows, so a report applied twice finds no new fill);
- Put POSITION  condition ``version = :pv`` (or ``attribute_not_exists`` for the first fill).

Either both are written or neither is: a crash (Lambda timeout, out of memory) between "the
order says FILLED" and "the position holds the fill" cannot happen, so re-applying the report
after a crash books the fill exactly once (the pattern of cosmicpython's unit of work and
powertools' idempotency conditional put). A report without a new fill writes the order alone
(version-checked).

Quantities are units; prices Decimal rupees; ``at`` an aware instant (the engine's clock).
"""

from __future__ import annotations

import threading
from datetime import datetime
from decimal import Decimal

from shared_utils.execution.order_state import FillDelta, IllegalTransition, apply_report
from shared_utils.models.enums import OrderStatus, TransactionType
from shared_utils.models.execution import Fill, OrderRecord, Position
from shared_utils.persistence import keys
from shared_utils.persistence.repositories import Repositories, VersionConflict
from shared_utils.persistence.table import ConditionFailed, TransactionCancelled, to_item

#: one transaction at a time per PROCESS: free in a Lambda (one invocation per process); in the
#: local runner's threads it keeps moto's TransactWriteItems, which snapshots the whole table
#: without a lock, from racing another thread's transaction
_TRANSACT_LOCK = threading.Lock()
_NOT_EXISTS = "attribute_not_exists(sort_key)"
_VERSION_IS = "version = :expected"


def _transact(table, ops: list[dict], tries: int = 5) -> None:
    """``table.transact(ops)``, serialised in the process. moto's in-process TransactWriteItems
    deep-copies the table without a lock, so another thread's plain write at that moment makes
    it raise ``RuntimeError: dictionary changed size during iteration`` BEFORE anything is
    written; that (and only that) is retried. DynamoDB itself never raises it."""
    for attempt in range(tries):
        try:
            with _TRANSACT_LOCK:
                table.transact(ops)
            return
        except RuntimeError as exc:
            if "during iteration" not in str(exc) or attempt + 1 == tries:
                raise


def _bumped(model, expected_version: int, at: datetime):
    """The model as it will be stored: next version, ``updated_at`` from the engine's clock."""
    return model.model_copy(update={"version": expected_version + 1, "updated_at": at})


def _order_item(order: OrderRecord) -> dict:
    return to_item(order, user_id=order.user_id, sort_key=order.order_key, gsi3pk=keys.gsi3_order_tag_pk(order.tag))


def _position_item(position: Position) -> dict:
    return to_item(position, user_id=position.user_id,
                   sort_key=keys.position_sk(position.strategy_id, position.client_id, position.tradingsymbol))


def position_after_fill(repos: Repositories, order: OrderRecord, delta: FillDelta,
                        at: datetime) -> tuple[Position, int | None]:
    """The (strategy, account, contract) position with ``delta`` booked, and the version it was
    read at (None: the position does not exist yet)."""
    position = repos.positions.get(order.user_id, order.strategy_id, order.client_id, order.tradingsymbol)
    if position is None:
        position = Position(user_id=order.user_id, strategy_id=order.strategy_id, client_id=order.client_id,
                            tradingsymbol=order.tradingsymbol, exchange=order.exchange, leg_no=order.leg_no,
                            product=order.product, lot_size=order.lot_size, entry_execution_id=order.execution_id,
                            created_at=at, updated_at=at)
        version = None
    else:
        version = position.version
    position.apply_fill(TransactionType(order.transaction_type), delta.quantity, delta.price, at)
    return position, version


def commit_fill(repos: Repositories, updated: OrderRecord, expected_version: int,
                position: Position | None, position_version: int | None, at: datetime) -> tuple[OrderRecord, Position | None]:
    """Write the order (and the position, when given) in ONE transaction.

    Raises:
        VersionConflict: the order or the position changed since they were read (nothing written).
    """
    table = repos.orders.table
    new_order = _bumped(updated, expected_version, at)
    ops = [table.put_op(_order_item(new_order), condition=_VERSION_IS, values={":expected": expected_version})]
    new_position = None
    if position is not None:
        if position_version is None:
            new_position = position
            ops.append(table.put_op(_position_item(position), condition=_NOT_EXISTS))
        else:
            new_position = _bumped(position, position_version, at)
            ops.append(table.put_op(_position_item(new_position), condition=_VERSION_IS,
                                    values={":expected": position_version}))
    try:
        _transact(table, ops)
    except TransactionCancelled as exc:
        if exc.condition_failed or "TransactionConflict" in exc.reasons:
            raise VersionConflict(f"order {updated.order_key}: changed concurrently (nothing written)") from exc
        raise
    return new_order, new_position


def save_report(repos: Repositories, order: OrderRecord, status: OrderStatus, filled: int, average: Decimal | None,
                message: str | None, at: datetime, broker_order_id: str | None = None,
                extra: dict | None = None, attempts: int = 8) -> OrderRecord:
    """Apply a report to the stored order and book any new fill into the position, atomically
    (re-reading both on a conflict). Returns the stored record. An illegal transition keeps the
    stored status and only records the message. Applying the same report twice changes nothing.

    Raises:
        VersionConflict: still conflicting after ``attempts`` fresh reads.
    """
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
        position, position_version = None, None
        if delta is not None:
            fills = list(updated.fills) + [Fill(trade_id=f"{updated.tag}-{len(updated.fills) + 1}",
                                                quantity=delta.quantity, price=delta.price, filled_at=at)]
            updated = updated.model_copy(update={"fills": fills})
            position, position_version = position_after_fill(repos, updated, delta, at)
        try:
            saved, _ = commit_fill(repos, updated, current.version, position, position_version, at)
            return saved
        except VersionConflict:
            current = repos.orders.get(order.user_id, order.order_key)
            continue
    raise VersionConflict(f"order {order.order_key}: could not apply the report after {attempts} attempts")


def book_fill(repos: Repositories, order: OrderRecord, delta: FillDelta, at: datetime, attempts: int = 5) -> Position:
    """Add a fill to the (strategy, account, contract) position ALONE (no order write): only
    for fills that have no order record of their own (e.g. an expiry settlement). One
    version-checked put, retried on a fresh read."""
    table = repos.positions.table
    for _ in range(attempts):
        position, version = position_after_fill(repos, order, delta, at)
        try:
            if version is None:
                table.put(_position_item(position), condition=_NOT_EXISTS)
                return position
            new = _bumped(position, version, at)
            table.put(_position_item(new), condition=_VERSION_IS, values={":expected": version})
            return new
        except ConditionFailed:
            continue
    raise VersionConflict(f"position {order.tradingsymbol}: could not book the fill after {attempts} attempts")


#: DynamoDB's limit on the items of one TransactWriteItems
MAX_TRANSACTION_ITEMS = 100


def save_reports(repos: Repositories, updates: list[tuple[OrderRecord, dict]], at: datetime) -> list[OrderRecord]:
    """Book many reports of ONE account's orders of one strategy at once, after its sends
    (issue 14: "post-send writes batched"): one Query of the account's positions of the
    strategy (only when a report brings a fill), then one ``TransactWriteItems`` per <= 100 items (every order with its new state
    and every position its fills change, version-checked as :func:`commit_fill` does).

    ``updates``: (stored order, :func:`save_report` keyword arguments: ``status``, ``filled``,
    ``average``, ``message``, ``broker_order_id``, ``extra``; or ``{"not_sent": (reason, kind)}``
    for an order that never left). The orders of one position always share a transaction, so a
    position's fills are booked together or not at all. A transaction refused (a postback or the
    poller wrote one of its orders meanwhile) falls back, for its orders only, to
    :func:`save_report` per order on fresh reads: the same end state, more requests. Returns the
    stored records, in the order of ``updates``.
    """
    if not updates:
        return []
    first = updates[0][0]
    positions: dict[str, tuple[Position, int | None]] = {}
    planned: list[tuple[OrderRecord, OrderRecord | None, FillDelta | None]] = []
    for order, change in updates:
        if change.get("not_sent"):
            reason, kind = change["not_sent"]
            if order.status is not OrderStatus.PENDING:
                planned.append((order, None, None))
                continue
            history = list(order.status_history) + [{"at": at.isoformat(), "from": order.status.value,
                                                      "to": OrderStatus.NOT_SENT.value, "message": reason}]
            planned.append((order, order.model_copy(update={"status": OrderStatus.NOT_SENT, "broker_message": reason,
                                                            "error_kind": kind, "status_history": history[-20:]}), None))
            continue
        try:
            updated, delta = apply_report(order, change["status"], change.get("filled", 0), change.get("average"),
                                          change.get("message"), at, change.get("broker_order_id"))
        except IllegalTransition:
            updated, delta = order, None
        if change.get("extra"):
            updated = updated.model_copy(update=change["extra"])
        if delta is not None:
            fills = list(updated.fills) + [Fill(trade_id=f"{updated.tag}-{len(updated.fills) + 1}",
                                                quantity=delta.quantity, price=delta.price, filled_at=at)]
            updated = updated.model_copy(update={"fills": fills})
        planned.append((order, None if updated == order else updated, delta))
    if any(delta is not None for _, _, delta in planned):  # the positions are read only for fills
        for position in repos.positions.list(first.user_id, first.strategy_id, first.client_id):
            positions[position.tradingsymbol] = (position, position.version)
    # group by position (orders without a fill alone), then pack groups into <= 100-item transactions
    groups: dict[str, list[int]] = {}
    for index, (order, updated, delta) in enumerate(planned):
        if updated is not None:
            groups.setdefault(order.tradingsymbol if delta is not None else f"#{index}", []).append(index)
    chunks: list[list[int]] = [[]]
    alone: list[int] = []  # a position group too big for one transaction: booked order by order
    used = 0
    for key, members in groups.items():
        size = len(members) + (0 if key.startswith("#") else 1)
        if size > MAX_TRANSACTION_ITEMS:
            alone.extend(members)
            continue
        if used + size > MAX_TRANSACTION_ITEMS:
            chunks.append([])
            used = 0
        chunks[-1].extend(members)
        used += size
    saved: dict[int, OrderRecord] = {i: order for i, (order, updated, _) in enumerate(planned) if updated is None}
    table = repos.orders.table
    for chunk in chunks:
        if not chunk:
            continue
        ops, touched, new_orders = [], {}, {}
        for index in chunk:
            order, updated, delta = planned[index]
            new_order = _bumped(updated, order.version, at)
            new_orders[index] = new_order
            ops.append(table.put_op(_order_item(new_order), condition=_VERSION_IS, values={":expected": order.version}))
            if delta is not None:
                if order.tradingsymbol not in touched:
                    touched[order.tradingsymbol] = positions.get(order.tradingsymbol) or (Position(
                        user_id=order.user_id, strategy_id=order.strategy_id, client_id=order.client_id,
                        tradingsymbol=order.tradingsymbol, exchange=order.exchange, leg_no=order.leg_no,
                        product=order.product, lot_size=order.lot_size, entry_execution_id=order.execution_id,
                        created_at=at, updated_at=at), None)
                    touched[order.tradingsymbol] = (touched[order.tradingsymbol][0].model_copy(deep=True),
                                                    touched[order.tradingsymbol][1])
                touched[order.tradingsymbol][0].apply_fill(TransactionType(order.transaction_type), delta.quantity,
                                                           delta.price, at)
        for position, version in touched.values():
            if version is None:
                ops.append(table.put_op(_position_item(position), condition=_NOT_EXISTS))
            else:
                ops.append(table.put_op(_position_item(_bumped(position, version, at)), condition=_VERSION_IS,
                                        values={":expected": version}))
        try:
            _transact(table, ops)
        except TransactionCancelled as exc:
            if not (exc.condition_failed or "TransactionConflict" in exc.reasons):
                raise
            for index in chunk:  # someone else wrote meanwhile: one fresh read-and-book per order
                order, _, _ = planned[index]
                saved[index] = _save_one(repos, order, updates[index][1], at)
            continue
        saved.update(new_orders)
    for index in alone:
        saved[index] = _save_one(repos, planned[index][0], updates[index][1], at)
    return [saved[i] for i in range(len(planned))]


def _save_one(repos: Repositories, order: OrderRecord, change: dict, at: datetime) -> OrderRecord:
    """The per-order path of :func:`save_reports` (after a refused transaction)."""
    current = repos.orders.get(order.user_id, order.order_key)
    if change.get("not_sent"):
        from shared_utils.execution.placer import mark_not_sent

        reason, kind = change["not_sent"]
        return mark_not_sent(repos, current, reason, kind, at)
    return save_report(repos, current, change["status"], change.get("filled", 0), change.get("average"),
                       change.get("message"), at, change.get("broker_order_id"), extra=change.get("extra"))
