"""Market rules as dated data (issue 15): session times per exchange with circulars, BSE's
calendar for BFO, freeze limits dated with sources, no guessing beyond the calendar's data."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from shared_utils.clock import IST
from shared_utils.market.calendar import default_calendar
from shared_utils.market.errors import CalendarError
from shared_utils.market.freeze import freeze_quantity, freeze_revision, slice_quantity


def test_nse_fo_closes_1540_from_3_aug_2026_with_its_circular():
    cal = default_calendar()
    assert cal.close_time(date(2026, 7, 31), "NFO") == time(15, 30)
    assert cal.close_time(date(2026, 8, 3), "NFO") == time(15, 40)
    assert "74/2026" in cal.session_rule(date(2026, 8, 3), "NSE").source
    assert cal.session(date(2026, 8, 18), "NFO").close == datetime(2026, 8, 18, 15, 40, tzinfo=IST)
    assert cal.session(date(2026, 7, 31), "NFO").close == datetime(2026, 7, 31, 15, 30, tzinfo=IST)
    # BSE's close for that date is unconfirmed: it stays 15:30, with the reason in the data
    assert cal.close_time(date(2026, 8, 18), "BFO") == time(15, 30)
    assert "UNCONFIRMED" in cal.session_rule(date(2026, 8, 18), "BFO").source


def test_bfo_uses_the_bse_calendar():
    """BFO orders were checked against the NSE calendar: a day BSE is closed but NSE open (the
    2025-2026 lists happen to agree, so a BSE-only holiday is added as an operator would) must
    follow BSE for BFO."""
    cal = default_calendar().with_overrides({"holidays": [
        {"date": "2026-08-19", "exchange": "BSE", "name": "BSE-only closure", "source": "test"}]})
    day = date(2026, 8, 19)
    assert not cal.is_trading_day(day, "BFO") and cal.is_trading_day(day, "NFO")
    with pytest.raises(CalendarError, match="BSE-only closure"):
        cal.session(day, "BFO")
    assert cal.session(day, "NFO").close == datetime(2026, 8, 19, 15, 40, tzinfo=IST)


def test_no_session_beyond_the_calendar_data():
    """The calendar ends with 2026: an entry on Republic Day 2027 (or any 2027 day) is refused
    with the reason, never sent on a guessed holiday-free year."""
    cal = default_calendar()
    with pytest.raises(CalendarError, match="no data for 2027.*refusing"):
        cal.session(date(2027, 1, 26), "NFO")
    with pytest.raises(CalendarError, match="no data for 2027"):
        cal.session(date(2027, 1, 5), "BFO")
    assert not cal.is_open(datetime(2027, 1, 5, 10, 0, tzinfo=IST))


def test_session_guard_refuses_beyond_the_calendar_with_the_reason():
    from shared_utils.execution.guards import session_problem

    problem = session_problem(default_calendar(), datetime(2027, 1, 26, 10, 0, tzinfo=IST), "NFO")
    assert problem is not None and "2027" in problem


def test_freeze_limits_dated_with_sources():
    assert freeze_quantity("FINNIFTY", date(2026, 3, 1)) == 1800
    assert freeze_quantity("FINNIFTY", date(2026, 3, 2)) == 1200
    assert "NSE/FAOP/73039" in freeze_revision("FINNIFTY", date(2026, 3, 2)).source
    assert freeze_quantity("NIFTY", date(2026, 3, 2)) == 1800
    # the reported later changes are unconfirmed: not applied
    assert freeze_quantity("FINNIFTY", date(2026, 11, 1)) == 1200


def test_sensex50_has_no_freeze_limit_and_is_never_sliced():
    assert freeze_quantity("SENSEX50", date(2026, 8, 18)) is None
    assert slice_quantity(75 * 40, 75, freeze_quantity("SENSEX50", date(2026, 8, 18))) == [3000]


def test_session_guard_judges_bfo_by_bse_and_nfo_by_nse():
    """BFO orders were checked against the NSE calendar: the guard given the order's exchange
    uses BSE's holidays and close for BFO (15:35 IST after 3 Aug 2026: NFO open, BFO closed)."""
    from shared_utils.execution.guards import session_problem

    cal = default_calendar()
    at = datetime(2026, 8, 18, 15, 35, tzinfo=IST)
    assert session_problem(cal, at, "NFO") is None
    assert "15:30" in session_problem(cal, at, "BFO")
    bse_only = cal.with_overrides({"holidays": [
        {"date": "2026-08-19", "exchange": "BSE", "name": "BSE-only closure", "source": "test"}]})
    noon = datetime(2026, 8, 19, 12, 0, tzinfo=IST)
    assert "not a trading day" in session_problem(bse_only, noon, "BFO")
    assert session_problem(bse_only, noon, "NFO") is None


def test_slices_capped_at_ten_for_kite():
    from shared_utils.market.errors import QuantityError
    from shared_utils.market.freeze import KITE_MAX_SLICES

    assert len(slice_quantity(1755 * 10, 65, 1800, KITE_MAX_SLICES)) == 10
    with pytest.raises(QuantityError, match="11 slices.*at most 10"):
        slice_quantity(1755 * 10 + 65, 65, 1800, KITE_MAX_SLICES)
