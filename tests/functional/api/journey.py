"""The seed's journey 1, request by request, with the returned ids substituted for the seed's
placeholders (basket_456, strategy_789)."""

from tests.conftest import seed_request

#: selection values the seed leaves out: SELL legs by delta, BUY hedges 200 points further out
COMPLETE_SELECTION = {
    1: {"method": "DELTA", "delta_value": 0.2},
    2: {"method": "STRIKE_DISTANCE", "strike_distance": 400},
    3: {"method": "DELTA", "delta_value": 0.2},
    4: {"method": "STRIKE_DISTANCE", "strike_distance": 400},
}


def run_journey(call, user="user-a", link=None):
    """Run the 4 requests through ``call(method, path, body, user) -> (status, json)``; returns
    the ids. ``link(user, client_id)`` links the two broker accounts first."""
    if link is not None:
        link(user, "ZERODHA123", "zerodha")
        link(user, "ANGELONE456", "angel")
    basket_req = seed_request("01_create_basket.json")
    status, basket = call(basket_req["method"], basket_req["path"], basket_req["body"], user)
    assert status == 201, basket
    basket_id = basket["basket_id"]
    strategy_req = seed_request("02_create_strategy.json")
    status, strategy = call(strategy_req["method"], strategy_req["path"].replace("basket_456", basket_id),
                            strategy_req["body"], user)
    assert status == 201, strategy
    strategy_id = strategy["strategy_id"]
    legs_req = seed_request("03_add_legs.json")
    status, legs = call(legs_req["method"], legs_req["path"].replace("strategy_789", strategy_id), legs_req["body"], user)
    assert status == 201, legs
    alloc_req = seed_request("04_leg_level_allocations.json")
    status, allocations = call(alloc_req["method"], alloc_req["path"].replace("strategy_789", strategy_id),
                               alloc_req["body"], user)
    assert status == 201, allocations
    return basket_id, strategy_id


def complete_legs(call, strategy_id, user="user-a"):
    for leg_no, config in COMPLETE_SELECTION.items():
        status, body = call("PUT", f"/options/strategies/{strategy_id}/legs/{leg_no}",
                            {"strike_selection_config": config}, user)
        assert status == 200, body
