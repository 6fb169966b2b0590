"""Issue 21 item 8: bad bodies that used to get through (or crash) answer 4xx naming the cause,
and nothing is stored."""

import json

import pytest

from tests.conftest import seed_request
from tests.functional.api.journey import run_journey


def _baskets(api):
    status, body = api("GET", "/options/baskets")
    assert status == 200
    return body["items"]


def test_duplicate_key_is_422_naming_the_key_and_nothing_is_stored(api):
    raw = '{"basket_name": "dup", "initial_capital": 500000, "initial_capital": 1000000000000}'
    status, body = api("POST", "/options/baskets", raw)
    assert status == 422, body
    (detail,) = body["detail"]
    assert detail["loc"] == ["body", "initial_capital"] and "duplicate key 'initial_capital'" in detail["msg"]
    assert _baskets(api) == []


@pytest.mark.parametrize("raw,words", [
    ('{"basket_name": "big", "initial_capital": ' + "9" * 5000 + "}", "5000 digits"),
    ('{"basket_name": "deep", "initial_capital": 5, "description": ' + "[" * 5000 + "]" * 5000 + "}", "nested deeper"),
    ('{"basket_name": "inf", "initial_capital": 1e999}', "out of range"),
    ('{"basket_name": "nan", "initial_capital": NaN}', "not a JSON number"),
    ('{"basket_name": "broken", ', "not valid JSON"),
])
def test_malformed_bodies_are_4xx_never_5xx(api, raw, words):
    status, body = api("POST", "/options/baskets", raw)
    assert 400 <= status < 500, (status, body)
    assert status == 422 and words in json.dumps(body), body
    assert _baskets(api) == []


def test_nul_characters_are_refused_in_names(api):
    status, body = api("POST", "/options/baskets", {"basket_name": "evil\x00name", "initial_capital": 5})
    assert status == 422 and body["detail"][0]["loc"] == ["body", "basket_name"], body
    assert "NUL" in body["detail"][0]["msg"]
    assert _baskets(api) == []


@pytest.mark.parametrize("value,words", [("3", "not a string"), (True, "not true")])
def test_lots_take_json_numbers_only(api, value, words):
    _, strategy_id = run_journey(api, link=api.link)
    before = json.dumps(api("GET", f"/options/strategies/{strategy_id}/allocations")[1], sort_keys=True)
    request = seed_request("04_leg_level_allocations.json")
    body = request["body"]
    body["allocations"][0]["allocation_config"]["leg_overrides"]["1"]["lots"] = value
    status, answer = api("POST", request["path"].replace("strategy_789", strategy_id), body)
    assert status == 422, answer
    assert any(d["loc"][-1] == "lots" and words in d["msg"] for d in answer["detail"]), answer
    assert json.dumps(api("GET", f"/options/strategies/{strategy_id}/allocations")[1], sort_keys=True) == before


@pytest.mark.parametrize("field,value", [("initial_capital", "500000"), ("initial_capital", False),
                                         ("deployable_percentage", "50")])
def test_money_takes_json_numbers_only(api, field, value):
    status, body = api("POST", "/options/baskets", {"basket_name": "b", "initial_capital": 500000, field: value})
    assert status == 422 and body["detail"][0]["loc"] == ["body", field], body
    assert _baskets(api) == []


def test_manual_force_takes_a_boolean_only(api):
    _, strategy_id = run_journey(api, link=api.link)
    status, body = api("POST", "/options/executions/manual",
                       {"strategy_id": strategy_id, "execution_type": "entry", "force": "yes"})
    assert status == 422 and body["detail"][0]["loc"] == ["body", "force"], body


def test_a_huge_number_in_the_query_is_4xx(api):
    status, body = api("GET", "/options/baskets", query={"limit": "9" * 5000})
    assert 400 <= status < 500, (status, body)


def test_a_body_that_is_not_an_object_is_422(api):
    for raw in ("[]", "3", '"x"', "null", ""):
        status, body = api("POST", "/options/baskets", raw)
        assert status == 422, (raw, status, body)
