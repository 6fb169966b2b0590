"""Calculators over the handler, checked against hand computations: an iron condor's net
premium, breakevens, max profit and max loss; greeks against textbook Black-76 (Hull's example)
and against finite differences of the platform's own Black-76 price; 422 naming the field."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from shared_utils.market.pricing import black76_price
from shared_utils.models.enums import OptionType
from shared_utils.services.calculators import black76_greeks

RATE = 0.065


def _leg(side, strike, option_type, premium=None, lots=2, expiry="2026-08-18"):
    leg = {"side": side, "lots": lots, "underlying": "NIFTY", "expiry": expiry, "strike": strike, "option_type": option_type}
    if premium is not None:
        leg["premium"] = premium
    return leg


IRON_CONDOR = [_leg("SELL", 24700, "PE", 40), _leg("BUY", 24500, "PE", 15), _leg("SELL", 25300, "CE", 35),
               _leg("BUY", 25500, "CE", 10)]


def test_iron_condor_against_hand_computation(market_api):
    # credit per unit 40 - 15 + 35 - 10 = 50; quantity 2 lots x 65 = 130
    status, body = market_api("POST", "/options/calculator/breakeven", {"legs": IRON_CONDOR})
    assert status == 200, body
    assert body["net_premium"] == "6500.00" and body["net_premium_kind"] == "CREDIT"
    assert body["breakevens"] == [24650.0, 25350.0]  # short strikes -/+ the credit per unit
    assert body["max_profit"] == "6500.00"
    assert body["max_loss"] == "19500.00"  # (wing width 200 - credit 50) x 130
    assert body["payoff_exact"] is True
    status, payoff = market_api("POST", "/options/calculator/payoff", {"legs": IRON_CONDOR, "points": 41})
    assert status == 200
    curve = payoff["payoff"]
    assert len(curve["levels"]) == 41 == len(curve["at_expiry"]) == len(curve["today"])
    assert min(curve["at_expiry"]) == -19500.0 and max(curve["at_expiry"]) <= 6500.0
    for level, pnl in zip(curve["levels"], curve["at_expiry"]):
        if 24700 <= level <= 25300:
            assert pnl == 6500.0
    # today's curve lies between the extremes and is smooth (no kinks before expiry)
    assert all(-19500.0 <= v <= 6500.0 for v in curve["today"])
    status, premium = market_api("POST", "/options/calculator/premium", {"legs": IRON_CONDOR})
    assert premium["net_premium"] == "6500.00" and "greeks" not in premium and "payoff" not in premium


def test_unlimited_risk_and_reward(market_api):
    straddle = [_leg("SELL", 25100, "CE", 80, 1), _leg("SELL", 25100, "PE", 96, 1)]
    body = market_api("POST", "/options/calculator/breakeven", {"legs": straddle})[1]
    assert body["max_loss"] == "unlimited" and body["max_profit"] == "11440.00"  # 176 x 65
    assert body["breakevens"] == [24924.0, 25276.0]
    call = market_api("POST", "/options/calculator/breakeven", {"legs": [_leg("BUY", 25200, "CE", 30, 1)]})[1]
    assert call["max_profit"] == "unlimited" and call["max_loss"] == "1950.00" and call["breakevens"] == [25230.0]


def test_black76_greeks_textbook_value():
    # Hull, "Black's model" example: futures option F0 = K = 20, r = 9 %, T = 4 months, sigma = 25 %
    g = black76_greeks(20.0, 20.0, 4 / 12, 0.09, 0.25, OptionType.PE)
    assert g["price"] == pytest.approx(1.1166, abs=5e-5)
    c = black76_greeks(20.0, 20.0, 4 / 12, 0.09, 0.25, OptionType.CE)
    assert c["price"] == pytest.approx(g["price"], abs=1e-12)  # at the money forward: c = p
    assert c["delta"] - g["delta"] == pytest.approx(math.exp(-0.09 / 3))  # e^{-rT}


def _finite(forward, strike, t, vol, kind):
    h = forward * 1e-4
    p = lambda f=forward, tt=t, v=vol: black76_price(f, strike, tt, RATE, v, kind)  # noqa: E731
    return {"delta": (p(forward + h) - p(forward - h)) / (2 * h),
            "gamma": (p(forward + h) - 2 * p() + p(forward - h)) / (h * h),
            "theta": (p(tt=t - 1 / 365) - p()) if t > 1 / 365 else None,
            "vega": (p(v=vol + 0.005) - p(v=vol - 0.005))}


def test_greeks_over_the_api_match_black76_with_units(market_api):
    legs = [_leg("SELL", 25250, "CE", lots=1, expiry="2026-08-25"), _leg("BUY", 24900, "PE", lots=3, expiry="2026-08-25")]
    status, body = market_api("POST", "/options/calculator/greeks", {"legs": legs})
    assert status == 200, body
    assert body["greeks_units"]["theta"] == "rupees per calendar day"
    assert body["greeks_units"]["vega"] == "rupees per 1 volatility point (1 % absolute)"
    total = dict.fromkeys(("delta", "gamma", "theta", "vega"), 0.0)
    for row in body["legs"]:
        kind = OptionType(row["option_type"])
        vol, forward, t = row["iv_pct"] / 100, row["forward"], row["time_to_expiry_years"]
        # the IV is ours: it reproduces the leg's LTP
        assert black76_price(forward, float(row["strike"]), t, RATE, vol, kind) == pytest.approx(float(row["premium"]), abs=0.01)
        fd = _finite(forward, float(row["strike"]), t, vol, kind)
        per = row["greeks_per_unit"]
        assert per["delta"] == pytest.approx(fd["delta"], abs=2e-4)
        assert per["gamma"] == pytest.approx(fd["gamma"], rel=2e-2)
        assert per["vega"] == pytest.approx(fd["vega"], rel=2e-3)  # per vol point
        assert per["theta"] == pytest.approx(fd["theta"], rel=3e-2)  # one calendar day of decay
        sign = 1 if row["side"] == "BUY" else -1
        for k in total:
            assert row["greeks"][k] == pytest.approx(per[k] * sign * row["quantity"], abs=1e-3)
            total[k] += row["greeks"][k]
    for k, v in total.items():
        assert body["greeks"][k] == pytest.approx(v, abs=1e-3)


def test_rule_legs_resolve_like_the_engine(market_api):
    from shared_utils.market.strikes import choose_strike
    from shared_utils.models.strike_selection import StrikeSelectionConfig

    engine = market_api.engine
    rule = {"side": "SELL", "lots": 1, "underlying": "NIFTY", "expiry_type": "WEEKLY", "option_type": "PE",
            "strike_selection_config": {"method": "DELTA", "delta_value": 0.2}}
    status, body = market_api("POST", "/options/calculator/premium", {"legs": [rule]})
    assert status == 200, body
    from datetime import date

    chain = engine.simulator.chain("NIFTY", date(2026, 8, 18), engine.clock.now())
    choice = choose_strike(chain, "PE", StrikeSelectionConfig(method="DELTA", delta_value=0.2), engine.clock.now())
    (leg,) = body["legs"]
    assert Decimal(leg["strike"]) == choice.strike and leg["premium"] == str(chain.quote(choice.strike, "PE").ltp)


@pytest.mark.parametrize("leg,field", [
    ({"lots": 0}, "body.legs.0.lots"),
    ({"lots": -2}, "body.legs.0.lots"),
    ({"strike": 24725}, "body.legs.0.strike"),
    ({"underlying": "DOGE"}, "body.legs.0.underlying"),
    ({"expiry": "2026-08-19"}, "body.legs.0.expiry"),
    ({"side": "HOLD"}, "body.legs.0.side"),
])
def test_bad_legs_are_422_naming_the_field(market_api, leg, field):
    body = {"legs": [{**_leg("SELL", 24700, "PE", 40), **leg}]}
    status, answer = market_api("POST", "/options/calculator/premium", body)
    assert status == 422, answer
    assert field in [".".join(str(p) for p in d["loc"]) for d in answer["detail"]], answer


def test_legs_on_different_underlyings_are_422(market_api):
    legs = [_leg("SELL", 24700, "PE", 40), {"side": "BUY", "lots": 1, "tradingsymbol": "BANKNIFTY26AUG55000CE"}]
    status, answer = market_api("POST", "/options/calculator/payoff", {"legs": legs})
    assert status == 422 and answer["detail"][0]["loc"] == ["body", "legs", 1, "tradingsymbol"], answer


def test_unknown_tradingsymbol_is_422(market_api):
    status, answer = market_api("POST", "/options/calculator/greeks",
                                {"legs": [{"side": "BUY", "lots": 1, "tradingsymbol": "NIFTY2681899999CE"}]})
    assert status == 422 and answer["detail"][0]["loc"] == ["body", "legs", 0, "tradingsymbol"]
