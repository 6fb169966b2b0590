from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_utils.market.errors import QuantityError
from shared_utils.market.freeze import freeze_quantity, max_order_quantity, slice_quantity


def test_dated_freeze_limits():
    assert freeze_quantity("NIFTY", date(2026, 8, 17)) == 1800
    assert freeze_quantity("BANKNIFTY", date(2025, 9, 15)) == 900  # NSE circular 29 Aug 2025
    assert freeze_quantity("BANKNIFTY", date(2026, 8, 17)) == 600  # revised from 3 Nov 2025
    assert freeze_quantity("FINNIFTY", date(2025, 12, 15)) == 1200
    assert freeze_quantity("FINNIFTY", date(2026, 2, 1)) == 1800
    assert freeze_quantity("SENSEX", date(2026, 8, 17)) == 1000
    assert freeze_quantity("SENSEX50", date(2026, 8, 17)) is None  # not found in any source
    assert freeze_quantity("NIFTY", date(2025, 1, 1)) is None  # before the data starts


def test_nifty_lot_65_slices_at_1755():
    # ICICI Direct: NIFTY freeze 1,800 with lot 65 -> 1,755 per order (27 lots)
    assert max_order_quantity(65, 1800) == 1755
    assert slice_quantity(65 * 60, 65, 1800) == [1755, 1755, 390]
    assert slice_quantity(30 * 20, 30, 600) == [600]
    assert slice_quantity(30 * 21, 30, 600) == [600, 30]
    assert slice_quantity(130, 65, None) == [130]


def test_bad_quantities_raise():
    with pytest.raises(QuantityError, match=r"not a positive multiple of the lot size 65 \(1.49 lots\)"):
        slice_quantity(97, 65, 1800)
    with pytest.raises(QuantityError):
        slice_quantity(0, 65, 1800)
    with pytest.raises(QuantityError, match="smaller than one lot"):
        slice_quantity(130, 65, 50)


@settings(max_examples=300, deadline=None)
@given(lots=st.integers(1, 5000), lot_size=st.integers(1, 2000), freeze=st.integers(1, 20000))
def test_slices_are_lot_multiples_within_the_freeze_and_sum_up(lots, lot_size, freeze):
    quantity = lots * lot_size
    if freeze < lot_size:
        with pytest.raises(QuantityError):
            slice_quantity(quantity, lot_size, freeze)
        return
    slices = slice_quantity(quantity, lot_size, freeze)
    assert sum(slices) == quantity
    assert all(s > 0 and s % lot_size == 0 and s <= freeze for s in slices)
    step = max_order_quantity(lot_size, freeze)
    assert len(slices) == -(-quantity // step)  # the fewest orders possible


@given(quantity=st.integers(1, 100000), lot_size=st.integers(2, 500))
def test_non_multiples_are_rejected(quantity, lot_size):
    if quantity % lot_size:
        with pytest.raises(QuantityError):
            slice_quantity(quantity, lot_size, 1800)
