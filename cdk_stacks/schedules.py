"""IST wall-clock times to EventBridge cron expressions (UTC).

India has no daylight saving: IST = UTC+05:30 all year, so a fixed conversion is exact.
Trading-day checks (holidays, special sessions) belong to the handlers, not to the cron.
"""

from __future__ import annotations

from aws_cdk import aws_events as events

IST_OFFSET_MINUTES = 5 * 60 + 30
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def ist_to_utc(hhmm: str) -> tuple[int, int, int]:
    """``"08:30"`` IST -> ``(hour, minute, day_shift)`` in UTC; ``day_shift`` is -1 when the
    UTC time falls on the previous day (IST before 05:30), else 0."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    total = hour * 60 + minute - IST_OFFSET_MINUTES
    shift = -1 if total < 0 else 0
    total %= 24 * 60
    return total // 60, total % 60, shift


def shift_weekdays(days: str, shift: int) -> str:
    """Shift a ``MON-FRI`` style range (or ``*``) by ``shift`` days."""
    if days == "*" or shift == 0:
        return days
    def move(day: str) -> str:
        return WEEKDAYS[(WEEKDAYS.index(day) + shift) % 7]
    return "-".join(move(d) for d in days.split("-"))


def daily_ist(hhmm: str, week_days: str = "MON-FRI") -> events.Schedule:
    """Once a day at ``hhmm`` IST on ``week_days`` (IST days), as a UTC cron schedule."""
    hour, minute, shift = ist_to_utc(hhmm)
    return events.Schedule.cron(
        minute=str(minute), hour=str(hour), week_day=shift_weekdays(week_days, shift)
    )
