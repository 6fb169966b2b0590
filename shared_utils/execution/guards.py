"""Guards that hold whatever the schedule says: no order outside the normal session or on a
holiday; kill switches (global, per user, per account) stop new entries, read immediately
before every send (exits still run).

Session: 09:15-15:30 IST on trading days (reference/indian-markets.md "Sessions"); the calendar
(``shared_utils.market.calendar``) knows holidays and special sessions.
"""

from __future__ import annotations

from datetime import datetime

from shared_utils.clock import to_ist
from shared_utils.market.calendar import TradingCalendar
from shared_utils.models.enums import ExecutionType
from shared_utils.persistence.repositories import ControlRepository, Repositories


def session_problem(calendar: TradingCalendar, instant: datetime, exchange: str = "NSE") -> str | None:
    """Why no order may be sent at ``instant`` (aware), or None when it may."""
    local = to_ist(instant)
    day = local.date()
    if not calendar.is_trading_day(day, exchange):
        holiday = calendar.holiday(day) if hasattr(calendar, "holiday") else None
        name = f" ({getattr(holiday, 'name', holiday)})" if holiday else ""
        return f"{day.isoformat()} is not a trading day{name}"
    session = calendar.session(day, exchange)
    if not session.open <= local < session.close:
        return (f"{local.strftime('%H:%M:%S')} IST is outside the trading session "
                f"{session.open.strftime('%H:%M')}-{session.close.strftime('%H:%M')}")
    return None


def kill_switch_problem(repos: Repositories | ControlRepository, user_id: str, execution_type: ExecutionType | str,
                        client_id: str | None = None) -> str | None:
    """Why no ENTRY order may be sent now because of a kill switch, or None (contract C3).

    Reads the global, the user's and (with ``client_id``) the account's switch in one
    BatchGetItem: call it immediately before a send (entries, retries, completions). Exits are
    never blocked (``execution_type`` EXIT -> None without a read).

    Args:
        repos: :class:`Repositories` (or its ``controls`` repository).
    """
    if ExecutionType(execution_type) is not ExecutionType.ENTRY:
        return None
    controls: ControlRepository = getattr(repos, "controls", repos)
    switches = controls.kill_switches(user_id, client_id)
    labels = {"GLOBAL": "platform kill switch", "USER": "your kill switch",
              "ACCOUNT": f"kill switch of account {client_id}"}
    for scope in ("GLOBAL", "USER", "ACCOUNT"):
        item = switches.get(scope)
        if item and item.get("on"):
            who = f" (set by {item['set_by']} at {item.get('updated_at')})" if item.get("set_by") else ""
            return f"{labels[scope]} is on: {item.get('reason') or 'no reason given'}{who}"
    return None
