from datetime import date, datetime
import json

import pytest

from shared_utils.clock import IST, UTC, NaiveDatetimeError
from shared_utils.market import calendar as cal_mod
from shared_utils.market.calendar import TradingCalendar, default_calendar, load_calendar
from shared_utils.market.errors import CalendarError


@pytest.fixture(scope="module")
def cal() -> TradingCalendar:
    return load_calendar()


def test_2026_holidays_including_the_one_added_later(cal):
    assert not cal.is_trading_day(date(2026, 1, 15))  # municipal elections, NSE CMTR72260
    assert not cal.is_trading_day(date(2026, 1, 15), "BSE")
    assert not cal.is_trading_day(date(2026, 3, 31))  # Mahavir Jayanti
    assert "72260" in cal.holiday(date(2026, 1, 15)).source
    assert cal.is_trading_day(date(2026, 1, 14)) and cal.is_trading_day(date(2026, 1, 16))


def test_budget_sunday_is_a_full_trading_day(cal):
    sunday = date(2026, 2, 1)
    assert sunday.weekday() == 6
    assert cal.is_trading_day(sunday) and cal.is_trading_day(sunday, "BFO")
    session = cal.session(sunday)
    assert (session.open, session.close) == (datetime(2026, 2, 1, 9, 15, tzinfo=IST), datetime(2026, 2, 1, 15, 30, tzinfo=IST))
    assert session.open_utc == datetime(2026, 2, 1, 3, 45, tzinfo=UTC)
    assert not cal.is_trading_day(date(2026, 2, 8))  # an ordinary Sunday


def test_muhurat_is_not_a_trading_day_but_has_a_session(cal):
    diwali = date(2025, 10, 21)
    assert not cal.is_trading_day(diwali)
    with pytest.raises(CalendarError, match="MUHURAT"):
        cal.session(diwali)
    muhurat = cal.session(diwali, include_muhurat=True)
    assert muhurat.kind == "MUHURAT" and muhurat.open.hour == 13
    with pytest.raises(CalendarError, match="not yet notified"):
        cal.session(date(2026, 11, 8), include_muhurat=True)


def test_closed_day_error_names_the_holiday_and_source(cal):
    with pytest.raises(CalendarError, match="Holi .*CMTR/71775"):
        cal.session(date(2026, 3, 3))


def test_next_previous_and_between(cal):
    assert cal.next_trading_day(date(2026, 3, 30)) == date(2026, 4, 1)  # skips 31 Mar
    assert cal.previous_trading_day(date(2026, 4, 6)) == date(2026, 4, 2)  # skips Good Friday + weekend
    days = cal.trading_days_between(date(2026, 3, 30), date(2026, 4, 6))
    assert days == [date(2026, 3, 30), date(2026, 4, 1), date(2026, 4, 2), date(2026, 4, 6)]
    assert cal.trading_days_between(date(2026, 4, 6), date(2026, 4, 1)) == []


def test_is_open_uses_ist_sessions(cal):
    assert cal.is_open(datetime(2026, 8, 17, 3, 45, tzinfo=UTC))  # 09:15 IST
    assert not cal.is_open(datetime(2026, 8, 17, 3, 44, 59, tzinfo=UTC))
    assert cal.is_open(datetime(2026, 8, 17, 10, 0, tzinfo=UTC))  # 15:30 IST: NSE F&O open to 15:40 from 3 Aug 2026
    assert not cal.is_open(datetime(2026, 8, 17, 10, 10, tzinfo=UTC))  # 15:40 IST: closed
    assert not cal.is_open(datetime(2026, 8, 17, 10, 0, tzinfo=UTC), "BFO")  # BSE: 15:30
    with pytest.raises(NaiveDatetimeError):
        cal.is_open(datetime(2026, 8, 17, 10, 0))


def test_operator_override_adds_a_holiday_without_code(cal, tmp_path, monkeypatch):
    day = date(2026, 8, 19)
    assert cal.is_trading_day(day)
    items = [{"type": "HOLIDAY", "date": "2026-08-19", "exchange": "NSE", "name": "Unscheduled", "source": "NSE/CMTR/99999"}]
    patched = cal.with_overrides(items)
    assert not patched.is_trading_day(day) and patched.is_trading_day(day, "BSE")
    assert cal.is_trading_day(day)  # the original is untouched

    (tmp_path / "extra.json").write_text(json.dumps({"holidays": [{"date": "2026-08-19", "name": "x", "source": "NSE/CMTR/99999"}]}))
    monkeypatch.setenv(cal_mod.OVERRIDES_ENV, str(tmp_path))
    default_calendar.cache_clear()
    try:
        assert not default_calendar().is_trading_day(day, "BSE")
    finally:
        monkeypatch.delenv(cal_mod.OVERRIDES_ENV)
        default_calendar.cache_clear()
    assert default_calendar().is_trading_day(day)


def test_overrides_can_remove_a_holiday_and_reject_unsourced_ones(cal):
    removed = cal.with_overrides({"remove_holidays": [{"date": "2026-03-26", "exchange": ["NSE"]}]})
    assert removed.is_trading_day(date(2026, 3, 26)) and not removed.is_trading_day(date(2026, 3, 26), "BSE")
    with pytest.raises(CalendarError, match="source"):
        cal.with_overrides([{"type": "HOLIDAY", "date": "2026-08-19"}])
    with pytest.raises(CalendarError, match="type"):
        cal.with_overrides([{"type": "HOLIDAYS", "date": "2026-08-19", "source": "x"}])


def test_every_base_holiday_is_a_sourced_weekday(cal):
    assert cal.holidays, "no holiday data loaded"
    for (day, exchange), holiday in cal.holidays.items():
        assert holiday.source, (day, exchange)
        assert day.weekday() < 5, f"{day} {exchange} is a weekend: list it under weekend_holidays"
    assert cal.covers(date(2025, 6, 2)) and cal.covers(date(2026, 6, 1), "BSE") and not cal.covers(date(2027, 1, 4))


def test_pre_open_windows_are_dated(cal):
    assert cal.pre_open(date(2025, 12, 5), segment="FO") is None  # before F&O pre-open existed
    assert cal.pre_open(date(2026, 8, 17), segment="FO") == (
        datetime(2026, 8, 17, 9, 0, tzinfo=IST), datetime(2026, 8, 17, 9, 8, tzinfo=IST))
    assert cal.pre_open(date(2026, 9, 7), segment="FO")[1] == datetime(2026, 9, 7, 9, 10, tzinfo=IST)
    assert cal.pre_open(date(2026, 9, 7), segment="CASH")[1] == datetime(2026, 9, 7, 9, 8, tzinfo=IST)
    assert cal.pre_open(date(2026, 9, 14), segment="FO") is None  # Ganesh Chaturthi
