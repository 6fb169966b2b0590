"""Every route of the options API through its real handler over moto: success, bad input
(422 naming the field), another user's id (404), no token (401)."""

import pytest

from tests.conftest import seed_request
from tests.functional.api.journey import complete_legs, run_journey


def _fields(body):
    return [".".join(str(p) for p in d["loc"]) for d in body["detail"]]


def test_seed_journey_totals_and_summary(api):
    basket_id, strategy_id = run_journey(api, link=api.link)
    status, detail = api("GET", f"/options/strategies/{strategy_id}")
    assert status == 200
    assert [leg["leg_no"] for leg in detail["legs"]] == [1, 2, 3, 4]
    totals = {a["client_id"]: a["calculated_totals"]["total_lots_per_execution"] for a in detail["allocations"]}
    assert totals == {"ZERODHA123": 8, "ANGELONE456": 10}
    assert detail["executable"] is False
    assert any("leg 1: entry_by DELTA needs strike_selection_config.delta_value" in p
               for p in detail["executability_problems"])
    # the seed's own schedule: a weekly entered Monday expires Tuesday, before the Friday exit
    # (plus, depending on today's date, "exit of <holiday> runs on the previous trading day")
    expiry_warnings = [w for w in detail["warnings"] if not w.startswith("exit of ")]
    assert len(expiry_warnings) == 4 and "the exchange settles it at expiry" in expiry_warnings[0]
    status, summary = api("GET", f"/options/strategies/{strategy_id}/allocations/summary", query={"date": "2026-08-17"})
    assert status == 200, summary
    assert summary["total_lots"] == 18 and summary["total_quantity"] == 18 * 65
    zerodha = next(a for a in summary["accounts"] if a["client_id"] == "ZERODHA123")
    assert [(l["lots"], l["quantity"]) for l in zerodha["legs"]] == [(3, 195), (3, 195), (1, 65), (1, 65)]
    assert zerodha["legs"][0]["lot_size_source"].startswith("instrument master: NIFTY26818")
    assert zerodha["legs"][0]["expiry"] == "2026-08-18"
    status, basket = api("GET", f"/options/baskets/{basket_id}")
    assert status == 200 and [s["strategy_id"] for s in basket["strategies"]] == [strategy_id]


def test_activation_needs_an_executable_strategy(api):
    _, strategy_id = run_journey(api, link=api.link)
    api("POST", f"/options/strategies/{strategy_id}/pause")
    status, body = api("POST", f"/options/strategies/{strategy_id}/activate")
    assert status == 409 and any("delta_value" in r for r in body["reasons"])
    complete_legs(api, strategy_id)
    status, body = api("POST", f"/options/strategies/{strategy_id}/activate")
    assert status == 200 and body["status"] == "ACTIVE"
    status, detail = api("GET", f"/options/strategies/{strategy_id}")
    assert detail["executable"] is True and detail["executability_problems"] == []


def test_schedule_follows_writes(api):
    _, strategy_id = run_journey(api, link=api.link)
    complete_legs(api, strategy_id)
    status, view = api("GET", "/options/executions/schedule", query={"date": "2026-08-17", "type": "entry"})
    assert status == 200 and view["trading_day"] is True
    (row,) = view["items"]
    assert row["due"] is True and row["time_ist"] == "09:30" and row["execute_at"] == "2026-08-17T04:00:00.000Z"
    api("PUT", f"/options/strategies/{strategy_id}", {"entry_time": "09:45"})
    (row,) = api("GET", "/options/executions/schedule", query={"date": "2026-08-17", "type": "entry"})[1]["items"]
    assert row["time_ist"] == "09:45"
    slots = list(api.repos.schedules.due_in_slot("ENTRY", "09:45"))
    assert [i["strategy_id"] for i in slots] == [strategy_id]
    assert list(api.repos.schedules.due_in_slot("ENTRY", "09:30")) == []
    api("POST", f"/options/strategies/{strategy_id}/pause")
    assert list(api.repos.schedules.due_in_slot("ENTRY", "09:45")) == []
    (row,) = api("GET", "/options/executions/schedule", query={"date": "2026-08-18", "type": "entry"})[1]["items"]
    assert row["due"] is False and "TUESDAY is not one of MONDAY" in row["reasons"][0]
    view = api("GET", "/options/executions/schedule", query={"date": "2026-08-15"})[1]
    assert view["trading_day"] is False


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/options/baskets", {"basket_name": "", "initial_capital": 1}, "body.basket_name"),
        ("/options/baskets", {"basket_name": "x", "initial_capital": -5}, "body.initial_capital"),
        ("/options/baskets", {"basket_name": "x", "initial_capital": 5, "surprise": 1}, "body.surprise"),
        ("/options/strategies", dict(seed_request("02_create_strategy.json")["body"], entry_time="16:00"), "entry_time"),
        ("/options/strategies", dict(seed_request("02_create_strategy.json")["body"], entry_days=["FUNDAY"]), "body.entry_days.0"),
        ("/options/strategies", dict(seed_request("02_create_strategy.json")["body"], underlying="DOGECOIN"), "body.underlying"),
        ("/options/strategies", dict(seed_request("02_create_strategy.json")["body"], product="CNC"), "body.product"),
    ],
)
def test_bad_input_names_the_field(api, path, body, field):
    status, answer = api("POST", path, body)
    assert status == 422, answer
    assert any(f.startswith(field) or field in d["msg"] for f, d in zip(_fields(answer), answer["detail"])), answer


def test_leg_and_allocation_validation(api):
    _, strategy_id = run_journey(api, link=api.link)
    legs = seed_request("03_add_legs.json")["body"]["legs"]
    weekly_bank = dict(legs[0], leg_no=5, underlying="BANKNIFTY")
    status, body = api("POST", f"/options/strategies/{strategy_id}/legs", {"legs": [weekly_bank]})
    assert status == 422 and _fields(body) == ["body.legs.0.underlying"]
    status, body = api("POST", f"/options/strategies/{strategy_id}/legs", {"legs": [dict(legs[0], leg_no=7)]})
    assert status == 422 and _fields(body) == ["body.legs.0.leg_no"] and "max_legs_per_strategy" in body["detail"][0]["msg"]
    status, body = api("POST", f"/options/strategies/{strategy_id}/legs", {"legs": [legs[0]]})
    assert status == 409 and "leg_no 1 already exists" in body["message"]
    status, body = api("PUT", f"/options/strategies/{strategy_id}/legs/1", {"lots": 0})
    assert status == 422 and _fields(body) == ["body.lots"]
    status, body = api("POST", f"/options/strategies/{strategy_id}/allocations",
                       {"client_id": "NOT_MINE", "strategy_lots_multiplier": 2})
    assert status == 422 and _fields(body) == ["body.client_id"]
    api.link("user-a", "FINVASIA1", "finvasia")
    status, body = api("POST", f"/options/strategies/{strategy_id}/allocations/advanced",
                       {"allocations": [{"client_id": "FINVASIA1", "allocation_config": {"type": "LEG_LEVEL",
                                         "leg_overrides": {"9": {"lots": 1}}}}]})
    assert status == 422 and _fields(body) == ["body.allocations.0.allocation_config.leg_overrides"]
    status, body = api("POST", f"/options/strategies/{strategy_id}/allocations",
                       {"client_id": "ZERODHA123", "strategy_lots_multiplier": 2})
    assert status == 409
    status, body = api("POST", f"/options/strategies/{strategy_id}/allocations",
                       {"client_id": "FINVASIA1", "strategy_lots_multiplier": 2})
    assert status == 201 and body["calculated_totals"]["total_lots_per_execution"] == 16
    status, body = api("PUT", f"/options/strategies/{strategy_id}/allocations/FINVASIA1", {"strategy_lots_multiplier": 3})
    assert status == 200 and body["calculated_totals"]["total_lots_per_execution"] == 24 and body["version"] == 2
    status, body = api("DELETE", f"/options/strategies/{strategy_id}/allocations/FINVASIA1")
    assert status == 200
    status, body = api("GET", f"/options/strategies/{strategy_id}/allocations")
    assert [a["client_id"] for a in body["items"]] == ["ZERODHA123", "ANGELONE456"]


def test_basket_delete_conflicts_while_active(api):
    basket_id, strategy_id = run_journey(api, link=api.link)
    status, body = api("DELETE", f"/options/baskets/{basket_id}")
    assert status == 409 and strategy_id in body["reasons"][0]
    api("POST", f"/options/strategies/{strategy_id}/pause")
    status, _ = api("DELETE", f"/options/baskets/{basket_id}")
    assert status == 200
    assert api("GET", f"/options/strategies/{strategy_id}")[0] == 404
    assert api.repos.legs.list("user-a", strategy_id) == []
    assert api.repos.schedules.list_for_user("user-a") == []


def test_basket_pause_takes_its_strategies_out_of_their_slots(api):
    basket_id, strategy_id = run_journey(api, link=api.link)
    assert len(list(api.repos.schedules.due_in_slot("ENTRY", "09:30"))) == 1
    status, basket = api("PUT", f"/options/baskets/{basket_id}", {"status": "PAUSED"})
    assert status == 200 and basket["status"] == "PAUSED"
    assert list(api.repos.schedules.due_in_slot("ENTRY", "09:30")) == []
    api("PUT", f"/options/baskets/{basket_id}", {"status": "ACTIVE"})
    assert len(list(api.repos.schedules.due_in_slot("ENTRY", "09:30"))) == 1


def test_missing_token_is_401_everywhere(api):
    for method, path in [("GET", "/options/baskets"), ("POST", "/options/baskets"), ("GET", "/options/strategies"),
                         ("GET", "/options/strategies/x/legs"), ("GET", "/options/strategies/x/allocations"),
                         ("GET", "/options/executions/schedule")]:
        status, _ = api(method, path, {"basket_name": "x", "initial_capital": 1} if method == "POST" else None, user=None)
        assert status == 401, (method, path)


def test_allocations_per_strategy_are_capped(api):
    _, strategy_id = run_journey(api, link=api.link)
    for i in range(6):
        api.link("user-a", f"PAPER{i}", "paper")
        assert api("POST", f"/options/strategies/{strategy_id}/allocations",
                   {"client_id": f"PAPER{i}", "strategy_lots_multiplier": 1})[0] == 201
    api.link("user-a", "PAPER9", "paper")
    status, body = api("POST", f"/options/strategies/{strategy_id}/allocations",
                       {"client_id": "PAPER9", "strategy_lots_multiplier": 1})
    assert status == 422 and "max_allocations_per_strategy is 8" in body["detail"][0]["msg"]
