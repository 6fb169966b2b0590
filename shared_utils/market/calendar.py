"""NSE/BSE trading calendar: sessions in IST, holidays and special sessions as dated data.

Data lives in ``config/market/calendar/`` (one JSON file per exchange and year, each holiday with
the circular that announced it; ``sessions.json`` for the session times). Facts and sources:
``shared/reference/indian-markets.md`` and the ``source`` field of every entry.

Rules encoded here:

- A day is a **trading day** for an exchange when it has a normal-timings session: a weekday that
  is not a listed holiday, or a listed ``FULL`` special session (e.g. Sunday 1 Feb 2026, Union
  Budget, normal 09:15-15:30 timings).
- A **Muhurat** session (Diwali, about one hour in the evening) does NOT make the day a trading
  day: schedules, expiry roll-backs and DTE ignore it. ``session(day, include_muhurat=True)``
  returns its window when the exchange has notified the timings.
- Session times are dated data per exchange (``sessions.json`` ``normal_by_exchange``, each row
  with its circular): NSE F&O closes 15:40 from 3 Aug 2026 (NSE circular 74/2026), BSE stays
  15:30 until a BSE notice is added. The platform trades only F&O, so the times of "NSE"/"NFO"
  are the NSE F&O segment's (and BSE/BFO likewise).
- Outside the years the data covers (2025 and 2026 today) :meth:`TradingCalendar.is_trading_day`
  judges by weekday only (for views and schedules), but :meth:`TradingCalendar.session` REFUSES
  (CalendarError naming the exchange and year): no order is sent on a guessed holiday-free
  year; :meth:`TradingCalendar.covers` says whether a date is covered.

Operators add a holiday without a deploy in two ways (both produce a new calendar):

- ``QL_MARKET_OVERRIDES`` = a JSON file or a directory of JSON files, read by
  :func:`default_calendar`;
- :meth:`TradingCalendar.with_overrides` with entries the caller read elsewhere (DynamoDB).

Override format (file or mapping)::

    {"holidays": [{"date": "2026-12-31", "exchange": ["NSE", "BSE"], "name": "...",
                   "source": "NSE/CMTR/99999"}],
     "special_sessions": [{"date": "2026-11-08", "exchange": "NSE", "kind": "MUHURAT",
                           "open": "18:00", "close": "19:00", "name": "...", "source": "..."}],
     "remove_holidays": [{"date": "2026-03-26", "exchange": "NSE", "source": "..."}]}

or a list of single entries each carrying ``"type": "HOLIDAY" | "SPECIAL_SESSION" |
"REMOVE_HOLIDAY"`` (one DynamoDB item per entry). ``exchange`` may be a string or a list and
defaults to both NSE and BSE. Overrides win over the base data for the same (date, exchange).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from shared_utils.clock import IST, UTC, ist_datetime, require_aware, to_ist, to_utc
from shared_utils.market.errors import CalendarError

__all__ = [
    "CALENDAR_DIR",
    "EXCHANGES",
    "Holiday",
    "NormalSessionRule",
    "SpecialSession",
    "Session",
    "TradingCalendar",
    "close_at",
    "default_calendar",
    "load_calendar",
    "IST",
    "UTC",
    "to_ist",
    "to_utc",
    "ist_datetime",
]

CALENDAR_DIR = Path(__file__).resolve().parents[2] / "config" / "market" / "calendar"
OVERRIDES_ENV = "QL_MARKET_OVERRIDES"
#: Exchanges the calendar knows. NFO trades on NSE's calendar, BFO on BSE's.
EXCHANGES = ("NSE", "BSE")
_SEGMENT_TO_EXCHANGE = {"NSE": "NSE", "NFO": "NSE", "BSE": "BSE", "BFO": "BSE"}

_FULL = "FULL"
_MUHURAT = "MUHURAT"


def _exchange(value: str) -> str:
    """Normalise an exchange or segment name (NFO -> NSE, BFO -> BSE). Raises CalendarError."""
    key = str(value).strip().upper()
    if key not in _SEGMENT_TO_EXCHANGE:
        raise CalendarError(f"unknown exchange {value!r}: expected one of NSE, BSE, NFO, BFO")
    return _SEGMENT_TO_EXCHANGE[key]


def _parse_date(value: Any, where: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise CalendarError(f"{where}: bad date {value!r} (expected YYYY-MM-DD)") from exc


def _parse_time(value: Any, where: str) -> time | None:
    if value is None:
        return None
    try:
        hours, minutes = (int(part) for part in str(value).split(":"))
        return time(hours, minutes)
    except ValueError as exc:
        raise CalendarError(f"{where}: bad time {value!r} (expected HH:MM, IST)") from exc


def _exchanges(value: Any) -> tuple[str, ...]:
    if value is None:
        return EXCHANGES
    if isinstance(value, str):
        return (_exchange(value),)
    return tuple(_exchange(v) for v in value)


@dataclass(frozen=True)
class Holiday:
    """A weekday on which ``exchange`` (NSE or BSE) is closed. ``source``: the circular."""

    date: date
    exchange: str
    name: str
    source: str


@dataclass(frozen=True)
class SpecialSession:
    """A session outside the normal calendar.

    ``kind`` FULL: normal timings on a day that would be closed (budget Sunday); MUHURAT: the
    Diwali token session. ``open``/``close`` are IST wall-clock times, None while the exchange
    has not notified them.
    """

    date: date
    exchange: str
    kind: str
    open: time | None
    close: time | None
    name: str
    source: str


@dataclass(frozen=True)
class Session:
    """One trading session: ``open``/``close`` are aware IST datetimes; ``kind`` NORMAL, FULL or
    MUHURAT. ``open_utc``/``close_utc`` give the same instants in UTC (for AWS)."""

    date: date
    exchange: str
    open: datetime
    close: datetime
    kind: str

    @property
    def open_utc(self) -> datetime:
        return to_utc(self.open)

    @property
    def close_utc(self) -> datetime:
        return to_utc(self.close)

    def contains(self, instant: datetime) -> bool:
        """True when ``open <= instant < close``. Raises NaiveDatetimeError for naive input."""
        require_aware(instant, "instant")
        return self.open <= instant < self.close


@dataclass(frozen=True)
class _PreOpenRule:
    segment: str  # CASH or FO
    effective_from: date
    open: time
    close: time
    futures_only: bool
    source: str


_DEFAULT_PRE_OPEN = (
    _PreOpenRule("CASH", date.min, time(9, 0), time(9, 8), False, "shared/reference/indian-markets.md"),
    _PreOpenRule("FO", date(2025, 12, 8), time(9, 0), time(9, 8), True, "shared/reference/indian-markets.md"),
    _PreOpenRule("FO", date(2026, 9, 7), time(9, 0), time(9, 10), True, "shared/reference/indian-markets.md"),
)


@dataclass(frozen=True)
class NormalSessionRule:
    """Normal-market times of ``exchange`` (NSE/BSE, F&O segment) from ``effective_from`` on,
    with the circular (``source``) that set them."""

    exchange: str
    effective_from: date
    open: time
    close: time
    source: str


_DEFAULT_NORMAL = (
    NormalSessionRule("NSE", date(2000, 1, 1), time(9, 15), time(15, 30), "shared/reference/indian-markets.md"),
    NormalSessionRule("NSE", date(2026, 8, 3), time(9, 15), time(15, 40), "NSE circular 74/2026 (F&O close 15:40)"),
    NormalSessionRule("BSE", date(2000, 1, 1), time(9, 15), time(15, 30), "shared/reference/indian-markets.md"),
)


@dataclass(frozen=True)
class _SessionTimes:
    normal_open: time = time(9, 15)
    normal_close: time = time(15, 30)
    pre_open: tuple[_PreOpenRule, ...] = _DEFAULT_PRE_OPEN
    normal_rules: tuple[NormalSessionRule, ...] = _DEFAULT_NORMAL

    def normal_rule(self, day: date, exchange: str) -> NormalSessionRule:
        """The rule in force on ``day`` for ``exchange`` (latest ``effective_from <= day``)."""
        found = None
        for rule in self.normal_rules:
            if rule.exchange == exchange and rule.effective_from <= day:
                if found is None or rule.effective_from >= found.effective_from:
                    found = rule
        if found is None:
            return NormalSessionRule(exchange, date.min, self.normal_open, self.normal_close, "sessions.json normal")
        return found


@dataclass(frozen=True, eq=False)
class TradingCalendar:
    """Holidays and special sessions of NSE and BSE, plus the normal IST session times.

    Immutable: :meth:`with_overrides` returns a new calendar. Build one with
    :func:`load_calendar` or use :func:`default_calendar`.
    """

    holidays: Mapping[tuple[date, str], Holiday]
    special_sessions: Mapping[tuple[date, str], SpecialSession]
    covered_years: Mapping[str, frozenset[int]]
    times: _SessionTimes = field(default_factory=_SessionTimes)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_documents(cls, documents: Iterable[Mapping[str, Any]], times: _SessionTimes | None = None) -> "TradingCalendar":
        """Build from year documents (the ``config/market/calendar/<exch>_<year>.json`` shape).

        Raises CalendarError on malformed entries (naming the file/entry).
        """
        holidays: dict[tuple[date, str], Holiday] = {}
        specials: dict[tuple[date, str], SpecialSession] = {}
        covered: dict[str, set[int]] = {ex: set() for ex in EXCHANGES}
        for doc in documents:
            exchange = _exchange(doc.get("exchange", ""))
            year = doc.get("year")
            if not isinstance(year, int):
                raise CalendarError(f"calendar document for {exchange}: 'year' must be an integer")
            covered[exchange].add(year)
            for entry in doc.get("holidays", []):
                holiday = _holiday(entry, exchange)
                holidays[(holiday.date, exchange)] = holiday
            for entry in doc.get("special_sessions", []):
                special = _special(entry, exchange)
                specials[(special.date, exchange)] = special
        return cls(holidays, specials, {k: frozenset(v) for k, v in covered.items()}, times or _SessionTimes())

    def with_overrides(self, overrides: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> "TradingCalendar":
        """A new calendar with operator overrides applied (format: module docstring).

        ``overrides`` is either one mapping with ``holidays`` / ``special_sessions`` /
        ``remove_holidays`` lists, or an iterable of single entries with a ``type`` key.
        Raises CalendarError for an unknown ``type`` or malformed entry.
        """
        holidays = dict(self.holidays)
        specials = dict(self.special_sessions)
        for kind, entry in _override_entries(overrides):
            for exchange in _exchanges(entry.get("exchange")):
                if kind == "HOLIDAY":
                    holiday = _holiday(entry, exchange)
                    holidays[(holiday.date, exchange)] = holiday
                    specials.pop((holiday.date, exchange), None)
                elif kind == "SPECIAL_SESSION":
                    special = _special(entry, exchange)
                    specials[(special.date, exchange)] = special
                else:  # REMOVE_HOLIDAY
                    holidays.pop((_parse_date(entry.get("date"), "remove_holidays"), exchange), None)
        return replace(self, holidays=holidays, special_sessions=specials)

    # ----------------------------------------------------------------- queries
    def covers(self, day: date, exchange: str = "NSE") -> bool:
        """True when holiday data for ``day``'s year is loaded for ``exchange``."""
        return day.year in self.covered_years.get(_exchange(exchange), frozenset())

    def holiday(self, day: date, exchange: str = "NSE") -> Holiday | None:
        """The listed holiday on ``day`` (with its source), or None."""
        return self.holidays.get((day, _exchange(exchange)))

    def special_session(self, day: date, exchange: str = "NSE") -> SpecialSession | None:
        """The special session listed on ``day``, or None."""
        return self.special_sessions.get((day, _exchange(exchange)))

    def is_trading_day(self, day: date, exchange: str = "NSE") -> bool:
        """True when ``exchange`` (NSE/BSE; NFO/BFO accepted) holds a normal-timings session.

        Weekends are closed unless a FULL special session is listed (Sun 1 Feb 2026); a listed
        holiday is closed; a Muhurat-only day is NOT a trading day (see module docstring).
        Dates outside the loaded years are judged by weekday only (:meth:`covers`).
        """
        exchange = _exchange(exchange)
        special = self.special_sessions.get((day, exchange))
        if special is not None and special.kind == _FULL:
            return True
        if day.weekday() >= 5:
            return False
        return (day, exchange) not in self.holidays

    def session_rule(self, day: date, exchange: str = "NSE") -> NormalSessionRule:
        """The dated normal-market rule of ``exchange`` on ``day`` (times + circular)."""
        return self.times.normal_rule(day, _exchange(exchange))

    def close_time(self, day: date, exchange: str = "NSE") -> time:
        """The normal close (IST wall clock) of ``exchange`` on ``day``: 15:30, or 15:40 on NSE
        from 2026-08-03. Pure data lookup (no holiday check)."""
        return self.session_rule(day, exchange).close

    def session(self, day: date, exchange: str = "NSE", include_muhurat: bool = False) -> Session:
        """The session on ``day``: open/close as aware IST datetimes.

        Normal days: the exchange's dated times (:meth:`session_rule`; NSE F&O 09:15-15:40 from
        2026-08-03, 09:15-15:30 before; BSE 09:15-15:30). FULL special sessions: the special's
        own times. With ``include_muhurat`` a Muhurat day returns its window.

        Raises:
            CalendarError: the exchange is closed that day (message names the holiday and its
                source), the Muhurat timings are not yet notified, or ``day`` lies beyond the
                holiday data (no guessing: the message names the exchange and the year).
        """
        exchange = _exchange(exchange)
        if not self.covers(day, exchange):
            years = sorted(self.covered_years.get(exchange, ()))
            raise CalendarError(
                f"{exchange} holiday calendar has no data for {day.year} (loaded: "
                f"{', '.join(map(str, years)) or 'none'}): refusing to treat {day.isoformat()} as a trading "
                f"day; add the exchange's {day.year} holiday circular to config/market/calendar"
            )
        special = self.special_sessions.get((day, exchange))
        if special is not None and (special.kind == _FULL or (include_muhurat and special.kind == _MUHURAT)):
            if special.open is None or special.close is None:
                raise CalendarError(
                    f"{exchange} {special.name} on {day.isoformat()}: session timings not yet notified "
                    f"(source: {special.source}); add them with an override"
                )
            return Session(day, exchange, _at(day, special.open), _at(day, special.close), special.kind)
        if self.is_trading_day(day, exchange):
            rule = self.times.normal_rule(day, exchange)
            return Session(day, exchange, _at(day, rule.open), _at(day, rule.close), "NORMAL")
        holiday = self.holidays.get((day, exchange))
        reasons = []
        if holiday is not None:
            reasons.append(f"holiday: {holiday.name} (source: {holiday.source})")
        if special is not None:
            reasons.append(f"only a {special.kind} session ({special.name}); pass include_muhurat=True for it")
        reason = "; ".join(reasons) or "weekend"
        raise CalendarError(f"{exchange} is closed on {day.isoformat()} ({day.strftime('%A')}): {reason}")

    def pre_open(self, day: date, exchange: str = "NSE", segment: str = "FO") -> tuple[datetime, datetime] | None:
        """The pre-open order-entry window (aware IST open, close) on a trading day, or None.

        ``segment`` CASH: 09:00-09:08. FO: futures only (no options, no SL/IOC) from 8 Dec 2025,
        09:00-09:08, 09:00-09:10 from 7 Sep 2026; None before 8 Dec 2025 and on closed days.
        Sources: ``config/market/calendar/sessions.json``. Raises CalendarError for an unknown
        exchange.
        """
        _exchange(exchange)
        if not self.is_trading_day(day, exchange):
            return None
        rule = None
        for candidate in self.times.pre_open:
            if candidate.segment == segment.upper() and candidate.effective_from <= day:
                if rule is None or candidate.effective_from >= rule.effective_from:
                    rule = candidate
        if rule is None:
            return None
        return _at(day, rule.open), _at(day, rule.close)

    def is_open(self, instant: datetime, exchange: str = "NSE") -> bool:
        """True when ``instant`` (aware) falls inside the normal/FULL session of its IST date.
        False beyond the holiday data (never a guessed session)."""
        local = to_ist(instant)
        if not self.is_trading_day(local.date(), exchange) or not self.covers(local.date(), exchange):
            return False
        return self.session(local.date(), exchange).contains(local)

    def next_trading_day(self, day: date, exchange: str = "NSE") -> date:
        """The first trading day strictly after ``day``."""
        candidate = day + timedelta(days=1)
        while not self.is_trading_day(candidate, exchange):
            candidate += timedelta(days=1)
        return candidate

    def previous_trading_day(self, day: date, exchange: str = "NSE") -> date:
        """The last trading day strictly before ``day``."""
        candidate = day - timedelta(days=1)
        while not self.is_trading_day(candidate, exchange):
            candidate -= timedelta(days=1)
        return candidate

    def on_or_before(self, day: date, exchange: str = "NSE") -> date:
        """``day`` if it is a trading day, else the previous trading day (expiry roll-back rule)."""
        return day if self.is_trading_day(day, exchange) else self.previous_trading_day(day, exchange)

    def trading_days_between(self, start: date, end: date, exchange: str = "NSE") -> list[date]:
        """Trading days ``d`` with ``start <= d <= end`` (both inclusive), ascending.

        Empty when ``end < start``. ``len()`` of it is the trading-day count.
        """
        days: list[date] = []
        current = start
        while current <= end:
            if self.is_trading_day(current, exchange):
                days.append(current)
            current += timedelta(days=1)
        return days


# --------------------------------------------------------------------------- helpers
def _at(day: date, at: time) -> datetime:
    return datetime(day.year, day.month, day.day, at.hour, at.minute, tzinfo=IST)


def _holiday(entry: Mapping[str, Any], exchange: str) -> Holiday:
    where = f"holiday {entry!r}"
    if not entry.get("source"):
        raise CalendarError(f"{where}: every holiday needs a 'source' (the circular that announced it)")
    return Holiday(_parse_date(entry.get("date"), where), exchange, str(entry.get("name", "")), str(entry["source"]))


def _special(entry: Mapping[str, Any], exchange: str) -> SpecialSession:
    where = f"special session {entry!r}"
    kind = str(entry.get("kind", _FULL)).upper()
    if kind not in (_FULL, _MUHURAT):
        raise CalendarError(f"{where}: kind must be FULL or MUHURAT")
    return SpecialSession(
        _parse_date(entry.get("date"), where),
        exchange,
        kind,
        _parse_time(entry.get("open"), where),
        _parse_time(entry.get("close"), where),
        str(entry.get("name", "")),
        str(entry.get("source", "")),
    )


def _override_entries(overrides: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    if isinstance(overrides, Mapping):
        entries = [("HOLIDAY", e) for e in overrides.get("holidays", [])]
        entries += [("SPECIAL_SESSION", e) for e in overrides.get("special_sessions", [])]
        entries += [("REMOVE_HOLIDAY", e) for e in overrides.get("remove_holidays", [])]
        return entries
    result = []
    for entry in overrides:
        kind = str(entry.get("type", "")).upper()
        if kind not in ("HOLIDAY", "SPECIAL_SESSION", "REMOVE_HOLIDAY"):
            raise CalendarError(f"override {entry!r}: 'type' must be HOLIDAY, SPECIAL_SESSION or REMOVE_HOLIDAY")
        result.append((kind, entry))
    return result


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CalendarError(f"cannot read calendar file {path}: {exc}") from exc


def load_calendar(directory: Path | str = CALENDAR_DIR, overrides_path: Path | str | None = None) -> TradingCalendar:
    """Load every ``<exchange>_<year>.json`` in ``directory`` and ``sessions.json``, then apply
    the override file/directory ``overrides_path`` (if given).

    Raises CalendarError for unreadable or malformed files, or a missing overrides path.
    """
    directory = Path(directory)
    documents = [_read_json(p) for p in sorted(directory.glob("*_[0-9][0-9][0-9][0-9].json"))]
    times = _SessionTimes()
    sessions_file = directory / "sessions.json"
    if sessions_file.exists():
        doc = _read_json(sessions_file)
        normal = doc.get("normal", {})
        rules = tuple(
            _PreOpenRule(
                str(r["segment"]).upper(), _parse_date(r["from"], "sessions.json pre_open"),
                _parse_time(r["open"], "sessions.json") or time(9, 0), _parse_time(r["close"], "sessions.json") or time(9, 8),
                bool(r.get("futures_only", False)), str(r.get("source", "")),
            )
            for r in doc.get("pre_open", [])
        ) or _DEFAULT_PRE_OPEN
        normal_rules = tuple(
            NormalSessionRule(
                _exchange(exchange), _parse_date(r["from"], "sessions.json normal_by_exchange"),
                _parse_time(r["open"], "sessions.json") or time(9, 15),
                _parse_time(r["close"], "sessions.json") or time(15, 30), str(r.get("source", "")),
            )
            for exchange, rows in doc.get("normal_by_exchange", {}).items()
            for r in rows
        ) or _DEFAULT_NORMAL
        times = _SessionTimes(
            _parse_time(normal.get("open", "09:15"), "sessions.json") or time(9, 15),
            _parse_time(normal.get("close", "15:30"), "sessions.json") or time(15, 30),
            rules,
            normal_rules,
        )
    calendar = TradingCalendar.from_documents(documents, times)
    if overrides_path:
        path = Path(overrides_path)
        if not path.exists():
            raise CalendarError(f"{OVERRIDES_ENV} points to {path}, which does not exist")
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        for file in files:
            calendar = calendar.with_overrides(_read_json(file))
    return calendar


def close_at(day: date, exchange: str = "NSE") -> datetime:
    """The normal close of ``exchange`` (F&O) on ``day`` as an aware IST datetime, from the dated
    session data of :func:`default_calendar` (15:40 on NSE from 2026-08-03, else 15:30). The
    instant trading in a contract expiring on ``day`` ends. No holiday check."""
    return _at(day, default_calendar().close_time(day, exchange))


@lru_cache(maxsize=1)
def default_calendar() -> TradingCalendar:
    """The bundled calendar plus ``$QL_MARKET_OVERRIDES`` (file or directory), cached.

    The environment variable is read on the first call; ``default_calendar.cache_clear()``
    reloads. Raises CalendarError when the data or the override path is bad.
    """
    return load_calendar(CALENDAR_DIR, os.environ.get(OVERRIDES_ENV) or None)
