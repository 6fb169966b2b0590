"""Which strategies the per-minute checks (order poller, stop-loss checker, duplicate checker)
look at: every strategy that placed orders, until it is flat with nothing working.

The single table has no index of "today's executions across users" (GSI2 is keyed by schedule
slot, and a paused strategy loses its schedule keys while its NRML position stays open). Until
the table gets a sparse index for it, the watch list lives in the platform partition: one item
per watched strategy, ``user_id = PLATFORM``, ``sort_key = keys.control_sk("WATCH." + digest)``
(the key module's builder; digest = sha256(user_id/strategy_id)[:24]), so one Query on the
``keys.control_sk("WATCH.")`` prefix lists them all. Item attributes: ``watch_user_id``,
``strategy_id``, ``trade_dates`` (IST dates with orders), ``updated_at`` (UTC ISO).

Writes are idempotent puts (Finalize registers after each execution); the poller removes a
strategy once it is flat, nothing is working, and its last trade date is before today.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shared_utils.persistence import keys

PREFIX = "WATCH."


@dataclass(frozen=True)
class Watched:
    user_id: str
    strategy_id: str
    trade_dates: tuple[str, ...]


def _sk(user_id: str, strategy_id: str) -> str:
    digest = hashlib.sha256(f"{user_id}/{strategy_id}".encode()).hexdigest()[:24]
    return keys.control_sk(PREFIX + digest)


def watch(repos: Any, user_id: str, strategy_id: str, trade_date: date, now: datetime) -> None:
    """Register (or refresh) a strategy for the per-minute checks."""
    sk = _sk(user_id, strategy_id)
    item = repos.table.get(keys.PLATFORM_PARTITION, sk) or {}
    dates = sorted(set(item.get("trade_dates") or []) | {trade_date.isoformat()})[-10:]
    repos.table.put({"user_id": keys.PLATFORM_PARTITION, "sort_key": sk, "entity_type": "WATCH",
                     "watch_user_id": user_id, "strategy_id": strategy_id, "trade_dates": dates,
                     "updated_at": now.isoformat()})


def unwatch(repos: Any, user_id: str, strategy_id: str) -> None:
    repos.table.delete(keys.PLATFORM_PARTITION, _sk(user_id, strategy_id))


def watched(repos: Any) -> list[Watched]:
    """Every watched strategy (one paginated Query of the platform partition)."""
    out = []
    for item in repos.table.query_all(keys.PLATFORM_PARTITION, keys.control_sk(PREFIX)):
        if item.get("entity_type") == "WATCH":
            out.append(Watched(item["watch_user_id"], item["strategy_id"], tuple(item.get("trade_dates") or ())))
    return out
