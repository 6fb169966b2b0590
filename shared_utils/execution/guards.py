"""Guards that hold whatever the schedule says: no order outside the normal session or on a
holiday; kill switches stop new entries (exits still run).

Session: 09:15-15:30 IST on trading days (reference/indian-markets.md "Sessions"); the calendar
(``shared_utils.market.calendar``) knows holidays and special sessions.
"""

from __future__ import annotations

from datetime import datetime

from shared_utils.clock import to_ist
from shared_utils.market.calendar import TradingCalendar
from shared_utils.market.errors import CalendarError
from shared_utils.models.enums import ExecutionType
from shared_utils.persistence.repositories import ControlRepository


def session_problem(calendar: TradingCalendar, instant: datetime, exchange: str = "NSE") -> str | None:
    """Why no order may be sent at ``instant`` (aware), or None when it may."""
    local = to_ist(instant)
    day = local.date()
    if not calendar.is_trading_day(day, exchange):
        holiday = calendar.holiday(day) if hasattr(calendar, "holiday") else None
        name = f" ({getattr(holiday, 'name', holiday)})" if holiday else ""
        return f"{day.isoformat()} is not a trading day{name}"
    try:
        session = calendar.session(day, exchange)
    except CalendarError as exc:  # beyond the holiday data: refuse with the reason (issue 15)
        return str(exc)
    if not session.open <= local < session.close:
        return (f"{local.strftime('%H:%M:%S')} IST is outside the trading session "
                f"{session.open.strftime('%H:%M')}-{session.close.strftime('%H:%M')}")
    return None


def kill_switch_problem(controls: ControlRepository, user_id: str, execution_type: ExecutionType) -> str | None:
    """A set global or per-user kill switch blocks ENTRY executions (never exits)."""
    if execution_type is not ExecutionType.ENTRY:
        return None
    on, reason = controls.kill_switch()
    if on:
        return f"platform kill switch is on: {reason or 'no reason given'}"
    on, reason = controls.kill_switch(user_id)
    if on:
        return f"your kill switch is on: {reason or 'no reason given'}"
    return None
