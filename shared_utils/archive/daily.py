"""Finding one trade date's executions, orders and positions in the single table, and expiring
them once archived (no pyarrow here).

One paginated **Scan** with a server-side filter (the cost argument against a date GSI is in the
package docstring):

* executions: ``entity_type = EXECUTION AND trade_date = :day``;
* orders: ``entity_type = ORDER AND contains(execution_id, ".YYYYMMDD.")``, then checked exactly
  with :func:`~shared_utils.persistence.keys.parse_execution_id` (the execution id carries the
  trade date);
* positions: every ``entity_type = POSITION`` item, kept when OPEN (the end-of-day snapshot of
  live positions) or last updated on that IST date.

The filter is on attributes the repositories already write; no new index, no new attribute.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from shared_utils.clock import IST, to_ist
from shared_utils.models.execution import Execution, OrderRecord, Position
from shared_utils.persistence import keys
from shared_utils.persistence.table import DynamoTable, deserialize, serialize
from shared_utils.persistence.table_schema import PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE

_FILTER = (
    "(entity_type = :execution AND trade_date = :day) "
    "OR (entity_type = :order AND contains(execution_id, :ymd)) "
    "OR entity_type = :position"
)


@dataclass
class DayItems:
    """One trade date's records, each with the (user_id, sort_key) of its item."""

    trade_date: date
    executions: list[tuple[tuple[str, str], Execution]] = field(default_factory=list)
    orders: list[tuple[tuple[str, str], OrderRecord]] = field(default_factory=list)
    positions: list[tuple[tuple[str, str], Position]] = field(default_factory=list)
    scanned_count: int = 0
    scan_requests: int = 0

    def records(self, entity: str) -> list[Any]:
        """The records of ``entity`` (executions, orders, positions)."""
        return [record for _, record in getattr(self, entity)]


def _order_on(item: dict[str, Any], day: date) -> bool:
    try:
        return keys.parse_execution_id(str(item.get("execution_id", "")))[1] == day
    except ValueError:
        return False


def collect_day(table: DynamoTable, day: date, *, page_size: int | None = None) -> DayItems:
    """Scan the table once for ``day``'s executions, orders and positions (see module doc)."""
    found = DayItems(trade_date=day)
    kwargs: dict[str, Any] = {
        "TableName": table.name,
        "FilterExpression": _FILTER,
        "ExpressionAttributeValues": serialize({
            ":execution": "EXECUTION", ":order": "ORDER", ":position": "POSITION",
            ":day": day.isoformat(), ":ymd": f".{day:%Y%m%d}.",
        }),
    }
    if page_size:
        kwargs["Limit"] = page_size
    while True:
        response = table.client.scan(**kwargs)
        found.scan_requests += 1
        found.scanned_count += response.get("ScannedCount", 0)
        for raw in response.get("Items", []):
            item = deserialize(raw)
            item_key = (item[PARTITION_KEY], item[SORT_KEY])
            kind = item.get("entity_type")
            if kind == "EXECUTION":
                found.executions.append((item_key, Execution.model_validate(item)))
            elif kind == "ORDER" and _order_on(item, day):
                found.orders.append((item_key, OrderRecord.model_validate(item)))
            elif kind == "POSITION":
                position = Position.model_validate(item)
                if position.status == "OPEN" or to_ist(position.updated_at).date() == day:
                    found.positions.append((item_key, position))
        last = response.get("LastEvaluatedKey")
        if not last:
            return found
        kwargs["ExclusiveStartKey"] = last


def expiry_epoch(day: date, hot_days: int) -> int:
    """``expires_at`` for items of trade date ``day``: IST midnight starting ``day + hot_days``.

    On IST date ``T`` every item with ``trade_date > T - hot_days`` is therefore still in the
    table (TTL deletes only after expiry, typically within a few days), which is the window
    :mod:`shared_utils.archive.history` reads from the table.
    """
    return int(datetime.combine(day + timedelta(days=hot_days), time(0), tzinfo=IST).timestamp())


def expire_archived(table: DynamoTable, items: DayItems, hot_days: int, *, workers: int = 8) -> int:
    """Set ``expires_at`` on the archived executions and orders and on CLOSED positions (an
    OPEN position stays). Only existing items are touched (``attribute_exists``); the records'
    ``version`` is left alone (TTL is housekeeping, not a change of the record). Returns the
    number of items updated."""
    epoch = expiry_epoch(items.trade_date, hot_days)
    targets = [k for k, _ in items.executions] + [k for k, _ in items.orders]
    targets += [k for k, p in items.positions if p.status == "CLOSED"]

    def expire(item_key: tuple[str, str]) -> None:
        table.client.update_item(
            TableName=table.name,
            Key=serialize({PARTITION_KEY: item_key[0], SORT_KEY: item_key[1]}),
            UpdateExpression="SET #ttl = :ttl",
            ConditionExpression="attribute_exists(#sk)",
            ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE, "#sk": SORT_KEY},
            ExpressionAttributeValues=serialize({":ttl": epoch}),
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(expire, targets))
    return len(targets)
