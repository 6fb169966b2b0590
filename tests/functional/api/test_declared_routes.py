"""Issue 14, finding 10: API Gateway declared three GET methods with no route behind them
(the handler answered 404 "route not found" to every call). Each now answers with the user's
data, and another user's (or an unknown) id answers 404."""

from __future__ import annotations

from tests.functional.api.journey import run_journey


def test_get_basket_strategies(api):
    basket_id, strategy_id = run_journey(api, link=api.link)
    status, body = api("GET", f"/options/baskets/{basket_id}/strategies")
    assert status == 200, body
    assert [s["strategy_id"] for s in body["items"]] == [strategy_id]
    assert body["items"][0]["basket_id"] == basket_id
    assert api("GET", f"/options/baskets/{basket_id}/strategies", user="user-b")[0] == 404
    assert api("GET", "/options/baskets/bkt_nope/strategies")[0] == 404


def test_get_one_allocation(api):
    _, strategy_id = run_journey(api, link=api.link)
    status, body = api("GET", f"/options/strategies/{strategy_id}/allocations/ZERODHA123")
    assert status == 200, body
    assert body["client_id"] == "ZERODHA123" and body["strategy_id"] == strategy_id
    assert body["calculated_totals"]["total_lots_per_execution"] == 8
    # the summary route keeps answering (declared before the {client_id} route)
    assert api("GET", f"/options/strategies/{strategy_id}/allocations/summary")[0] == 200
    assert api("GET", f"/options/strategies/{strategy_id}/allocations/ZERODHA123", user="user-b")[0] == 404
    assert api("GET", f"/options/strategies/{strategy_id}/allocations/NOTALLOCATED")[0] == 404


def test_get_one_leg(api):
    _, strategy_id = run_journey(api, link=api.link)
    status, body = api("GET", f"/options/strategies/{strategy_id}/legs/3")
    assert status == 200, body
    assert body["leg_no"] == 3 and body["leg_type"] == "CALL" and body["transaction_type"] == "SELL"
    assert api("GET", f"/options/strategies/{strategy_id}/legs/3", user="user-b")[0] == 404
    assert api("GET", f"/options/strategies/{strategy_id}/legs/9")[0] == 404
    assert api("GET", f"/options/strategies/{strategy_id}/legs/0")[0] == 422


def test_every_declared_api_gateway_method_has_a_route():
    """Every (path, method) the options-platform stack declares for a route family served by a
    handler of this repository resolves to a route of that handler's app."""
    from cdk_stacks.options_platform_stack import ROUTES
    from lambda_functions.options_platform.openapi import document

    paths = document()["paths"]
    missing = [(path, method) for path, methods, family in ROUTES if family != "postbacks"
               for method in methods if method.lower() not in paths.get(path, {})]
    assert not missing, missing
