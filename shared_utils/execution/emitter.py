"""The per-minute emitter (ARCHITECTURE.md "Execution"): on trading days, find every strategy
due in the slot ``lookahead`` minutes ahead (ENTRY and EXIT, every GSI2 shard, every page) and
put "Strategy Execution Due" events on the bus, batched, each with ``execute_at`` (UTC, ms).

Why two minutes ahead: neither EventBridge rules nor EventBridge Scheduler fire at second 0
(Scheduler may fire anywhere in the minute), so the emitter announces the slot early and the
state machine's Wait state plus the final in-Lambda sleep land on the second.

Cheap filters happen here (weekday, from the GSI2 projection); everything that needs the
strategy's items (ACTIVE basket, executability, DTE window) is checked by Prepare, which records
the reason on a SKIPPED execution. On a holiday nothing is announced: the emitter returns the
strategies it would have run with the reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared_utils.clock import to_ist, utc_iso_ms
from shared_utils.execution.context import EngineContext
from shared_utils.execution.events import (
    BATCH_SIZE,
    CHECK_DUPLICATE_ORDERS,
    CHECK_STOP_LOSS,
    EXECUTION_DUE,
    REFRESH_MARKET_DATA,
    SOURCE_EMITTER,
)
from shared_utils.models.enums import ExecutionType, Weekday
from shared_utils.models.strategy import SESSION_FIRST_SLOT, SESSION_LAST_SLOT


@dataclass
class EmitterResult:
    """What one tick did: the slot (IST), how many strategies were due, events put, skips."""

    slot: str
    trade_date: str
    execute_at: str | None
    due: int = 0
    events: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    queries: int = 0


def slot_for(now: datetime, lookahead_minutes: int) -> datetime:
    """The IST minute ``lookahead_minutes`` after ``now``'s minute (seconds dropped)."""
    local = to_ist(now).replace(second=0, microsecond=0)
    return local + timedelta(minutes=lookahead_minutes)


def batch_id_for(slot_at: datetime, execution_type: ExecutionType, refs: list[dict[str, str]]) -> str:
    """Deterministic id of one batch: the same slot and strategies give the same id, so two
    emitters produce identical events (and Prepare's claim keeps the second from running)."""
    digest = hashlib.sha256("|".join(f"{r['user_id']}/{r['strategy_id']}" for r in refs).encode()).hexdigest()[:10]
    return f"{execution_type.value[0]}{slot_at:%Y%m%d%H%M}-{digest}"


def run_emitter(ctx: EngineContext, now: datetime | None = None, lookahead_minutes: int | None = None) -> EmitterResult:
    """One tick. Publishes the due events and the seed's per-minute events; returns a summary."""
    now = now or ctx.clock.now()
    lookahead = lookahead_minutes if lookahead_minutes is not None else ctx.env.settings.execution_engine.lookahead_minutes
    slot_at = slot_for(now, lookahead)
    slot = slot_at.strftime("%H:%M")
    trade_date = slot_at.date()
    result = EmitterResult(slot=slot, trade_date=trade_date.isoformat(), execute_at=utc_iso_ms(slot_at))
    minute = to_ist(now).replace(second=0, microsecond=0)
    per_minute = {"minute": utc_iso_ms(minute), "trade_date": minute.date().isoformat()}
    trading_today = ctx.calendar.is_trading_day(minute.date())
    if trading_today and SESSION_FIRST_SLOT <= minute.strftime("%H:%M") <= "15:30":
        for detail_type in (CHECK_STOP_LOSS, CHECK_DUPLICATE_ORDERS, REFRESH_MARKET_DATA):
            ctx.publisher.publish(SOURCE_EMITTER, detail_type, per_minute)
    if not SESSION_FIRST_SLOT <= slot <= SESSION_LAST_SLOT:
        result.reason = f"slot {slot} IST is outside the session"
        return result
    holiday = None if ctx.calendar.is_trading_day(trade_date) else f"{trade_date.isoformat()} is not a trading day"
    weekday = list(Weekday)[trade_date.weekday()].value
    events: list[tuple[str, str, dict[str, Any]]] = []
    for execution_type in (ExecutionType.ENTRY, ExecutionType.EXIT):
        due: list[dict[str, str]] = []
        before = ctx.repos.table.request_count
        for item in ctx.repos.schedules.due_in_slot(execution_type, slot):
            ref = {"user_id": item["user_id"], "strategy_id": item["strategy_id"]}
            days = item.get("days") or []
            if holiday:
                result.skipped.append({**ref, "execution_type": execution_type.value, "reason": holiday})
            elif days and weekday not in days:
                result.skipped.append({**ref, "execution_type": execution_type.value,
                                       "reason": f"{weekday} is not one of {', '.join(days)}"})
            else:
                due.append(ref)
        result.queries += ctx.repos.table.request_count - before
        due.sort(key=lambda r: (r["user_id"], r["strategy_id"]))
        result.due += len(due)
        batch = min(BATCH_SIZE, ctx.env.strategies_per_event)
        for start in range(0, len(due), batch):
            refs = due[start:start + batch]
            events.append((SOURCE_EMITTER, EXECUTION_DUE, {
                "batch_id": batch_id_for(slot_at, execution_type, refs),
                "execution_type": execution_type.value, "trade_date": trade_date.isoformat(), "slot": slot,
                "execute_at": utc_iso_ms(slot_at), "wait_until": utc_iso_ms(slot_at - timedelta(seconds=2)),
                "trigger": "SCHEDULE", "strategies": refs,
            }))
    if holiday:
        result.reason = holiday
    if events:
        publish_many = getattr(ctx.publisher, "publish_many", None)
        if publish_many:
            publish_many(events)
        else:
            for event in events:
                ctx.publisher.publish(*event)
    result.events = len(events)
    ctx.metric("StrategiesDue", result.due, "Count", {})
    return result
