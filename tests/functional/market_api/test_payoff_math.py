"""The exact breakeven / max profit / max loss solver against a dense numeric evaluation of the
same expiry payoff, over random single-expiry positions (seeded)."""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal

import pytest

from shared_utils.clock import IST
from shared_utils.models.enums import OptionType, TransactionType
from shared_utils.services.calculators import PricedLeg, analyse

NOW = datetime(2026, 8, 17, 9, 30, tzinfo=IST)
EXPIRY_AT = datetime(2026, 8, 18, 15, 30, tzinfo=IST)


def _leg(i, strike, kind, side, lots, premium):
    return PricedLeg(index=i, tradingsymbol=f"X{i}", underlying="NIFTY", expiry=date(2026, 8, 18), expiry_at=EXPIRY_AT,
                     strike=float(strike), option_type=kind, side=side, lots=lots, lot_size=65,
                     premium=Decimal(premium), premium_source="given", forward=25000.0, spot=25000.0, t=0.0034, iv=0.15)


def _payoff(legs, level):
    total = 0.0
    for leg in legs:
        intrinsic = max(level - leg.strike, 0) if leg.option_type is OptionType.CE else max(leg.strike - level, 0)
        total += leg.sign * leg.quantity * (intrinsic - float(leg.premium))
    return total


@pytest.mark.parametrize("seed", range(40))
def test_exact_extremes_and_breakevens_match_a_dense_grid(seed):
    rng = random.Random(seed)
    legs = [_leg(i, rng.randrange(23000, 27001, 50), rng.choice(list(OptionType)), rng.choice(list(TransactionType)),
                 rng.randint(1, 3), f"{rng.uniform(1, 400):.2f}") for i in range(rng.randint(1, 6))]
    result = analyse(legs, NOW, what=frozenset({"premium", "breakeven"}))
    grid = [x * 5.0 for x in range(0, 12001)]  # 0 .. 60000 in 5-point steps (every strike on it)
    values = [_payoff(legs, x) for x in grid]
    top = max(l.strike for l in legs)
    slope = _payoff(legs, top + 1000) - _payoff(legs, top)
    if result["max_profit"] == "unlimited":
        assert slope > 0
    else:
        assert float(result["max_profit"]) == pytest.approx(max(values), abs=0.01)
    if result["max_loss"] == "unlimited":
        assert slope < 0
    else:
        assert float(result["max_loss"]) == pytest.approx(-min(values), abs=0.01)
    for breakeven in result["breakevens"]:
        assert abs(_payoff(legs, breakeven)) <= 0.01 * sum(l.quantity for l in legs) + 0.01
    crossings = sum(1 for a, b in zip(values, values[1:]) if a * b < 0)
    assert len(result["breakevens"]) >= crossings
