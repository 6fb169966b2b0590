from datetime import date

import pytest

from shared_utils.models.enums import ExecutionType, OrderPurpose
from shared_utils.persistence import keys


def test_key_formats_match_architecture():
    assert keys.leg_sk("stg_1", 3) == "LEG#stg_1#03"
    assert keys.allocation_sk("stg_1", "ZERODHA123") == "ALLOCATION#stg_1#ZERODHA123"
    assert keys.execution_sk("stg_1", "ENTRY", date(2026, 8, 17)) == "EXECUTION_ENTRY#stg_1#20260817"
    assert keys.gsi2_pk(ExecutionType.EXIT, "15:20", 3) == "EXIT#15:20#03"
    assert keys.gsi1_keys("stg_1", 2, "Z")["gsi1sk"] == "ALLOCATION#002#Z"
    eid = keys.execution_id("stg_1", ExecutionType.ENTRY, date(2026, 8, 17))
    assert keys.parse_execution_id(eid) == ("stg_1", date(2026, 8, 17), ExecutionType.ENTRY)
    assert keys.order_sk(eid, "Z", 2, 1, OrderPurpose.STOP_LOSS) == f"ORDER#{eid}#Z#02#STOP_LOSS#A00#S001"


def test_legs_sort_numerically_by_key():
    assert sorted(keys.leg_sk("s", n) for n in (10, 2, 1)) == ["LEG#s#01", "LEG#s#02", "LEG#s#10"]


def test_ids_that_would_break_keys_are_refused():
    with pytest.raises(ValueError, match="basket_id"):
        keys.basket_sk("a#b")
    with pytest.raises(ValueError, match="time"):
        keys.gsi2_pk("ENTRY", "9:30")


def test_order_tag_is_deterministic_short_and_alphanumeric():
    a = keys.order_tag("ORDER#x#Z#01#ENTRY#00")
    assert a == keys.order_tag("ORDER#x#Z#01#ENTRY#00")
    assert len(a) == 20 and a.isalnum()
    assert a != keys.order_tag("ORDER#x#Z#01#ENTRY#01")
    assert len({keys.order_tag(f"ORDER#{i}") for i in range(5000)}) == 5000


def test_shards_are_stable_and_spread():
    shards = [keys.shard_of(f"user{i}", 8) for i in range(800)]
    assert shards == [keys.shard_of(f"user{i}", 8) for i in range(800)]
    assert all(60 <= shards.count(s) <= 140 for s in range(8))
