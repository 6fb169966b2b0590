"""The per-minute emitter (ARCHITECTURE.md "Execution"): on trading days, find every strategy
due in the slot ``lookahead`` minutes ahead (ENTRY and EXIT, every GSI2 shard, every page) and
put "Strategy Execution Due" events on the bus, batched, each with ``execute_at`` (UTC, ms).

Why two minutes ahead: neither EventBridge rules nor EventBridge Scheduler fire at second 0
(Scheduler may fire anywhere in the minute), so the emitter announces the slot early and the
state machine's Wait state plus the final in-Lambda sleep land on the second.

Which slot: the one after the tick's SCHEDULED minute (the EventBridge event's ``time``, or
EventBridge Scheduler's ``<aws.scheduler.scheduled-time>``), never the wall clock: a tick
delivered 57 s late still announces its own slot instead of skipping to the next one.

Missed slots (issue 13 item 13): a durable marker (one item in the platform partition,
``keys.control_sk("EMITTER.SLOT")``: ``slot_at`` UTC ISO of the newest slot handled) tells the
emitter which slots of the trade day no tick has handled (a tick lost, delivered after the next
one, or the Lambda failed). Each missed slot is handled oldest first (at most
``MAX_CATCH_UP_SLOTS`` per tick; the rest on the next ticks):

- a slot whose ``execute_at`` is still ``MIN_LEAD_SECONDS`` ahead is announced normally;
- otherwise its EXIT strategies are announced LATE (``execute_at`` stays the slot's instant so
  Prepare recognises the schedule; ``late_ms`` says by how much; exits go out late rather than
  never) and its ENTRY strategies are recorded as SKIPPED executions with the reason and an
  "Order Alert" kind ``ENTRY_MISSED`` (an entry is never sent late).

Duplicates are harmless: the same slot and strategies give the same batch id and Prepare's
claim (or the SKIPPED record) keeps the second from running. The marker only advances once
every event of a slot was accepted by the bus; events the bus refused (after retries) are
reported in ``EmitterResult.unsent`` and the slot is handled again by the next tick.

Holiday exits (I5): on a trading day, an EXIT whose exit days name a weekday between today and
the next trading day on which the exchange is closed (e.g. NIFTY weekly expires Mon 9 Nov 2026,
Tue 10 Nov is a holiday) is announced today at its exit time, with trigger SQUARE_OFF and the
reason ("exit day Tue 10 Nov 2026 is a holiday: exiting on the previous trading day ...").

Cheap filters happen here (weekday, from the GSI2 projection); everything that needs the
strategy's items (ACTIVE basket, executability, DTE window) is checked by Prepare, which records
the reason on a SKIPPED execution. On a holiday nothing is announced: the emitter returns the
strategies it would have run with the reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from shared_utils.clock import parse_instant, to_ist, utc_iso_ms
from shared_utils.execution.context import EngineContext
from shared_utils.execution.events import (
    BATCH_SIZE,
    CHECK_DUPLICATE_ORDERS,
    CHECK_STOP_LOSS,
    EXECUTION_DUE,
    ORDER_ALERT,
    REFRESH_MARKET_DATA,
    SOURCE_EMITTER,
    SOURCE_ENGINE,
    PublishReport,
)
from shared_utils.models.enums import ExecutionStatus, ExecutionType, Weekday
from shared_utils.models.execution import Execution
from shared_utils.models.strategy import SESSION_FIRST_SLOT, SESSION_LAST_SLOT
from shared_utils.persistence import keys
from shared_utils.persistence.table import ConditionFailed

#: the marker item's name under the platform partition (``CONTROL#EMITTER.SLOT``)
MARKER_NAME = "EMITTER.SLOT"
#: an ENTRY slot needs at least this lead (seconds before execute_at) to be announced: Prepare,
#: the Wait state, Resolve and the intents must fit before the second of the send
MIN_LEAD_SECONDS = 10
#: missed slots handled per tick (bounds the Lambda's run time; the rest on the next ticks)
MAX_CATCH_UP_SLOTS = 30


@dataclass
class EmitterResult:
    """What one tick did: the slot (IST), how many strategies were due, events put, skips.

    ``tick`` is the scheduled minute (UTC ISO) the slot was derived from; ``missed_slots`` the
    IST HH:MM of earlier slots handled by this tick; ``late_exits`` the EXIT strategies
    announced after their slot; ``unsent`` the events the bus refused after retries
    ({detail_type, batch_id, error_code, error_message})."""

    slot: str
    trade_date: str
    execute_at: str | None
    due: int = 0
    events: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    queries: int = 0
    tick: str | None = None
    missed_slots: list[str] = field(default_factory=list)
    late_exits: list[dict[str, Any]] = field(default_factory=list)
    unsent: list[dict[str, Any]] = field(default_factory=list)
    holiday_exits: list[dict[str, Any]] = field(default_factory=list)


def slot_for(now: datetime, lookahead_minutes: int) -> datetime:
    """The IST minute ``lookahead_minutes`` after ``now``'s minute (seconds dropped)."""
    local = to_ist(now).replace(second=0, microsecond=0)
    return local + timedelta(minutes=lookahead_minutes)


def batch_id_for(slot_at: datetime, execution_type: ExecutionType, refs: list[dict[str, str]]) -> str:
    """Deterministic id of one batch: the same slot and strategies give the same id, so two
    emitters produce identical events (and Prepare's claim keeps the second from running)."""
    digest = hashlib.sha256("|".join(f"{r['user_id']}/{r['strategy_id']}" for r in refs).encode()).hexdigest()[:10]
    return f"{execution_type.value[0]}{slot_at:%Y%m%d%H%M}-{digest}"


def tick_instant(event: dict[str, Any] | None) -> datetime | None:
    """The scheduled instant of an emitter invocation: the EventBridge event's ``time`` (rules
    and Scheduler's EventBridge-shaped input), or ``scheduled_time`` (a Scheduler input template
    with ``<aws.scheduler.scheduled-time>``). None when the event carries neither."""
    if not isinstance(event, dict):
        return None
    for name in ("scheduled_time", "time"):
        value = event.get(name)
        if isinstance(value, str) and value:
            try:
                return parse_instant(value)
            except ValueError:
                continue
    return None


# ---------------------------------------------------------------------------- the marker

def read_marker(ctx: EngineContext) -> datetime | None:
    """The newest slot instant (aware, UTC) the emitter has fully handled, or None."""
    item = ctx.repos.table.get(keys.PLATFORM_PARTITION, keys.control_sk(MARKER_NAME))
    if not item or not item.get("slot_at"):
        return None
    return parse_instant(item["slot_at"])


def write_marker(ctx: EngineContext, slot_at: datetime, now: datetime) -> bool:
    """Advance the marker to ``slot_at`` (never backwards: a conditional put). Returns whether
    it moved."""
    value = utc_iso_ms(slot_at)
    try:
        ctx.repos.table.put(
            {"user_id": keys.PLATFORM_PARTITION, "sort_key": keys.control_sk(MARKER_NAME),
             "entity_type": "EMITTER_MARKER", "slot_at": value, "updated_at": utc_iso_ms(now)},
            condition="attribute_not_exists(slot_at) OR slot_at < :new", values={":new": value})
    except ConditionFailed:
        return False
    return True


def missed_slots(marker: datetime | None, slot_at: datetime) -> list[datetime]:
    """Session slots of ``slot_at``'s trade date after ``marker`` and before ``slot_at``
    (oldest first). No marker: none (the first tick ever has nothing to catch up)."""
    if marker is None:
        return []
    local = to_ist(slot_at)
    day = local.date()
    first = datetime.combine(day, datetime.strptime(SESSION_FIRST_SLOT, "%H:%M").time(), tzinfo=local.tzinfo)
    start = max(to_ist(marker).replace(second=0, microsecond=0) + timedelta(minutes=1), first)
    out = []
    cursor = start
    while cursor < local and cursor.strftime("%H:%M") <= SESSION_LAST_SLOT:
        out.append(cursor)
        cursor += timedelta(minutes=1)
    return out


# ---------------------------------------------------------------------------- one slot

def closed_days_until_next_session(ctx: EngineContext, trade_date: date) -> list[date]:
    """Weekdays after ``trade_date`` and before the next trading day that are holidays (the
    exchange is closed): an EXIT due on one of them runs on ``trade_date`` instead (I5: an exit
    day that is a holiday exits on the previous trading day)."""
    out: list[date] = []
    day = trade_date + timedelta(days=1)
    for _ in range(10):  # the longest run of closed days is far shorter
        if ctx.calendar.is_trading_day(day):
            break
        if day.weekday() < 5:
            out.append(day)
        day += timedelta(days=1)
    return out


def _due(ctx: EngineContext, execution_type: ExecutionType, slot: str, trade_date: date, holiday: str | None,
         result: EmitterResult) -> tuple[list[dict[str, str]], list[tuple[dict[str, str], str]]]:
    """(refs due in the slot, [(ref, reason)] EXITs moved here from a holiday after today)."""
    weekday = list(Weekday)[trade_date.weekday()].value
    due: list[dict[str, str]] = []
    moved: list[tuple[dict[str, str], str]] = []
    closed = closed_days_until_next_session(ctx, trade_date) if execution_type is ExecutionType.EXIT and not holiday else []
    before = ctx.repos.table.request_count
    for item in ctx.repos.schedules.due_in_slot(execution_type, slot):
        ref = {"user_id": item["user_id"], "strategy_id": item["strategy_id"]}
        days = item.get("days") or []
        if holiday:
            result.skipped.append({**ref, "execution_type": execution_type.value, "slot": slot, "reason": holiday})
        elif days and weekday not in days:
            shifted = [d for d in closed if list(Weekday)[d.weekday()].value in days]
            if shifted:
                moved.append((ref, f"exit day {shifted[0]:%a %d %b %Y} is a holiday: exiting on the previous "
                                   f"trading day {trade_date:%a %d %b %Y}"))
            else:
                result.skipped.append({**ref, "execution_type": execution_type.value, "slot": slot,
                                       "reason": f"{weekday} is not one of {', '.join(days)}"})
        else:
            due.append(ref)
    result.queries += ctx.repos.table.request_count - before
    due.sort(key=lambda r: (r["user_id"], r["strategy_id"]))
    moved.sort(key=lambda m: (m[0]["user_id"], m[0]["strategy_id"]))
    return due, moved


def _record_missed_entry(ctx: EngineContext, ref: dict[str, str], slot_at: datetime, tick: datetime,
                         now: datetime) -> str:
    """A SKIPPED ENTRY execution saying why (a claim too: nothing runs that entry later), and
    an Order Alert. Returns the reason."""
    trade_date = to_ist(slot_at).date()
    late_s = (now - slot_at).total_seconds()
    reason = (f"missed entry slot {to_ist(slot_at):%H:%M} IST: the emitter handled it at {to_ist(now):%H:%M:%S} IST "
              f"({'%.0f s after' % late_s if late_s >= 0 else '%.0f s before' % -late_s} the slot, tick of "
              f"{to_ist(tick):%H:%M}); entries are never sent late, so this entry was skipped")
    execution_id = keys.execution_id(ref["strategy_id"], ExecutionType.ENTRY, trade_date)
    record = Execution(execution_id=execution_id, user_id=ref["user_id"], strategy_id=ref["strategy_id"],
                       execution_type=ExecutionType.ENTRY, trade_date=trade_date,
                       execution_time=to_ist(slot_at).strftime("%H:%M"), execute_at=slot_at,
                       status=ExecutionStatus.SKIPPED, trigger="SCHEDULE", claimed_by="emitter", claimed_at=now,
                       completed_at=now, reasons=[reason])
    if ctx.repos.executions.claim(record) is not None:
        detail = {"kind": "ENTRY_MISSED", "user_id": ref["user_id"], "strategy_id": ref["strategy_id"],
                  "execution_id": execution_id, "message": reason}
        ctx.publisher.publish(SOURCE_ENGINE, ORDER_ALERT, detail)
        ctx.observer({"event": "skipped", "execution_id": execution_id, "strategy": ref["strategy_id"],
                      "reasons": [reason]})
    return reason


def _slot_events(ctx: EngineContext, slot_at: datetime, tick: datetime, now: datetime,
                 result: EmitterResult, current: bool) -> list[tuple[str, str, dict[str, Any]]]:
    """The events of one slot (and the missed-entry records of a late one)."""
    slot = slot_at.strftime("%H:%M")
    trade_date = slot_at.date()
    holiday = None if ctx.calendar.is_trading_day(trade_date) else f"{trade_date.isoformat()} is not a trading day"
    if current and holiday:
        result.reason = holiday
    late = (slot_at - now).total_seconds() < MIN_LEAD_SECONDS
    late_ms = max(0, round((now - slot_at).total_seconds() * 1000))
    events: list[tuple[str, str, dict[str, Any]]] = []
    for execution_type in (ExecutionType.ENTRY, ExecutionType.EXIT):
        due, moved = _due(ctx, execution_type, slot, trade_date, holiday, result)
        if late and execution_type is ExecutionType.ENTRY:
            for ref in due:
                reason = _record_missed_entry(ctx, ref, slot_at, tick, now)
                result.skipped.append({**ref, "execution_type": "ENTRY", "slot": slot, "reason": reason})
            continue
        result.due += len(due) + len(moved)
        batch = min(BATCH_SIZE, ctx.env.strategies_per_event)
        # holiday-moved exits travel as SQUARE_OFF (Prepare checks exit days only for SCHEDULE),
        # one event each so each carries its own reason
        groups = [(due[i:i + batch], "SCHEDULE", None) for i in range(0, len(due), batch)]
        groups += [([ref], "SQUARE_OFF", why) for ref, why in moved]
        result.holiday_exits.extend({**ref, "reason": why} for ref, why in moved)
        for refs, trigger, why in groups:
            detail: dict[str, Any] = {
                "batch_id": batch_id_for(slot_at, execution_type, refs) + ("-H" if trigger == "SQUARE_OFF" else ""),
                "execution_type": execution_type.value, "trade_date": trade_date.isoformat(), "slot": slot,
                "execute_at": utc_iso_ms(slot_at), "wait_until": utc_iso_ms(slot_at - timedelta(seconds=2)),
                "trigger": trigger, "strategies": refs,
            }
            if why:
                detail["reason"] = why
            if late:
                detail.update({"late": True, "late_ms": late_ms,
                               "reason": f"exit slot {slot} IST announced late (by {late_ms} ms): no tick handled "
                                         "it in time"})
                result.late_exits.extend({**r, "slot": slot, "late_ms": late_ms} for r in refs)
            events.append((SOURCE_EMITTER, EXECUTION_DUE, detail))
    return events


def _publish(ctx: EngineContext, events: list[tuple[str, str, dict[str, Any]]]) -> PublishReport:
    if not events:
        return PublishReport(sent=0)
    publish_many = getattr(ctx.publisher, "publish_many", None)
    if publish_many is not None:
        report = publish_many(events)
        if isinstance(report, PublishReport):
            return report
        return PublishReport(sent=len(events))
    report = PublishReport(sent=0)
    for event in events:
        try:
            ctx.publisher.publish(*event)
            report.sent += 1
        except Exception as exc:  # noqa: BLE001 - one refused event must not drop the others
            report.failed.append({"detail_type": event[1], "batch_id": event[2].get("batch_id"),
                                  "error_code": type(exc).__name__, "error_message": str(exc)})
    return report


# ---------------------------------------------------------------------------- the tick

def run_emitter(ctx: EngineContext, now: datetime | None = None, lookahead_minutes: int | None = None,
                scheduled_at: datetime | str | None = None) -> EmitterResult:
    """One tick. Publishes the due events (this tick's slot and any missed ones) and the seed's
    per-minute events; returns a summary.

    Args:
        now: the tick's instant when no ``scheduled_at`` is given (default: the clock). Kept
            for callers that pass the tick explicitly.
        lookahead_minutes: minutes between the tick and its slot (default: config).
        scheduled_at: the tick's SCHEDULED instant (the event's ``time``; aware datetime or ISO
            string). The slot derives from it; lateness is measured against ``ctx.clock``.
    """
    clock_now = ctx.clock.now()
    if isinstance(scheduled_at, str):
        scheduled_at = parse_instant(scheduled_at)
    tick = scheduled_at or now or clock_now
    lookahead = lookahead_minutes if lookahead_minutes is not None else ctx.env.settings.execution_engine.lookahead_minutes
    slot_at = slot_for(tick, lookahead)
    slot = slot_at.strftime("%H:%M")
    trade_date = slot_at.date()
    result = EmitterResult(slot=slot, trade_date=trade_date.isoformat(), execute_at=utc_iso_ms(slot_at),
                           tick=utc_iso_ms(to_ist(tick).replace(second=0, microsecond=0)))
    minute = to_ist(tick).replace(second=0, microsecond=0)
    per_minute = {"minute": utc_iso_ms(minute), "trade_date": minute.date().isoformat()}
    trading_today = ctx.calendar.is_trading_day(minute.date())
    if trading_today and SESSION_FIRST_SLOT <= minute.strftime("%H:%M") <= "15:30":
        for detail_type in (CHECK_STOP_LOSS, CHECK_DUPLICATE_ORDERS, REFRESH_MARKET_DATA):
            ctx.publisher.publish(SOURCE_EMITTER, detail_type, per_minute)
    in_session = SESSION_FIRST_SLOT <= slot <= SESSION_LAST_SLOT
    if slot_at < clock_now and slot_at.date() != to_ist(clock_now).date():
        # a tick of an earlier day delivered now (a replayed or stuck event): its day is over
        result.reason = f"stale tick of {trade_date.isoformat()} handled on {to_ist(clock_now).date().isoformat()}: ignored"
        return result
    marker = read_marker(ctx)
    # missed slots first (oldest first, bounded), then this tick's own slot
    backlog = missed_slots(marker, slot_at if in_session else _session_end(slot_at))
    pending = backlog[:MAX_CATCH_UP_SLOTS]
    handled_up_to: datetime | None = None
    for missed in pending:
        report = _publish(ctx, _slot_events(ctx, missed, tick, clock_now, result, current=False))
        result.events += report.sent
        result.missed_slots.append(missed.strftime("%H:%M"))
        if report.failed:
            result.unsent.extend(report.failed)
            break
        handled_up_to = missed
    if handled_up_to is not None:
        write_marker(ctx, handled_up_to, clock_now)
    caught_up = len(backlog) <= MAX_CATCH_UP_SLOTS and not result.unsent
    if not in_session:
        result.reason = result.reason or f"slot {slot} IST is outside the session"
        ctx.metric("StrategiesDue", result.due, "Count", {})
        return result
    report = _publish(ctx, _slot_events(ctx, slot_at, tick, clock_now, result, current=True))
    result.events += report.sent
    result.unsent.extend(report.failed)
    if result.unsent:
        ctx.metric("EventsNotSent", len(result.unsent), "Count", {})
    if not report.failed and caught_up:
        write_marker(ctx, slot_at, clock_now)
    if len(backlog) > MAX_CATCH_UP_SLOTS:
        note = f"{len(backlog) - MAX_CATCH_UP_SLOTS} missed slot(s) left for the next ticks"
        result.reason = f"{result.reason}; {note}" if result.reason else note
    ctx.metric("StrategiesDue", result.due, "Count", {})
    if result.missed_slots:
        ctx.metric("MissedSlots", len(result.missed_slots), "Count", {})
    return result


def _session_end(slot_at: datetime) -> datetime:
    """For a tick whose slot is after the session: catch up to the end of the session."""
    local = to_ist(slot_at)
    last = datetime.combine(local.date(), datetime.strptime(SESSION_LAST_SLOT, "%H:%M").time(), tzinfo=local.tzinfo)
    return min(local, last + timedelta(minutes=1))
