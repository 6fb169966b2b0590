"""Issue 13 item 10: one order-key scheme with no collisions at any size.

The old scheme put a retry offset of 50 into the slice number, so a NIFTY leg above 1,350 lots
(52 freeze slices) gave slice 51 the same key, and so the same broker tag, as the retry of
slice 1: the retry would have been "reconciled" against a different order."""

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared_utils.models.enums import ExecutionType, OrderPurpose
from shared_utils.persistence import keys

EID = keys.execution_id("stg_1", ExecutionType.ENTRY, date(2026, 8, 17))

order_ids = st.tuples(
    st.sampled_from([EID, keys.execution_id("stg_1", ExecutionType.EXIT, date(2026, 8, 17)),
                     keys.execution_id("stg_10", ExecutionType.ENTRY, date(2026, 8, 17))]),
    st.sampled_from(["Z", "Z1", "ZERODHA123", "ANGELONE456"]),
    st.integers(1, keys.MAX_LEG_NO),
    st.sampled_from(list(OrderPurpose)),
    st.integers(0, keys.MAX_ATTEMPT),
    st.integers(0, keys.MAX_SLICE_NO),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(order_ids, min_size=2, max_size=40, unique=True))
def test_distinct_orders_never_share_a_key_or_a_tag(ids):
    made = [keys.order_sk(e, c, leg, slice_no, purpose, attempt) for e, c, leg, purpose, attempt, slice_no in ids]
    assert len(set(made)) == len(ids)
    assert len({keys.order_tag(k) for k in made}) == len(ids)


@settings(max_examples=300, deadline=None)
@given(order_ids)
def test_order_key_round_trips(ident):
    e, c, leg, purpose, attempt, slice_no = ident
    key = keys.order_sk(e, c, leg, slice_no, purpose, attempt)
    assert keys.parse_order_sk(key) == (e, c, leg, purpose, attempt, slice_no)
    assert key.startswith(keys.orders_prefix(e, c))


def test_slice_51_is_not_the_retry_of_slice_1():
    """The reproduction: 52 slices of one leg, then the retry of slice 1."""
    slices = {keys.order_sk(EID, "Z", 1, n, OrderPurpose.ENTRY) for n in range(52)}
    retry_of_slice_1 = keys.order_sk(EID, "Z", 1, 1, OrderPurpose.ENTRY, attempt=1)
    assert len(slices) == 52 and retry_of_slice_1 not in slices


@pytest.mark.parametrize("kwargs", [{"slice_no": 1000}, {"attempt": 100}, {"slice_no": -1}, {"leg_no": 0}])
def test_out_of_range_segments_are_refused_not_wrapped(kwargs):
    args = {"leg_no": 1, "slice_no": 0, "attempt": 0} | kwargs
    with pytest.raises(ValueError):
        keys.order_sk(EID, "Z", args["leg_no"], args["slice_no"], OrderPurpose.ENTRY, args["attempt"])
