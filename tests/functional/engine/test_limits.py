"""Issue 13 item 9 / I8: sane size. Leg lots 10,000 x multiplier 1,000 used to be accepted
(650,390,000 units) and reported executable; the risk fields max_daily_loss,
max_margin_utilization and position_sizing.max_lots were accepted and read nowhere."""

from decimal import Decimal

from shared_utils.execution.runner import run_state_machine
from shared_utils.models.allocation import Allocation
from shared_utils.models.execution import Position
from tests.functional.engine.conftest import due_event


def _locs(body):
    return [(tuple(d["loc"]), d["msg"]) for d in body["detail"]]


def test_api_refuses_leg_lots_above_the_platform_limit(engine, seed_strategy, api):
    _, strategy_id = seed_strategy
    status, body = api("PUT", f"/options/strategies/{strategy_id}/legs/1", {"lots": 10000})
    assert status == 422, body
    ((loc, msg),) = _locs(body)[:1]
    assert loc[-1] == "lots" and "max_lots_per_leg (200)" in msg


def test_api_refuses_a_multiplier_that_makes_a_leg_too_big(engine, seed_strategy, api):
    _, strategy_id = seed_strategy
    status, body = api("PUT", f"/options/strategies/{strategy_id}/allocations/ZERODHA123",
                       {"strategy_lots_multiplier": 1000})
    assert status == 422, body
    loc, msg = _locs(body)[0]
    assert loc[-1] == "strategy_lots_multiplier" and "max_lots_per_leg (200)" in msg


def test_api_refuses_units_above_the_limit(engine, seed_strategy, api):
    """190 lots are inside max_lots_per_leg, but 190 x 65 = 12,350 units; with the unit limit at
    its config value (20,000) 400 lots of an override would be refused on both counts."""
    _, strategy_id = seed_strategy
    status, body = api("PUT", f"/options/strategies/{strategy_id}/allocations/ANGELONE456",
                       {"leg_overrides": {"1": {"lots": 190}, "2": {"lots": 400}, "3": {"lots": 1}, "4": {"lots": 1}}})
    assert status == 422, body
    messages = [msg for _, msg in _locs(body)]
    assert any("400 lots x lot size 65 = 26,000 units exceed the platform limit max_units_per_order (20,000)" in m
               for m in messages), messages


def test_position_sizing_max_lots_is_enforced(engine, seed_strategy, api):
    """ANGELONE456 trades 4 lots of leg 4: a position_sizing.max_lots of 2 is refused naming
    the leg and the account; raising the override above a leg's max_lots is refused too."""
    _, strategy_id = seed_strategy
    status, body = api("PUT", f"/options/strategies/{strategy_id}/legs/4", {"position_sizing": {"max_lots": 2}})
    assert status == 422 and "leg 4 in ANGELONE456: 4 lots exceed the leg's position_sizing.max_lots (2)" in \
        _locs(body)[0][1]
    assert api("PUT", f"/options/strategies/{strategy_id}/legs/3", {"position_sizing": {"max_lots": 4}})[0] == 200
    status, body = api("PUT", f"/options/strategies/{strategy_id}/allocations/ANGELONE456",
                       {"leg_overrides": {"1": {"lots": 1}, "2": {"lots": 1}, "3": {"lots": 5}, "4": {"lots": 4}}})
    assert status == 422 and "position_sizing.max_lots (4)" in _locs(body)[0][1]


def test_margin_utilization_is_enforced_when_the_broker_reports_margin(engine, seed_strategy):
    """The seed's allocations carry max_margin_utilization 70 / 60 (percent)."""
    user_id, strategy_id = seed_strategy
    zerodha = engine.paper.client_for(engine.repos.accounts.get(user_id, "ZERODHA123"))
    zerodha.margins = lambda: {"used": Decimal("80000"), "available": Decimal("20000")}   # 80 % used
    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    assert zerodha.order_book() == [] and summary["status"] == "PARTIAL"
    assert any("margin utilization 80.0% has reached max_margin_utilization 70" in r for r in summary["reasons"])
    # ANGELONE456's paper client reports no margin: it traded, and the reasons say the limit was not checked
    assert any("ANGELONE456: max_margin_utilization 60" in r and "not checked" in r for r in summary["reasons"])


def test_resolve_refuses_an_oversized_account_even_if_stored(engine, seed_strategy):
    """An allocation that got into the table some other way (older version, direct write) is
    refused again at Resolve; the other account trades."""
    user_id, strategy_id = seed_strategy
    stored = engine.repos.allocations.get(user_id, strategy_id, "ANGELONE456")
    huge = Allocation.model_validate({**stored.model_dump(), "allocation_config": {
        "type": "LEG_LEVEL", "leg_overrides": {"1": {"lots": 5000}, "2": {"lots": 5000}, "3": {"lots": 1},
                                               "4": {"lots": 1}}}})
    engine.repos.allocations.update(huge, stored.version)
    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    assert summary["orders"] == 4, "only ZERODHA123's orders were planned"
    assert any("ANGELONE456 leg 1: 5000 lots exceed the platform limit max_lots_per_leg (200)" in r
               for r in summary["reasons"]), summary["reasons"]
    assert engine.paper.brokers().get("ANGELONE456") is None or engine.paper.brokers()["ANGELONE456"].order_book() == []


def test_notional_limit_at_resolve(engine, seed_strategy):
    user_id, strategy_id = seed_strategy
    limits = engine.env.settings.execution_engine.limits
    small = limits.model_copy(update={"max_notional_per_account": Decimal("5000000")})  # Rs 50 lakh
    object.__setattr__(engine.env.settings.execution_engine, "limits", small)  # the config is frozen
    try:
        (event,) = due_event(engine)
        (summary,) = run_state_machine(event, engine)["results"]
    finally:
        object.__setattr__(engine.env.settings.execution_engine, "limits", limits)
    # ZERODHA123: 8 lots x 65 x ~25,000 = ~1.3 crore; ANGELONE456: 10 lots = ~1.6 crore: both refused
    assert summary["status"] == "FAILED" and summary["orders"] == 0
    assert sum("max_notional_per_account Rs 5,000,000.00" in r for r in summary["reasons"]) == 2


def test_daily_loss_stops_new_entries(engine, seed_strategy, api):
    user_id, strategy_id = seed_strategy
    assert api("PUT", f"/options/strategies/{strategy_id}/allocations/ZERODHA123",
               {"risk_limits": {"max_daily_loss": 2000}})[0] == 200
    engine.repos.positions.create(Position(
        user_id=user_id, strategy_id=strategy_id, client_id="ZERODHA123", tradingsymbol="NIFTY2681824850CE",
        exchange="NFO", leg_no=3, product="NRML", lot_size=65, quantity=0, realised_pnl=Decimal("-2500"),
        status="CLOSED", updated_at=engine.clock.now(), created_at=engine.clock.now()))
    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    assert summary["orders"] == 4
    assert any("ZERODHA123: loss today Rs 2,500.00 has reached max_daily_loss Rs 2,000.00" in r
               for r in summary["reasons"]), summary["reasons"]
