"""Time for market logic: IST wall clock, UTC on the wire, never naive datetimes.

All market rules (sessions, schedule slots, expiries) are expressed in IST
(``Asia/Kolkata``, UTC+05:30, no DST). Anything sent to AWS (EventBridge detail,
Step Functions timestamps, DynamoDB ``*_at`` attributes) is UTC ISO-8601 with an offset.

A :class:`Clock` is injected wherever "now" matters so that the local platform can run a
real trading morning at any hour (:class:`OffsetClock`) and tests can freeze time
(:class:`FixedClock`).
"""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone
from typing import Protocol
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
UTC = timezone.utc


class NaiveDatetimeError(ValueError):
    """A datetime without tzinfo reached code that needs an instant."""


def require_aware(value: datetime, field: str = "datetime") -> datetime:
    """Return ``value`` unchanged if it carries a timezone, else raise.

    Raises:
        NaiveDatetimeError: naming ``field`` when ``value.tzinfo`` is None.
    """
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetimeError(f"{field}: naive datetime {value.isoformat()} (a timezone is required)")
    return value


def to_ist(value: datetime) -> datetime:
    """Convert an aware datetime to IST. Raises NaiveDatetimeError for naive input."""
    return require_aware(value).astimezone(IST)


def to_utc(value: datetime) -> datetime:
    """Convert an aware datetime to UTC. Raises NaiveDatetimeError for naive input."""
    return require_aware(value).astimezone(UTC)


def ist_datetime(day: date, hhmm: str, second: int = 0) -> datetime:
    """The IST instant of wall-clock ``hhmm`` ("09:30") on ``day``, as an aware datetime."""
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, second, tzinfo=IST)


def utc_iso_ms(value: datetime) -> str:
    """UTC ISO-8601 with milliseconds and a ``Z`` suffix, the format sent to AWS.

    Example: ``2026-08-17T04:00:00.000Z`` for 09:30:00 IST.
    """
    return to_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """Parse an ISO-8601 instant that carries an offset (``Z`` accepted).

    Raises:
        ValueError: if the text has no offset or is not ISO-8601.
    """
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return require_aware(parsed, "instant")


def epoch_ms(value: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime."""
    return int(round(require_aware(value).timestamp() * 1000))


class Clock(Protocol):
    """Source of the current instant. ``now()`` is always timezone-aware (UTC)."""

    def now(self) -> datetime: ...

    def sleep_until(self, instant: datetime) -> None: ...


class SystemClock:
    """The machine's clock. ``sleep_until`` sleeps coarse, then spins the last 2 ms."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep_until(self, instant: datetime) -> None:
        _sleep_until(self, instant)


class OffsetClock:
    """A clock that runs at real speed from a chosen starting instant.

    ``OffsetClock(start=datetime(2026, 8, 17, 9, 29, 30, tzinfo=IST))`` makes ``now()`` return
    09:29:30 IST at construction and advance in real time after that, so a trading morning can
    be replayed at any hour. Sleeps are real sleeps.
    """

    def __init__(self, start: datetime) -> None:
        self._offset = require_aware(start, "start").astimezone(UTC) - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def sleep_until(self, instant: datetime) -> None:
        _sleep_until(self, instant)


class FixedClock:
    """A test clock: ``now()`` returns a set instant; ``sleep_until`` advances it instantly."""

    def __init__(self, start: datetime) -> None:
        self._now = to_utc(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = to_utc(instant)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def sleep_until(self, instant: datetime) -> None:
        with self._lock:
            target = to_utc(instant)
            if target > self._now:
                self._now = target


def _sleep_until(clock: Clock, instant: datetime) -> None:
    """Sleep until ``clock.now() >= instant``: coarse sleep, then a short spin.

    ``time.sleep`` may overshoot by a scheduler quantum; the spin over the last 2 ms keeps the
    wake-up within about a millisecond of the target and never before it.
    """
    target = require_aware(instant, "instant")
    while True:
        remaining = (target - clock.now()).total_seconds()
        if remaining <= 0:
            return
        if remaining > 0.002:
            time.sleep(remaining - 0.002)
        else:
            time.sleep(0)


_default_clock: Clock = SystemClock()


def default_clock() -> Clock:
    """The process-wide clock (the system clock unless the local platform replaced it)."""
    return _default_clock


def set_default_clock(clock: Clock) -> None:
    """Replace the process-wide clock (the local platform's ``--at`` offset clock, tests)."""
    global _default_clock
    _default_clock = clock
