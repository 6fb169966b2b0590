"""Expiry resolution: WEEKLY/MONTHLY + offset -> an expiry date, from the master or by rule.

Facts (``shared/reference/indian-markets.md``):

- Weekly options: from 20 Nov 2024 only NIFTY (NSE) and SENSEX (BSE) list weeklies (SEBI
  circular SEBI/HO/MRD/TPD-1/P/CIR/2024/132 of 1 Oct 2024). ``config/market/underlyings.json``
  holds the dated window per index.
- Expiry weekday, by the contract's expiry date: NSE Thursday before 1 Sep 2025 and Tuesday
  from 1 Sep 2025; BSE Friday before 2025, Tuesday from 1 Jan 2025 to 31 Aug 2025, Thursday
  from 1 Sep 2025. Monthly = the last such weekday of the month.
- An expiry on a trading holiday moves to the PREVIOUS trading day (e.g. March 2026 NSE monthly:
  Tue 31 Mar -> Mon 30 Mar, NSE/FAOP/71876).

The instrument master is the truth for what is listed; the dated rule is a fallback used only
when no master is given, the master does not list the underlying, or every expiry it lists is
before the trade date (a stale master).
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from datetime import date, datetime, timedelta
from functools import lru_cache

from shared_utils.clock import IST
from shared_utils.market.calendar import TradingCalendar, default_calendar
from shared_utils.market.errors import ExpiryNotFoundError, MarketError, NoWeeklyExpiryError
from shared_utils.market.instruments import InstrumentMaster, UnderlyingInfo, load_underlyings
from shared_utils.models.enums import ExpiryType

__all__ = [
    "WEEKLY_CIRCULAR",
    "has_weeklies",
    "resolve_expiry",
    "rule_expiries",
    "expiry_weekday",
    "expiry_datetime",
    "days_to_expiry",
    "trading_days_to_expiry",
    "options_exchange",
]

WEEKLY_CIRCULAR = "SEBI circular SEBI/HO/MRD/TPD-1/P/CIR/2024/132"
_WEEKLY_CUTOFF = date(2024, 11, 20)
_TUE, _THU, _FRI = 1, 3, 4
# (exchange, first expiry date the rule applies to, weekday)
_WEEKDAY_RULES: dict[str, tuple[tuple[date, int], ...]] = {
    "NSE": ((date.min, _THU), (date(2025, 9, 1), _TUE)),
    "BSE": ((date.min, _FRI), (date(2025, 1, 1), _TUE), (date(2025, 9, 1), _THU)),
}


@lru_cache(maxsize=1)
def _underlyings() -> dict[str, UnderlyingInfo]:
    return load_underlyings()


def options_exchange(underlying: str, master: InstrumentMaster | None = None) -> str:
    """'NSE' or 'BSE': the exchange whose calendar governs ``underlying``'s expiries.

    From the master when it lists the underlying, else ``config/market/underlyings.json``;
    defaults to NSE (stock options trade on NFO).
    """
    if master is not None:
        try:
            return "BSE" if master.exchange_of(underlying).value == "BFO" else "NSE"
        except MarketError:
            pass
    info = _underlyings().get(underlying)
    return "BSE" if info is not None and info.options_exchange.value == "BFO" else "NSE"


def expiry_weekday(exchange: str, expiry: date) -> int:
    """The weekday (0=Mon) on which ``exchange`` (NSE/BSE) expiries fall around ``expiry``."""
    weekday = _TUE
    for start, wd in _WEEKDAY_RULES["BSE" if exchange.upper() in ("BSE", "BFO") else "NSE"]:
        if expiry >= start:
            weekday = wd
    return weekday


def has_weeklies(underlying: str, on_date: date) -> bool:
    """Whether ``underlying`` lists weekly options on ``on_date`` (cheap; for API validation).

    From 20 Nov 2024 only NIFTY and SENSEX (``WEEKLY_CIRCULAR``); index windows come from
    ``config/market/underlyings.json``. Names not in that file (stock options) have no weeklies.
    """
    info = _underlyings().get(underlying.upper())
    if info is None:
        return False
    if info.weekly_listed_from is not None and on_date < info.weekly_listed_from:
        return False
    if info.weekly_listed_until is not None and on_date >= info.weekly_listed_until:
        return False
    return True


def _no_weeklies_error(underlying: str, on_date: date) -> NoWeeklyExpiryError:
    if on_date >= _WEEKLY_CUTOFF:
        return NoWeeklyExpiryError(
            f"{underlying} lists no weekly options since 20 Nov 2024 ({WEEKLY_CIRCULAR}: one weekly index per "
            f"exchange, NIFTY on NSE and SENSEX on BSE); use MONTHLY"
        )
    return NoWeeklyExpiryError(f"{underlying} lists no weekly options on {on_date.isoformat()}; use MONTHLY")


def _nominal_weekly(exchange: str, start: date, end: date) -> list[date]:
    """Nominal (pre-holiday) weekly expiry dates in [start - 7 days, end + 7 days]."""
    result = []
    monday = start - timedelta(days=start.weekday() + 7)
    while monday <= end + timedelta(days=7):
        for weekday in sorted({wd for _, wd in _WEEKDAY_RULES[exchange]}):
            candidate = monday + timedelta(days=weekday)
            if expiry_weekday(exchange, candidate) == weekday:
                result.append(candidate)
                break
        monday += timedelta(days=7)
    return result


def _nominal_monthly(exchange: str, year: int, month: int) -> date:
    last_day = date(year, month, _stdlib_calendar.monthrange(year, month)[1])
    for weekday in sorted({wd for _, wd in _WEEKDAY_RULES[exchange]}, reverse=True):
        candidate = last_day - timedelta(days=(last_day.weekday() - weekday) % 7)
        if expiry_weekday(exchange, candidate) == weekday:
            return candidate
    raise AssertionError("unreachable: some weekday rule always applies")


def rule_expiries(underlying: str, expiry_type: ExpiryType | str, start: date, count: int,
                  calendar: TradingCalendar | None = None, exchange: str | None = None) -> list[date]:
    """The first ``count`` rule-based expiries on or after ``start`` (holiday-adjusted).

    WEEKLY: every week's expiry weekday; MONTHLY: the last expiry weekday of each month. Each
    date on a holiday moves to the previous trading day of ``exchange`` (default: the
    underlying's options exchange). Does not check whether weeklies are listed.
    """
    calendar = calendar or default_calendar()
    exchange = exchange or options_exchange(underlying)
    expiry_type = ExpiryType(expiry_type)
    result: list[date] = []
    if expiry_type == ExpiryType.MONTHLY:
        year, month = start.year, start.month
        while len(result) < count:
            adjusted = calendar.on_or_before(_nominal_monthly(exchange, year, month), exchange)
            if adjusted >= start:
                result.append(adjusted)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return result
    window_end = start + timedelta(days=7 * (count + 2))
    for nominal in _nominal_weekly(exchange, start, window_end):
        adjusted = calendar.on_or_before(nominal, exchange)
        if adjusted >= start and adjusted not in result:
            result.append(adjusted)
        if len(result) == count:
            break
    return result


def resolve_expiry(master: InstrumentMaster | None, underlying: str, expiry_type: ExpiryType | str,
                   expiry_offset: int, trade_date: date, calendar: TradingCalendar | None = None) -> date:
    """The expiry a leg means: offset 0 = the nearest listed expiry of that type on or after
    ``trade_date`` (IST date), 1 = the next, ...

    WEEKLY means any listed expiry (the monthly expiry is also that week's expiry); MONTHLY
    the last listed expiry of a month (:meth:`InstrumentMaster.expiry_kind`).

    Raises:
        NoWeeklyExpiryError: WEEKLY for an index without weeklies on ``trade_date`` (message
            names the SEBI circular and says to use MONTHLY).
        ExpiryNotFoundError: ``expiry_offset`` < 0, or beyond what the master lists (the
            message names the listed expiries; the platform never invents an unlisted one).
    """
    expiry_type = ExpiryType(expiry_type)
    if expiry_offset < 0:
        raise ExpiryNotFoundError(f"expiry_offset must be >= 0, got {expiry_offset}")
    if expiry_type == ExpiryType.WEEKLY and not has_weeklies(underlying, trade_date):
        raise _no_weeklies_error(underlying, trade_date)
    listed: list[date] = []
    if master is not None:
        try:
            listed = [e for e in master.expiries(underlying, expiry_type) if e >= trade_date]
        except MarketError:
            listed = []
    if listed:
        if expiry_offset < len(listed):
            return listed[expiry_offset]
        raise ExpiryNotFoundError(
            f"{underlying} {expiry_type.value} offset {expiry_offset}: the instrument master lists only "
            f"{len(listed)} such expiries on or after {trade_date.isoformat()} "
            f"({', '.join(e.isoformat() for e in listed)})"
        )
    exchange = options_exchange(underlying, master)
    return rule_expiries(underlying, expiry_type, trade_date, expiry_offset + 1, calendar, exchange)[expiry_offset]


def expiry_datetime(expiry: date, exchange: str = "NSE") -> datetime:
    """The instant trading in an expiring contract ends: the exchange's dated F&O close on
    ``expiry`` (aware IST; 15:40 on NSE from 2026-08-03 per NSE circular 74/2026, else 15:30)."""
    from shared_utils.market.calendar import close_at

    return close_at(expiry, exchange)


def days_to_expiry(expiry: date, trade_date: date) -> int:
    """Calendar days from ``trade_date`` to ``expiry`` (0 on expiry day, negative after)."""
    return (expiry - trade_date).days


def trading_days_to_expiry(expiry: date, trade_date: date, calendar: TradingCalendar | None = None,
                           exchange: str = "NSE") -> int:
    """Trading days d with ``trade_date < d <= expiry`` (0 on expiry day, 1 the day before).

    Raises ExpiryNotFoundError when ``expiry`` is before ``trade_date``.
    """
    if expiry < trade_date:
        raise ExpiryNotFoundError(f"expiry {expiry.isoformat()} is before trade date {trade_date.isoformat()}")
    calendar = calendar or default_calendar()
    return len(calendar.trading_days_between(trade_date + timedelta(days=1), expiry, exchange))
