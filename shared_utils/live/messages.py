"""What a trader's live feed says when the engine writes an order, an execution or a position.

The source is the trading table's stream (``NEW_AND_OLD_IMAGES``, table_schema): every write of
an ``ORDER#``, ``EXECUTION_ENTRY#``/``EXECUTION_EXIT#`` or ``POSITION#`` item, whichever code path
made it (PlaceOrders, Finalize, the order poller, postbacks, booking, the order actions), becomes
at most one message for the item's partition owner (PK ``user_id``). A MODIFY that changes
nothing a trader sees (e.g. a claim's bookkeeping) sends nothing.

Message shapes (seed 001 "Real-time WebSocket APIs", ``{"type", "data"}``; every instant is UTC
ISO-8601, money is a decimal string in rupees, quantities are units, ``lag_ms`` a float):

- ``ORDER_STATUS``: ``order_key, order_id (the broker tag, as GET /options/orders/{order_id}),
  execution_id, strategy_id, client_id, broker, leg_no, purpose, tradingsymbol,
  transaction_type, quantity, lots, lot_size, filled_quantity, order_type, price, average_price,
  status, broker_message, execute_at, sent_at, lag_ms, timestamp``. ``lag_ms`` = ``sent_at -
  execute_at`` for ENTRY/EXIT orders (None for stops and targets, which have no target second).
- ``EXECUTION_STATUS``: ``execution_id, strategy_id, execution_type, trade_date, status,
  execute_at, started_at, completed_at, reasons, results, timestamp``.
- ``POSITION_UPDATE``: ``strategy_id, client_id, tradingsymbol, exchange, leg_no, quantity,
  average_price, ltp, mtm, realised_pnl, status, stop_loss_order_key, timestamp``. ``mtm`` =
  ``(ltp - average_price) x quantity`` in rupees to the paisa (signed quantity; None without an LTP).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable

from shared_utils.persistence import keys
from shared_utils.persistence.table import deserialize
from shared_utils.persistence.table_schema import PARTITION_KEY, SORT_KEY

PAISA = Decimal("0.01")

ORDER_STATUS = "ORDER_STATUS"
EXECUTION_STATUS = "EXECUTION_STATUS"
POSITION_UPDATE = "POSITION_UPDATE"

#: sort-key prefixes of the items the feed reports (the stream consumer's filter in the stack too)
SORT_KEY_PREFIXES = {
    f"{keys.ORDER}{keys.SEP}": ORDER_STATUS,
    f"{keys.EXECUTION_ENTRY}{keys.SEP}": EXECUTION_STATUS,
    f"{keys.EXECUTION_EXIT}{keys.SEP}": EXECUTION_STATUS,
    f"{keys.POSITION}{keys.SEP}": POSITION_UPDATE,
}

_ORDER_FIELDS = ("order_key", "execution_id", "strategy_id", "client_id", "broker", "leg_no", "purpose",
                 "tradingsymbol", "transaction_type", "quantity", "lots", "lot_size", "filled_quantity",
                 "order_type", "price", "trigger_price", "average_price", "status", "broker_message",
                 "execute_at", "sent_at")
_EXECUTION_FIELDS = ("execution_id", "strategy_id", "execution_type", "trade_date", "status", "trigger",
                     "execute_at", "started_at", "completed_at", "reasons", "results")
_POSITION_FIELDS = ("strategy_id", "client_id", "tradingsymbol", "exchange", "leg_no", "quantity",
                    "average_price", "ltp", "realised_pnl", "status", "stop_loss_order_key")


def _json(value: Any) -> Any:
    """DynamoDB values -> JSON: whole Decimals (quantities, counts) as int, others as strings (exact rupees)."""
    if isinstance(value, Decimal):
        return int(value) if value.as_tuple().exponent >= 0 else str(value)
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json(v) for v in value]
    return value


def _instant(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def order_lag_ms(item: dict[str, Any]) -> float | None:
    """Milliseconds from the order's target second (``execute_at``) to its send (``sent_at``);
    None for STOP_LOSS/TARGET orders or when either instant is missing."""
    if item.get("purpose") in ("STOP_LOSS", "TARGET"):
        return None
    target, sent = _instant(item.get("execute_at")), _instant(item.get("sent_at"))
    if target is None or sent is None:
        return None
    return round((sent - target).total_seconds() * 1000, 1)


def kind_of(sort_key: str) -> str | None:
    """The message type an item with ``sort_key`` produces (None: not part of the feed)."""
    for prefix, kind in SORT_KEY_PREFIXES.items():
        if sort_key.startswith(prefix):
            return kind
    return None


def _data(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    if kind == ORDER_STATUS:
        data = {f: _json(item.get(f)) for f in _ORDER_FIELDS}
        data["order_id"] = item.get("tag")
        data["lag_ms"] = order_lag_ms(item)
    elif kind == EXECUTION_STATUS:
        data = {f: _json(item.get(f)) for f in _EXECUTION_FIELDS}
    else:
        data = {f: _json(item.get(f)) for f in _POSITION_FIELDS}
        ltp, avg, qty = item.get("ltp"), item.get("average_price"), item.get("quantity")
        data["mtm"] = (_json(((Decimal(ltp) - Decimal(avg or 0)) * Decimal(qty or 0)).quantize(PAISA))
                       if ltp is not None else None)
    return data


def message_for(new: dict[str, Any], old: dict[str, Any] | None = None,
                timestamp: str | None = None) -> tuple[str, dict[str, Any]] | None:
    """``(user_id, message)`` for a written item (plain dict, as ``deserialize`` returns), or
    None when the item is not part of the feed or nothing a trader sees changed since ``old``."""
    sort_key, user_id = new.get(SORT_KEY), new.get(PARTITION_KEY)
    if not isinstance(sort_key, str) or not isinstance(user_id, str):
        return None
    kind = kind_of(sort_key)
    if kind is None:
        return None
    data = _data(kind, new)
    if old is not None and _data(kind, old) == data:
        return None
    data["timestamp"] = new.get("updated_at") or timestamp
    return user_id, {"type": kind, "data": data}


def messages_from_stream(records: Iterable[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """``(user_id, message)`` for each DynamoDB stream record (Lambda's event ``Records`` or
    DynamoDB Streams ``GetRecords`` ``Records``: the same shape) that the feed reports, in
    stream order. REMOVE records (TTL expiry, archiving) report nothing."""
    out: list[tuple[str, dict[str, Any]]] = []
    for record in records:
        if record.get("eventName") not in ("INSERT", "MODIFY"):
            continue
        change = record.get("dynamodb") or {}
        raw_new = change.get("NewImage")
        if not raw_new:
            continue
        new = deserialize(raw_new)
        old = deserialize(change["OldImage"]) if change.get("OldImage") else None
        created = change.get("ApproximateCreationDateTime")
        stamp = None
        if isinstance(created, datetime):
            stamp = created.isoformat()
        elif isinstance(created, (int, float, Decimal)):
            from datetime import timezone

            stamp = datetime.fromtimestamp(float(created), tz=timezone.utc).isoformat()
        found = message_for(new, old, stamp)
        if found is not None:
            out.append(found)
    return out
