"""The domain models accept the seed's bodies verbatim and refuse bad input naming the field."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared_utils.models.allocation import AdvancedAllocationRequest, Allocation, AllocationSpec
from shared_utils.models.basket import BasketCreate
from shared_utils.models.enums import AllocationType, EntryBy, LegType, Weekday
from shared_utils.models.leg import LegsCreate
from shared_utils.models.strategy import StrategySpec
from tests.conftest import seed_request


def _error_fields(exc: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in exc.errors()}


def test_seed_bodies_are_accepted_verbatim():
    basket = BasketCreate.model_validate(seed_request("01_create_basket.json")["body"])
    assert basket.initial_capital == Decimal(500000) and basket.deployable_percentage == Decimal(80)
    strategy = StrategySpec.model_validate(seed_request("02_create_strategy.json")["body"])
    assert strategy.entry_days == [Weekday.MONDAY] and strategy.exit_days == [Weekday.FRIDAY]
    assert strategy.is_intra_day is False
    legs = LegsCreate.model_validate(seed_request("03_add_legs.json")["body"]).legs
    assert [leg.leg_type for leg in legs] == [LegType.PUT, LegType.PUT, LegType.CALL, LegType.CALL]
    assert legs[0].entry_by is EntryBy.DELTA and legs[0].missing_values() == ["strike_selection_config.delta_value"]
    allocations = AdvancedAllocationRequest.model_validate(seed_request("04_leg_level_allocations.json")["body"])
    totals = {a.client_id: sum(o.lots for o in a.allocation_config.leg_overrides.values()) for a in allocations.allocations}
    assert totals == {"ZERODHA123": 8, "ANGELONE456": 10}


@pytest.mark.parametrize("day", ["MON", "MONDAY", "monday", " Mon "])
def test_weekday_spellings_are_stored_one_way(day):
    body = dict(seed_request("02_create_strategy.json")["body"], entry_days=[day, "MONDAY"])
    assert StrategySpec.model_validate(body).entry_days == [Weekday.MONDAY]


@pytest.mark.parametrize(
    "field,value",
    [("product", "CNC"), ("entry_days", ["FUNDAY"]), ("entry_time", "25:00"), ("entry_time", "08:00"),
     ("exit_time", "15:45")],
)
def test_strategy_bad_values_name_the_field(field, value):
    body = dict(seed_request("02_create_strategy.json")["body"], **{field: value})
    with pytest.raises(ValidationError) as exc:
        StrategySpec.model_validate(body)
    assert any(f.startswith(field) for f in _error_fields(exc.value)), exc.value


def test_intraday_rules():
    body = dict(seed_request("02_create_strategy.json")["body"], product="MIS", is_intra_day=True,
                entry_time="10:00", exit_time="09:45", exit_days=[])
    with pytest.raises(ValidationError, match="exit after it enters"):
        StrategySpec.model_validate(body)
    body.update(exit_time="15:10")
    spec = StrategySpec.model_validate(body)
    assert spec.exit_days == spec.entry_days
    with pytest.raises(ValidationError, match="contradicts product"):
        StrategySpec.model_validate(dict(body, is_intra_day=False))


@pytest.mark.parametrize(
    "field,value",
    [("transaction_type", "HOLD"), ("leg_type", "FUTURE"), ("order_type", "ICEBERG"), ("expiry_type", "DAILY"),
     ("entry_by", "VIBES"), ("lots", 0), ("lots", 1.5)],
)
def test_leg_enumerations_are_closed(field, value):
    legs = seed_request("03_add_legs.json")["body"]["legs"]
    bad = dict(legs[0], **{field: value})
    with pytest.raises(ValidationError) as exc:
        LegsCreate.model_validate({"legs": [bad]})
    assert any(field in f for f in _error_fields(exc.value)), exc.value


def test_duplicate_leg_numbers_refused():
    legs = seed_request("03_add_legs.json")["body"]["legs"]
    with pytest.raises(ValidationError, match="leg_no 1 appears twice"):
        LegsCreate.model_validate({"legs": [legs[0], legs[0]]})


def test_leg_aliases_and_selection_method_consistency():
    leg = dict(seed_request("03_add_legs.json")["body"]["legs"][1], leg_type="PE", entry_by="ATM_DISTANCE",
               strike_selection_config={"method": "STRIKE_DISTANCE", "strike_distance": 200})
    parsed = LegsCreate.model_validate({"legs": [leg]}).legs[0]
    assert parsed.leg_type is LegType.PUT and parsed.entry_by is EntryBy.STRIKE_DISTANCE
    assert parsed.missing_values() == []
    with pytest.raises(ValidationError, match="differs from entry_by"):
        LegsCreate.model_validate({"legs": [dict(leg, strike_selection_config={"method": "DELTA", "delta_value": 0.2})]})


def test_allocation_lots_per_leg():
    spec = AdvancedAllocationRequest.model_validate(seed_request("04_leg_level_allocations.json")["body"]).allocations[0]
    allocation = Allocation(user_id="u", strategy_id="s", **spec.model_dump())
    assert [allocation.lots_for_leg(n, 2) for n in (1, 2, 3, 4, 5)] == [3, 3, 1, 1, 0]
    disabled = allocation.model_copy(deep=True)
    disabled.allocation_config.leg_overrides["3"].enabled = False
    assert disabled.lots_for_leg(3, 2) == 0
    simple = AllocationSpec.model_validate({"client_id": "Z1", "priority": 1, "strategy_lots_multiplier": 3})
    assert simple.allocation_config.type is AllocationType.STRATEGY_LEVEL
    assert Allocation(user_id="u", strategy_id="s", **simple.model_dump()).lots_for_leg(1, 2) == 6


def test_allocation_shape_errors():
    with pytest.raises(ValidationError, match="leg_overrides: required"):
        AllocationSpec.model_validate({"client_id": "Z", "allocation_config": {"type": "LEG_LEVEL"}})
    with pytest.raises(ValidationError, match="not a leg number"):
        AllocationSpec.model_validate({"client_id": "Z", "leg_overrides": {"x": {"lots": 1}}})
    with pytest.raises(ValidationError) as exc:
        AllocationSpec.model_validate({"client_id": "Z", "allocation_config": {"type": "BROKER_LEVEL"}})
    assert "allocation_config.type" in _error_fields(exc.value)
