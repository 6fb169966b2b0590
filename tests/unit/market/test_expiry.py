from datetime import date

import pytest

from shared_utils.market.calendar import load_calendar
from shared_utils.market.errors import ExpiryNotFoundError, NoWeeklyExpiryError
from shared_utils.market.expiry import (
    days_to_expiry,
    expiry_datetime,
    has_weeklies,
    resolve_expiry,
    rule_expiries,
    trading_days_to_expiry,
)
from shared_utils.models.enums import ExpiryType

MONDAY = date(2026, 8, 17)


@pytest.mark.parametrize(
    ("underlying", "expiry_type", "expected", "lot"),
    [
        ("NIFTY", ExpiryType.WEEKLY, date(2026, 8, 18), 65),
        ("NIFTY", ExpiryType.MONTHLY, date(2026, 8, 25), 65),
        ("BANKNIFTY", ExpiryType.MONTHLY, date(2026, 8, 25), 30),
        ("SENSEX", ExpiryType.WEEKLY, date(2026, 8, 20), 20),
    ],
)
def test_resolution_on_the_real_dump(master, underlying, expiry_type, expected, lot):
    expiry = resolve_expiry(master, underlying, expiry_type, 0, MONDAY)
    assert expiry == expected
    strike = master.strikes(underlying, expiry, "CE")[len(master.strikes(underlying, expiry, "CE")) // 2]
    assert master.contract(underlying, expiry, strike, "CE").lot_size == lot


def test_sensex_weekly_is_a_thursday(master):
    assert resolve_expiry(master, "SENSEX", "WEEKLY", 0, MONDAY).weekday() == 3


def test_banknifty_weekly_is_a_clear_error(master):
    with pytest.raises(NoWeeklyExpiryError) as info:
        resolve_expiry(master, "BANKNIFTY", ExpiryType.WEEKLY, 0, MONDAY)
    message = str(info.value)
    assert message.startswith("BANKNIFTY lists no weekly options since 20 Nov 2024")
    assert "SEBI/HO/MRD/TPD-1/P/CIR/2024/132" in message and message.endswith("use MONTHLY")
    with pytest.raises(NoWeeklyExpiryError):
        resolve_expiry(None, "FINNIFTY", "WEEKLY", 0, MONDAY)


def test_offsets_follow_the_listed_expiries(master):
    assert resolve_expiry(master, "NIFTY", "WEEKLY", 1, MONDAY) == date(2026, 8, 25)
    assert resolve_expiry(master, "NIFTY", "MONTHLY", 1, MONDAY) == date(2026, 9, 29)
    # the dump does not list 22 Sep (not yet generated): offset 5 is an error, not the 29 Sep monthly
    with pytest.raises(ExpiryNotFoundError, match="last listed NIFTY weekly expiry is 2026-09-15"):
        resolve_expiry(master, "NIFTY", "WEEKLY", 5, MONDAY)
    # on expiry day itself offset 0 is that day's expiry
    assert resolve_expiry(master, "NIFTY", "WEEKLY", 0, date(2026, 8, 18)) == date(2026, 8, 18)
    assert resolve_expiry(master, "NIFTY", "WEEKLY", 0, date(2026, 8, 19)) == date(2026, 8, 25)
    with pytest.raises(ExpiryNotFoundError, match="last listed BANKEX monthly expiry is 2026-10-29"):
        resolve_expiry(master, "BANKEX", "MONTHLY", 3, MONDAY)
    with pytest.raises(ExpiryNotFoundError, match=">= 0"):
        resolve_expiry(master, "NIFTY", "MONTHLY", -1, MONDAY)


def test_rule_fallback_march_2026_monthly_moves_to_monday():
    assert resolve_expiry(None, "NIFTY", ExpiryType.MONTHLY, 0, date(2026, 3, 2)) == date(2026, 3, 30)
    assert resolve_expiry(None, "BANKNIFTY", ExpiryType.MONTHLY, 0, date(2026, 3, 2)) == date(2026, 3, 30)


def test_rule_fallback_matches_the_dump(master):
    """Where the dump lists every week, the rule must agree with it date for date."""
    cal = load_calendar()
    assert rule_expiries("NIFTY", "WEEKLY", MONDAY, 5, cal) == master.expiries("NIFTY")[:5]
    assert rule_expiries("SENSEX", "WEEKLY", MONDAY, 7, cal) == master.expiries("SENSEX")[:7]
    assert rule_expiries("BANKNIFTY", "MONTHLY", MONDAY, 3, cal) == master.expiries("BANKNIFTY", ExpiryType.MONTHLY)[:3]
    assert rule_expiries("BANKEX", "MONTHLY", MONDAY, 3, cal) == master.expiries("BANKEX", ExpiryType.MONTHLY)[:3]


def test_rule_fallback_dated_weekdays_and_holidays():
    cal = load_calendar()
    # NSE Thursday before 1 Sep 2025, Tuesday from then; BSE Tuesday then Thursday
    assert rule_expiries("NIFTY", "WEEKLY", date(2025, 8, 25), 2, cal) == [date(2025, 8, 28), date(2025, 9, 2)]
    assert rule_expiries("SENSEX", "WEEKLY", date(2025, 8, 25), 2, cal) == [date(2025, 8, 26), date(2025, 9, 4)]
    # BSE 15 Jan 2026 holiday: the SENSEX weekly was preponed to 14 Jan (BSE notice 12 Jan 2026)
    assert rule_expiries("SENSEX", "WEEKLY", date(2026, 1, 12), 1, cal) == [date(2026, 1, 14)]
    # Nov 2026 monthly: last Tuesday 24 Nov is Guru Nanak Jayanti -> Monday 23 Nov
    assert resolve_expiry(None, "NIFTY", "MONTHLY", 0, date(2026, 11, 2), cal) == date(2026, 11, 23)


def test_stale_master_is_an_error_not_a_rule_date(master):
    """A master whose listings all precede the trade date does not answer by the rule."""
    with pytest.raises(ExpiryNotFoundError, match="last listed NIFTY monthly expiry is 2031-06-24"):
        resolve_expiry(master, "NIFTY", "MONTHLY", 0, date(2031, 7, 1))


def test_has_weeklies():
    assert has_weeklies("NIFTY", MONDAY) and has_weeklies("SENSEX", MONDAY)
    for name in ("BANKNIFTY", "FINNIFTY", "MIDCPNIFTY", "NIFTYNXT50", "BANKEX", "SENSEX50", "RELIANCE"):
        assert not has_weeklies(name, MONDAY), name
    assert has_weeklies("BANKNIFTY", date(2024, 11, 13)) and not has_weeklies("BANKNIFTY", date(2024, 11, 20))


def test_days_to_expiry():
    assert days_to_expiry(date(2026, 8, 25), MONDAY) == 8
    assert trading_days_to_expiry(date(2026, 8, 18), MONDAY) == 1
    assert trading_days_to_expiry(date(2026, 8, 18), date(2026, 8, 18)) == 0
    # 30 Mar 2026 -> 7 Apr 2026 skips 31 Mar, 3 Apr and the weekend
    assert trading_days_to_expiry(date(2026, 4, 7), date(2026, 3, 30)) == 4
    assert expiry_datetime(date(2026, 8, 18)).isoformat() == "2026-08-18T15:40:00+05:30"  # NSE 74/2026
    assert expiry_datetime(date(2026, 7, 28)).isoformat() == "2026-07-28T15:30:00+05:30"
    assert expiry_datetime(date(2026, 8, 20), "BFO").isoformat() == "2026-08-20T15:30:00+05:30"
    with pytest.raises(ExpiryNotFoundError):
        trading_days_to_expiry(date(2026, 8, 18), date(2026, 8, 19))
