"""What a trader's live feed says when the engine writes an order, an execution or a position.

The source is the trading table's stream (``NEW_AND_OLD_IMAGES``, table_schema): every write of
an ``ORDER#``, ``EXECUTION_ENTRY#``/``EXECUTION_EXIT#``, ``POSITION#`` or user kill-switch item,
whichever code path made it (PlaceOrders, Finalize, the order poller, postbacks, booking, the
order actions, the kill-switch route), becomes at most one status message, plus an alert when
the write is one to act on, for the item's partition owner (PK ``user_id``) only. A MODIFY that
changes nothing a trader sees (e.g. a claim's bookkeeping) sends nothing.

Message shapes (seed 001 "Real-time WebSocket APIs", ``{"type", "data"}``; every instant is UTC
ISO-8601, money is a decimal string in rupees, quantities are units, ``lag_ms`` a float):

- ``ORDER_STATUS``: ``order_key, order_id (the broker tag, as GET /options/orders/{order_id}),
  execution_id, strategy_id, client_id, broker, leg_no, purpose, tradingsymbol,
  transaction_type, quantity, lots, lot_size, filled_quantity, order_type, price, average_price,
  status, broker_message, execute_at, sent_at, lag_ms, timestamp``. ``lag_ms`` = ``sent_at -
  execute_at`` for ENTRY/EXIT orders (None for stops and targets, which have no target second).
- ``EXECUTION_STATUS``: ``execution_id, strategy_id, execution_type, trade_date, status,
  execute_at, started_at, completed_at, reasons, results, timestamp``.
- ``SYSTEM_ALERT`` (beside the message above, when a write is something to act on):
  ``kind, severity ("warning" | "critical"), message`` (what happened, where, in words) and
  the ids (``order_key``, ``execution_id``, ``strategy_id``, ``client_id``) it concerns. Kinds:
  ``ORDER_REJECTED``, ``ORDER_UNKNOWN`` (the send's outcome is not known: reconciliation by tag
  follows), ``ORDER_NOT_SENT``, ``EXECUTION_FAILED``, ``EXECUTION_PARTIAL`` (each once, on the
  write that moves the item INTO that status), ``KILL_SWITCH_ON``/``KILL_SWITCH_OFF`` (the
  user's own or one of their accounts' switches: ``CONTROL#KILL_SWITCH[#client_id]`` in the
  user's partition). The platform-wide switch lives outside any user's partition and is not
  reported here (the kill-switch page shows it).
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
SYSTEM_ALERT = "SYSTEM_ALERT"
KILL_SWITCH_PREFIX = f"{keys.CONTROL}{keys.SEP}KILL_SWITCH"

#: sort-key prefixes of the items the feed reports (the stream consumer's filter in the stack too)
SORT_KEY_PREFIXES = {
    f"{keys.ORDER}{keys.SEP}": ORDER_STATUS,
    f"{keys.EXECUTION_ENTRY}{keys.SEP}": EXECUTION_STATUS,
    f"{keys.EXECUTION_EXIT}{keys.SEP}": EXECUTION_STATUS,
    f"{keys.POSITION}{keys.SEP}": POSITION_UPDATE,
    KILL_SWITCH_PREFIX: SYSTEM_ALERT,
}

#: order statuses a trader must hear about, with the alert's kind and severity
_ORDER_ALERTS = {"REJECTED": ("ORDER_REJECTED", "critical"), "UNKNOWN": ("ORDER_UNKNOWN", "critical"),
                 "NOT_SENT": ("ORDER_NOT_SENT", "warning")}
_EXECUTION_ALERTS = {"FAILED": ("EXECUTION_FAILED", "critical"), "PARTIAL": ("EXECUTION_PARTIAL", "critical")}

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


def _alert(kind: str, new: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any] | None:
    """The SYSTEM_ALERT ``data`` a write raises, or None (see module doc)."""
    before = (old or {}).get("status")
    if kind == ORDER_STATUS and new.get("status") in _ORDER_ALERTS and new.get("status") != before:
        alert, severity = _ORDER_ALERTS[new["status"]]
        why = f": {new['broker_message']}" if new.get("broker_message") else ""
        text = (f"{new.get('purpose', 'ENTRY')} order {new.get('transaction_type', '')} {new.get('quantity', '')} "
                f"{new.get('tradingsymbol', '')} in {new.get('client_id', '')} is {new['status']}{why}")
        return {"kind": alert, "severity": severity, "message": " ".join(text.split()),
                **{f: new.get(f) for f in ("order_key", "execution_id", "strategy_id", "client_id")}}
    if kind == EXECUTION_STATUS and new.get("status") in _EXECUTION_ALERTS and new.get("status") != before:
        alert, severity = _EXECUTION_ALERTS[new["status"]]
        reasons = "; ".join(str(r) for r in (new.get("reasons") or [])[:3])
        text = f"{new.get('execution_type', '')} {new.get('execution_id', '')} ended {new['status']}"
        return {"kind": alert, "severity": severity, "message": text + (f": {reasons}" if reasons else ""),
                **{f: new.get(f) for f in ("execution_id", "strategy_id")}}
    if kind == SYSTEM_ALERT and bool(new.get("on")) != bool((old or {}).get("on")):
        on = bool(new.get("on"))
        where = f"account {new['client_id']}" if new.get("client_id") else "all your accounts"
        text = (f"Kill switch {'ON' if on else 'OFF'} for {where}"
                + (": new entries are refused; exits still run" if on else ": entries allowed again")
                + (f" (reason: {new['reason']})" if new.get("reason") else ""))
        return {"kind": "KILL_SWITCH_ON" if on else "KILL_SWITCH_OFF", "severity": "critical" if on else "warning",
                "message": text, "client_id": new.get("client_id"), "set_by": new.get("set_by")}
    return None


def messages_for(new: dict[str, Any], old: dict[str, Any] | None = None,
                 timestamp: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """``(user_id, message)`` pairs for a written item (plain dict, as ``deserialize`` returns):
    its status message unless nothing a trader sees changed since ``old``, then any alert it
    raises. Empty for items outside the feed and for the PLATFORM partition."""
    sort_key, user_id = new.get(SORT_KEY), new.get(PARTITION_KEY)
    if not isinstance(sort_key, str) or not isinstance(user_id, str) or user_id == keys.PLATFORM_PARTITION:
        return []
    kind = kind_of(sort_key)
    if kind is None:
        return []
    stamp = new.get("updated_at") or timestamp
    out: list[tuple[str, dict[str, Any]]] = []
    if kind != SYSTEM_ALERT:
        data = _data(kind, new)
        if old is None or _data(kind, old) != data:
            out.append((user_id, {"type": kind, "data": {**data, "timestamp": stamp}}))
    alert = _alert(kind, new, old)
    if alert is not None:
        out.append((user_id, {"type": SYSTEM_ALERT, "data": {**{k: _json(v) for k, v in alert.items()}, "timestamp": stamp}}))
    return out


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
        out.extend(messages_for(new, old, stamp))
    return out
