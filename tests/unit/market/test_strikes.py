"""Strike selection: concrete picks on the real NSE chain of 28 Mar 2022, every method, errors,
and properties of ATM selection."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_utils.clock import IST
from shared_utils.market.errors import StrikeSelectionError
from shared_utils.market.pricing import bs_delta
from shared_utils.market.strikes import OptionChain, OptionQuote, atm_strike, atm_straddle_premium, choose_strike
from shared_utils.models.enums import EntryBy, OptionType
from shared_utils.models.strike_selection import StrikeSelectionConfig

from .conftest import NSE_SNAPSHOT_AT, nse_rows

CE, PE = OptionType.CE, OptionType.PE
D = Decimal


def pick(chain, side, now=NSE_SNAPSHOT_AT, **config):
    return choose_strike(chain, side, StrikeSelectionConfig(**config), now)


# ------------------------------------------------------------------ the real chain
def test_atm_on_the_nse_chain(nse_chain):
    assert nse_chain.spot == D("17022.5")
    assert atm_strike(nse_chain, CE) == D(17000) and atm_strike(nse_chain, PE) == D(17000)
    assert atm_straddle_premium(nse_chain) == (D(17000), D("325.95"))  # 181.50 + 144.45


@pytest.mark.parametrize(
    ("side", "premium", "expected"),
    [(CE, 50, 17350), (PE, 50, 16700), (CE, 100, 17200), (PE, 100, 16900), (CE, 20, 17550), (PE, 25, 16500)],
)
def test_closest_premium_is_what_a_trader_reads_off_the_chain(nse_chain, side, premium, expected):
    # e.g. CE 50: 17300 trades 60.55, 17350 48.55 -> 17350; PE 50: 16700 51.10, 16650 42.60 -> 16700
    choice = pick(nse_chain, side, method="CLOSEST_PREMIUM", premium=premium)
    assert choice.strike == D(expected)
    assert choice.detail["premium"] == str(nse_chain.quote(D(expected), side).ltp)


def _trader_delta_pick(nse_raw, side, target):
    """What a trader gets from NSE's own published IVs: Black-Scholes delta on the spot with the
    conventions that reproduce NSE's IVs (3/365 years, 4 %), nearest |delta| to target."""
    best = None
    for row in nse_rows(nse_raw):
        q = row.get(side.value)
        if not q or not q["impliedVolatility"]:
            continue
        delta = abs(bs_delta(17022.5, row["strikePrice"], 3 / 365, 0.04, q["impliedVolatility"] / 100, side))
        if best is None or abs(delta - target) < best[0]:
            best = (abs(delta - target), row["strikePrice"])
    return D(best[1])


@pytest.mark.parametrize(("side", "target", "expected"), [(CE, 0.25, 17300), (PE, 0.25, 16750), (CE, 0.10, 17550), (PE, 0.15, 16600)])
def test_closest_delta_matches_a_trader_using_nse_ivs(nse_chain, nse_raw, side, target, expected):
    choice = pick(nse_chain, side, method="DELTA", delta_value=target)
    assert choice.strike == D(expected)
    assert _trader_delta_pick(nse_raw, side, target) == D(expected)
    assert abs(choice.detail["delta"] - target) < 0.03
    assert choice.detail["forward_source"] == "put-call parity"
    assert 17030 < choice.detail["forward"] < 17045  # parity at 17000: 17000 + (181.55 - 144.60) ~ 17037


def test_premium_thresholds_on_the_nse_chain(nse_chain):
    assert pick(nse_chain, CE, method="PREMIUM_GTE", premium=50).strike == D(17300)  # 60.55 >= 50; 17350 is 48.55
    assert pick(nse_chain, CE, method="PREMIUM_LTE", premium=50).strike == D(17350)
    assert pick(nse_chain, PE, method="PREMIUM_GTE", premium=50).strike == D(16700)  # 51.10
    assert pick(nse_chain, PE, method="PREMIUM_LTE", premium=50).strike == D(16650)  # 42.60
    assert pick(nse_chain, PE, method="PREMIUM_RANGE", premium_min=40, premium_max=60).strike == D(16700)


def test_straddle_methods_on_the_nse_chain(nse_chain):
    # straddle 325.95: CE target 17325.95 -> 17350 (nearest), PE target 16674.05 -> 16650
    assert pick(nse_chain, CE, method="STRADDLE_WIDTH", straddle_width_multiplier=1).strike == D(17350)
    assert pick(nse_chain, PE, method="STRADDLE_WIDTH", straddle_width_multiplier=1).strike == D(16650)
    # 20 % of 325.95 = 65.19: CE 17300 (60.55), PE 16750 (61.65)
    assert pick(nse_chain, CE, method="ATM_STRADDLE_PERCENT", straddle_percent=20).strike == D(17300)
    assert pick(nse_chain, PE, method="ATM_STRADDLE_PERCENT", straddle_percent=20).strike == D(16750)


# ------------------------------------------------------------------ a chain with widening intervals
EXPIRY_AT = datetime(2026, 8, 18, 15, 30, tzinfo=IST)
NOW = datetime(2026, 8, 17, 9, 30, tzinfo=IST)
#: 50-point strikes near the money, 100 further out, 500 far out (as listed in the real dump)
GRID = [D(k) for k in [23000, 23500, 24000, 24100, 24200, 24300, 24400, 24500, 24550, 24600, 24650, 24700, 24750,
                       24800, 24850, 24900, 24950, 25000, 25050, 25100, 25150, 25200, 25300, 25400, 25500, 26000]]


def synthetic_chain(spot="24880", grid=GRID):
    spot_d = D(spot)
    quotes = {}
    for k in grid:
        intrinsic_ce, intrinsic_pe = max(spot_d - k, D(0)), max(k - spot_d, D(0))
        time_value = max(D(150) - abs(k - spot_d) / 2, D("0.05"))
        quotes[(k, CE)] = OptionQuote(ltp=intrinsic_ce + time_value)
        quotes[(k, PE)] = OptionQuote(ltp=intrinsic_pe + time_value)
    return OptionChain("NIFTY", date(2026, 8, 18), spot_d, EXPIRY_AT, quotes)


def test_offsets_walk_listed_strikes_not_a_constant_interval():
    chain = synthetic_chain()
    assert atm_strike(chain, CE) == D(24900)
    assert pick(chain, CE, NOW, method="ATM_OFFSET", atm_offset=6).strike == D(25200)
    assert pick(chain, CE, NOW, method="ATM_OFFSET", atm_offset=7).strike == D(25300)  # interval widens to 100
    assert pick(chain, PE, NOW, method="ATM_OFFSET", atm_offset=9).strike == D(24400)
    assert pick(chain, PE, NOW, method="ATM_OFFSET", atm_offset=-2).strike == D(25000)  # negative = ITM
    with pytest.raises(StrikeSelectionError, match="beyond the 26 listed strikes"):
        pick(chain, CE, NOW, method="ATM_OFFSET", atm_offset=12)


def test_distance_and_percent_snap_to_listed_strikes():
    chain = synthetic_chain()
    assert pick(chain, CE, NOW, method="STRIKE_DISTANCE", strike_distance=300).strike == D(25200)
    assert pick(chain, CE, NOW, method="STRIKE_DISTANCE", strike_distance=450).strike == D(25300)  # tie 25300/25400 -> nearer ATM
    assert pick(chain, PE, NOW, method="STRIKE_DISTANCE", strike_distance=-100).strike == D(25000)
    # 1 % of 24880 = 248.8 points: CE 25148.8 -> 25150, PE 24651.2 -> 24650
    assert pick(chain, CE, NOW, method="ATM_PERCENT", atm_percent=1).strike == D(25150)
    assert pick(chain, PE, NOW, method="ATM_PERCENT", atm_percent=1).strike == D(24650)
    with pytest.raises(StrikeSelectionError, match="outside the listed strikes"):
        pick(chain, CE, NOW, method="STRIKE_DISTANCE", strike_distance=5000)


def test_fixed_strike_and_errors():
    chain = synthetic_chain()
    assert pick(chain, PE, NOW, method="STRIKE", strike=24550).strike == D(24550)
    with pytest.raises(StrikeSelectionError, match=r"24560 is not listed \(nearest: 24550, 24600\)"):
        pick(chain, PE, NOW, method="STRIKE", strike=24560)
    with pytest.raises(StrikeSelectionError, match="missing delta_value"):
        pick(chain, CE, NOW, method="DELTA")
    with pytest.raises(StrikeSelectionError, match="no strike qualifies"):
        pick(chain, CE, NOW, method="PREMIUM_RANGE", premium_min=2000, premium_max=3000)
    with pytest.raises(StrikeSelectionError, match="has passed"):
        pick(chain, CE, datetime(2026, 8, 18, 15, 31, tzinfo=IST), method="DELTA", delta_value=0.3)
    empty = OptionChain("NIFTY", date(2026, 8, 18), D(24880), EXPIRY_AT, {})
    with pytest.raises(StrikeSelectionError, match="no CE strikes"):
        pick(empty, CE, NOW, method="ATM_OFFSET", atm_offset=0)


def test_every_method_is_implemented():
    chain = synthetic_chain()
    values = {
        EntryBy.ATM_OFFSET: {"atm_offset": 1}, EntryBy.STRIKE_DISTANCE: {"strike_distance": 100},
        EntryBy.ATM_PERCENT: {"atm_percent": D("0.5")}, EntryBy.STRIKE: {"strike": 25000},
        EntryBy.CLOSEST_PREMIUM: {"premium": 100}, EntryBy.PREMIUM_GTE: {"premium": 100},
        EntryBy.PREMIUM_LTE: {"premium": 100}, EntryBy.PREMIUM_RANGE: {"premium_min": 80, "premium_max": 120},
        EntryBy.DELTA: {"delta_value": D("0.3")}, EntryBy.STRADDLE_WIDTH: {"straddle_width_multiplier": D("0.5")},
        EntryBy.ATM_STRADDLE_PERCENT: {"straddle_percent": 30},
    }
    assert set(values) == set(EntryBy)
    for method, extra in values.items():
        for side in (CE, PE):
            choice = pick(chain, side, NOW, method=method, **extra)
            assert choice.method is method and choice.strike in GRID and "atm" in choice.detail


# ------------------------------------------------------------------ properties
grids = st.lists(st.integers(min_value=1, max_value=400), min_size=2, max_size=60, unique=True).map(
    lambda steps: sorted({D(10000 + 25 * s) for s in steps})
).filter(lambda g: len(g) >= 2)


@settings(max_examples=200, deadline=None)
@given(grid=grids, spot_ticks=st.integers(min_value=9_000 * 20, max_value=21_000 * 20))
def test_atm_is_the_nearest_listed_strike_ties_to_the_lower(grid, spot_ticks):
    spot = D(spot_ticks) / 20  # spot on a 0.05 grid
    chain = OptionChain("X", date(2026, 8, 18), spot, EXPIRY_AT, {(k, CE): OptionQuote(ltp=D(1)) for k in grid})
    atm = atm_strike(chain, CE)
    assert atm in grid
    best = min(abs(k - spot) for k in grid)
    assert abs(atm - spot) == best
    assert atm == min(k for k in grid if abs(k - spot) == best)  # tie -> lower strike
    assert pick(chain, CE, NOW, method="ATM_OFFSET", atm_offset=0).strike == atm


@settings(max_examples=100, deadline=None)
@given(grid=grids, spot_ticks=st.integers(min_value=10_000 * 20, max_value=20_000 * 20), offset=st.integers(0, 5))
def test_positive_offsets_are_out_of_the_money_for_both_sides(grid, spot_ticks, offset):
    spot = D(spot_ticks) / 20
    quotes = {(k, side): OptionQuote(ltp=D(1)) for k in grid for side in (CE, PE)}
    chain = OptionChain("X", date(2026, 8, 18), spot, EXPIRY_AT, quotes)
    atm = atm_strike(chain, CE)
    i = grid.index(atm)
    if i + offset < len(grid):
        assert pick(chain, CE, NOW, method="ATM_OFFSET", atm_offset=offset).strike == grid[i + offset]
    if i - offset >= 0:
        assert pick(chain, PE, NOW, method="ATM_OFFSET", atm_offset=offset).strike == grid[i - offset]
