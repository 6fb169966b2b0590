from decimal import Decimal

import pytest

from shared_utils.execution.trailing import trailed_trigger

T = Decimal("0.05")


@pytest.mark.parametrize(
    "quantity,average,ltp,current,expected",
    [
        (-65, "100", "75", "150", None),        # short only 25% in profit: trailing not active (needs 30%)
        (-65, "100", "70", "150", "90.00"),     # 30% in profit: stop comes down to LTP + 20
        (-65, "100", "60", "90", "80.00"),      # further in profit: tightened again
        (-65, "100", "65", "80", None),         # LTP bounced: 65 + 20 = 85 would loosen the 80 stop
        (65, "100", "140", "75", "120.00"),     # long 40% up: stop raised to LTP - 20
        (65, "100", "135", "120", None),        # long pulled back: never lowered
        (65, "100.30", "130.40", "75", "110.30"),  # 130.40 - 20.06 = 110.34: a SELL stop rounds down to the tick
    ],
)
def test_trailing_only_tightens(quantity, average, ltp, current, expected):
    result = trailed_trigger(quantity, Decimal(average), Decimal(ltp), Decimal(current), Decimal("30"), Decimal("20"),
                             "PERCENTAGE", T)
    assert result == (Decimal(expected) if expected else None)


def test_points_mode():
    assert trailed_trigger(-65, Decimal("50"), Decimal("38"), Decimal("75"), Decimal("10"), Decimal("6"),
                           "POINTS", T) == Decimal("44.00")
    assert trailed_trigger(-65, Decimal("50"), Decimal("45"), Decimal("75"), Decimal("10"), Decimal("6"),
                           "POINTS", T) is None
