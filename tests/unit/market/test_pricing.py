"""Pricing tests, including IVs against the NSE option chain of 28 Mar 2022 10:47:19 IST."""

import math
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest

from shared_utils.clock import IST, NaiveDatetimeError
from shared_utils.market.errors import PricingError
from shared_utils.market.pricing import (
    black76_delta,
    black76_price,
    bs_delta,
    bs_price,
    implied_vol,
    round_to_tick,
    year_fraction,
)

from .conftest import NSE_SNAPSHOT_AT, nse_rows

SPOT_2022 = 17022.5


def test_black_scholes_textbook_value():
    # Hull, Options Futures and Other Derivatives, example 15.6: S=42, K=40, r=10%, vol=20%, T=0.5
    assert bs_price(42, 40, 0.5, 0.10, 0.20, "CE") == pytest.approx(4.76, abs=0.005)
    assert bs_price(42, 40, 0.5, 0.10, 0.20, "PE") == pytest.approx(0.81, abs=0.005)


def test_black76_put_call_parity_and_delta():
    f, k, t, r, v = 25000.0, 25200.0, 7 / 365, 0.065, 0.14
    call, put = black76_price(f, k, t, r, v, "CE"), black76_price(f, k, t, r, v, "PE")
    assert call - put == pytest.approx(math.exp(-r * t) * (f - k), abs=1e-8)
    dc, dp = black76_delta(f, k, t, r, v, "CE"), black76_delta(f, k, t, r, v, "PE")
    assert 0 < dc < 0.5 and -1 < dp < -0.5
    assert dc - dp == pytest.approx(math.exp(-r * t))
    bump = 0.01
    numeric = (black76_price(f + bump, k, t, r, v, "CE") - black76_price(f - bump, k, t, r, v, "CE")) / (2 * bump)
    assert dc == pytest.approx(numeric, rel=1e-6)
    assert bs_delta(42, 40, 0.5, 0.10, 0.20, "CE") == pytest.approx(0.7791, abs=1e-4)


@pytest.mark.parametrize("model", ["black76", "bs"])
@pytest.mark.parametrize("side", ["CE", "PE"])
def test_implied_vol_round_trip(model, side):
    u, k, t, r = 24900.0, 25100.0, 3.2 / 365, 0.065
    for vol in (0.08, 0.15, 0.4, 1.2):
        price = black76_price(u, k, t, r, vol, side) if model == "black76" else bs_price(u, k, t, r, vol, side)
        assert implied_vol(price, u, k, t, r, side, model=model) == pytest.approx(vol, abs=1e-6)


def test_no_solution_returns_none():
    t = 5 / 365
    intrinsic = math.exp(-0.065 * t) * 500
    assert implied_vol(intrinsic - 1, 25000, 24500, t, 0.065, "CE") is None  # below intrinsic
    assert implied_vol(30000, 25000, 24500, t, 0.065, "CE") is None  # above the forward
    assert implied_vol(100, 25000, 25000, 0.0, 0.065, "CE") is None  # expired
    with pytest.raises(PricingError):
        implied_vol(-1, 25000, 25000, t, 0.065, "CE")
    with pytest.raises(PricingError):
        implied_vol(10, 0, 25000, t, 0.065, "CE")
    with pytest.raises(PricingError):
        implied_vol(10, 25000, 25000, t, 0.065, "CE", model="heston")


def test_year_fraction_and_rounding():
    now = datetime(2026, 8, 17, 15, 30, tzinfo=IST)
    assert year_fraction(now, now + timedelta(days=1)) == pytest.approx(1 / 365)
    with pytest.raises(NaiveDatetimeError):
        year_fraction(datetime(2026, 8, 17), now)
    assert round_to_tick(101.024) == Decimal("101.00")
    assert round_to_tick(101.025) == Decimal("101.05")
    assert round_to_tick(Decimal("101.07"), Decimal("0.05"), ROUND_FLOOR) == Decimal("101.05")
    assert round_to_tick(101.01, "0.05", ROUND_CEILING) == Decimal("101.05")
    assert round_to_tick(24610.93, Decimal("0.1")) == Decimal("24610.9")


def _liquid_quotes(nse_raw):
    """Quotes that traded >= 50,000 contracts that day (46 quotes, strikes 15800-18500)."""
    return [
        (row["strikePrice"], side, row[side])
        for row in nse_rows(nse_raw)
        for side in ("CE", "PE")
        if side in row and row[side]["totalTradedVolume"] >= 50_000
    ]


def test_ivs_reproduce_nse_published_ones(nse_raw):
    """NSE does not publish its IV conventions. The snapshot fits NSE computing Black-Scholes on
    the spot (underlyingValue) with time = whole calendar days to expiry / 365 (3/365 here) and a
    rate of a few percent, on the bid/ask mid. With those inputs (rate 4 %, close to the 91-day
    T-bill yield of March 2022) our solver reproduces every liquid published IV within 0.5 vol
    points. Why 0.5: the quotes' bid/ask/LTP were not captured at the same instant as NSE's IV
    computation, one 0.05 tick on a ~25-rupee option moves IV by ~0.1 point, and any rate
    between 4 % and 7 % fits equally well (shifts of ~0.1-0.2 point)."""
    quotes = _liquid_quotes(nse_raw)
    assert len(quotes) >= 40
    errors = []
    for strike, side, q in quotes:
        mid = (q["bidprice"] + q["askPrice"]) / 2
        ours = implied_vol(mid, SPOT_2022, strike, 3 / 365, 0.04, side, model="bs")
        errors.append((strike, side, ours * 100 - q["impliedVolatility"]))
    worst = max(errors, key=lambda e: abs(e[2]))
    assert abs(worst[2]) < 0.5, worst


def test_platform_time_convention_differs_by_the_time_ratio_only(nse_raw):
    """The platform measures time exactly, to 15:30 IST on expiry (3.20 days here, not 3). IV
    scales with 1/sqrt(T), so our IVs times sqrt(T_ours / T_nse) must land on NSE's within the
    same 0.5 point; unscaled they sit ~1 point lower, a real convention gap, not a solver error."""
    t_ours = year_fraction(NSE_SNAPSHOT_AT, datetime(2022, 3, 31, 15, 30, tzinfo=IST))
    assert t_ours * 365 == pytest.approx(3.197, abs=0.001)
    scale = math.sqrt(t_ours / (3 / 365))
    for strike, side, q in _liquid_quotes(nse_raw):
        mid = (q["bidprice"] + q["askPrice"]) / 2
        ours = implied_vol(mid, SPOT_2022, strike, t_ours, 0.04, side, model="bs")
        assert ours * scale * 100 == pytest.approx(q["impliedVolatility"], abs=0.5), (strike, side)
        assert ours * 100 < q["impliedVolatility"] + 0.2, (strike, side)
