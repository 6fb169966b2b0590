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
when no master is given or the master does not list the underlying at all. A master that lists
the underlying but not the expiry asked for (an offset past its listings, a week it does not list
yet, every listed expiry before the trade date) is an error naming the master's last listed
expiry: the platform never jumps to a later listed expiry or invents one by rule.

What a master lists (Kite dump of 2026-08-18, NIFTY): the next five weekly expiries, then only
monthlies (18 Aug ... 15 Sep, then 29 Sep, 27 Oct). So a weekly series is complete only up to its
first gap: the weeks after 15 Sep are not listed yet, and a WEEKLY leg on 16 Sep must not become
the 29 Sep monthly. Likewise the last month of a master may list only early weeklies (SENSEX
1 Oct 2026 without the 29 Oct monthly): a month's last listed expiry is its MONTHLY only if a
later month is listed, a future expires that day, or it is the month's expiry by the dated rule.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from datetime import date, datetime, timedelta
from typing import Any
from functools import lru_cache

from shared_utils.market.calendar import TradingCalendar, default_calendar
from shared_utils.market.errors import ExpiryNotFoundError, MarketError, NoWeeklyExpiryError
from shared_utils.market.instruments import InstrumentMaster, UnderlyingInfo, load_underlyings
from shared_utils.models.enums import ExpiryType

__all__ = [
    "WEEKLY_CIRCULAR",
    "has_weeklies",
    "resolve_expiry",
    "rule_expiries",
    "weekly_horizon",
    "listed_monthlies",
    "MAX_WEEKLY_GAP_DAYS",
    "expiry_weekday",
    "expiry_datetime",
    "days_to_expiry",
    "trading_days_to_expiry",
    "options_exchange",
]

WEEKLY_CIRCULAR = "SEBI circular SEBI/HO/MRD/TPD-1/P/CIR/2024/132"
_WEEKLY_CUTOFF = date(2024, 11, 20)
#: consecutive weekly expiries are 7 days apart; a holiday moves one to an earlier trading day
#: (at most a few days), so a gap above this means weeks the master does not list (yet)
MAX_WEEKLY_GAP_DAYS = 10
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


def _master_date(master: Any) -> str:
    as_of = getattr(master, "as_of", None)
    return f"the instrument master of {as_of.isoformat()}" if as_of else "the instrument master"


def weekly_horizon(listed: list[date], start: date) -> list[date]:
    """The expiries of ``listed`` (ascending) on or after ``start`` that form an unbroken weekly
    series: each within :data:`MAX_WEEKLY_GAP_DAYS` of the previous one (the first, of ``start``).
    Stops at the first gap (weeks the master does not list yet)."""
    run: list[date] = []
    previous = start
    for expiry in listed:
        if expiry < start:
            continue
        if (expiry - previous).days > MAX_WEEKLY_GAP_DAYS:
            break
        run.append(expiry)
        previous = expiry
    return run


def listed_monthlies(master: InstrumentMaster, underlying: str, calendar: TradingCalendar | None = None) -> list[date]:
    """``underlying``'s MONTHLY expiries as the master lists them, ascending: the last listed
    expiry of each month, except a last month whose last listed expiry is not its monthly (the
    master lists only that month's early weeklies): that one counts only if a future expires on
    it or it is the month's expiry by the dated rule (holiday-adjusted).

    Raises ContractNotFoundError when the master does not list the underlying's options.
    """
    monthlies = master.expiries(underlying, ExpiryType.MONTHLY)
    if not monthlies:
        return monthlies
    last = monthlies[-1]
    try:
        future_expiries = {f.expiry for f in master.futures(underlying)}
    except MarketError:
        future_expiries = set()
    if last in future_expiries:
        return monthlies
    exchange = options_exchange(underlying, master)
    by_rule = (calendar or default_calendar()).on_or_before(_nominal_monthly(exchange, last.year, last.month), exchange)
    return monthlies if by_rule == last else monthlies[:-1]


def resolve_expiry(master: InstrumentMaster | None, underlying: str, expiry_type: ExpiryType | str,
                   expiry_offset: int, trade_date: date, calendar: TradingCalendar | None = None) -> date:
    """The expiry a leg means: offset 0 = the nearest listed expiry of that type on or after
    ``trade_date`` (IST date), 1 = the next, ...

    WEEKLY means any listed expiry (the monthly expiry is also that week's expiry) within the
    master's unbroken weekly series (:func:`weekly_horizon`); MONTHLY a month's last listed
    expiry (:func:`listed_monthlies`). Without a master, or when the master does not list the
    underlying at all, the dated rule answers (:func:`rule_expiries`; API validation).

    Raises:
        NoWeeklyExpiryError: WEEKLY for an index without weeklies on ``trade_date`` (message
            names the SEBI circular and says to use MONTHLY).
        ExpiryNotFoundError: ``expiry_offset`` < 0, or beyond what the master lists: a weekly
            the master does not list yet, a monthly past its last listed month, or every listed
            expiry before ``trade_date`` (a stale master). The message names the master's last
            listed expiry of that kind (and the master's date when it carries one); the platform
            never jumps to a later listed expiry or invents an unlisted one.
    """
    expiry_type = ExpiryType(expiry_type)
    if expiry_offset < 0:
        raise ExpiryNotFoundError(f"expiry_offset must be >= 0, got {expiry_offset}")
    if expiry_type == ExpiryType.WEEKLY and not has_weeklies(underlying, trade_date):
        raise _no_weeklies_error(underlying, trade_date)
    listed_all: list[date] | None = None
    if master is not None:
        try:
            listed_all = master.expiries(underlying)
        except MarketError:
            listed_all = None  # the master does not list this underlying: the dated rule answers
    if listed_all is None:
        exchange = options_exchange(underlying, master)
        return rule_expiries(underlying, expiry_type, trade_date, expiry_offset + 1, calendar, exchange)[expiry_offset]
    source = _master_date(master)
    wanted = f"{underlying} {expiry_type.value} offset {expiry_offset} on {trade_date.isoformat()}"
    if expiry_type == ExpiryType.MONTHLY:
        monthlies = listed_monthlies(master, underlying, calendar)
        listed = [e for e in monthlies if e >= trade_date]
        if expiry_offset < len(listed):
            return listed[expiry_offset]
        last = monthlies[-1].isoformat() if monthlies else "none"
        raise ExpiryNotFoundError(
            f"{wanted}: {source} lists {len(listed)} monthly expiries on or after that day"
            f"{' (' + ', '.join(e.isoformat() for e in listed) + ')' if listed else ''}; "
            f"its last listed {underlying} monthly expiry is {last}"
        )
    series = weekly_horizon(listed_all, trade_date)
    if expiry_offset < len(series):
        return series[expiry_offset]
    full_run = weekly_horizon(listed_all, listed_all[0]) if listed_all else []
    last_weekly = (series or full_run or [None])[-1]
    later = [e for e in listed_all if e >= trade_date and e not in series]
    gap = (f"; the next listed expiry, {later[0].isoformat()}, is not the following week's "
           "(the weeks between are not listed yet)") if later else ""
    raise ExpiryNotFoundError(
        f"{wanted}: {source} lists {len(series)} weekly expiries in an unbroken series from that day"
        f"{' (' + ', '.join(e.isoformat() for e in series) + ')' if series else ''}; its last listed {underlying} "
        f"weekly expiry is {last_weekly.isoformat() if last_weekly else 'none'}{gap}"
    )


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
