"""Finding 5 (issue 14): an expiry offset past what the instrument master lists must be an error
naming the master's last listed expiry, never a jump to a later listed expiry.

The master is the real Kite dump of 2026-08-18 (the bundled extract): NIFTY weeklies 18 Aug ...
15 Sep, then only the 29 Sep and 27 Oct monthlies; SENSEX weeklies 20 Aug ... 1 Oct without the
29 Oct monthly.
"""

from datetime import date

import pytest

from shared_utils.market.errors import ExpiryNotFoundError
from shared_utils.market.expiry import resolve_expiry
from shared_utils.market.instruments import InstrumentMaster
from shared_utils.services.market_data import DEFAULT_INSTRUMENTS

MASTER = InstrumentMaster.from_kite_csv(DEFAULT_INSTRUMENTS, as_of=date(2026, 8, 18))


def test_weekly_offset_0_on_16_sep_is_not_the_29_sep_monthly():
    """Old behaviour: 2026-09-29 (the 22 Sep weekly is simply not listed yet)."""
    with pytest.raises(ExpiryNotFoundError) as info:
        resolve_expiry(MASTER, "NIFTY", "WEEKLY", 0, date(2026, 9, 16))
    message = str(info.value)
    assert "last listed NIFTY weekly expiry is 2026-09-15" in message
    assert "instrument master of 2026-08-18" in message
    assert "2026-09-29" in message and "not listed yet" in message


def test_monthly_offset_3_on_18_aug_is_an_error_naming_the_last_monthly():
    """Old behaviour (issue): 2026-12-29, a date by rule the master does not list."""
    with pytest.raises(ExpiryNotFoundError, match="last listed NIFTY monthly expiry is 2026-10-27"):
        resolve_expiry(MASTER, "NIFTY", "MONTHLY", 3, date(2026, 8, 18))


def test_a_last_month_listing_only_weeklies_has_no_monthly():
    """SENSEX's October in the dump is only the 1 Oct weekly: it is not October's monthly."""
    assert resolve_expiry(MASTER, "SENSEX", "MONTHLY", 1, date(2026, 8, 18)) == date(2026, 9, 24)
    with pytest.raises(ExpiryNotFoundError, match="last listed SENSEX monthly expiry is 2026-09-24"):
        resolve_expiry(MASTER, "SENSEX", "MONTHLY", 2, date(2026, 8, 18))
    # as a WEEKLY it is listed and unbroken
    assert resolve_expiry(MASTER, "SENSEX", "WEEKLY", 6, date(2026, 8, 17)) == date(2026, 10, 1)


def test_offsets_inside_the_listings_still_resolve():
    assert resolve_expiry(MASTER, "NIFTY", "WEEKLY", 4, date(2026, 8, 17)) == date(2026, 9, 15)
    assert resolve_expiry(MASTER, "NIFTY", "MONTHLY", 2, date(2026, 8, 18)) == date(2026, 10, 27)
    assert resolve_expiry(MASTER, "NIFTY", "WEEKLY", 0, date(2026, 8, 18)) == date(2026, 8, 18)


def test_a_stale_master_is_an_error_not_a_rule_date():
    with pytest.raises(ExpiryNotFoundError, match="last listed NIFTY weekly expiry is 2026-09-15"):
        resolve_expiry(MASTER, "NIFTY", "WEEKLY", 0, date(2026, 11, 26))
