"""History, execution detail, positions and manual runs through the API, on top of the engine."""

from datetime import datetime

import pytest

from shared_utils.clock import IST, default_clock, set_default_clock
from shared_utils.execution.events import EXECUTION_DUE, set_default_publisher
from shared_utils.execution.runner import run_state_machine
from tests.functional.engine.conftest import due_event


@pytest.fixture
def wired(engine):
    previous = default_clock()
    set_default_clock(engine.clock)
    set_default_publisher(engine.publisher)
    yield engine
    set_default_clock(previous)
    set_default_publisher(None)


def test_history_detail_and_positions_after_entry(wired, seed_strategy, api):
    user_id, strategy_id = seed_strategy
    (event,) = due_event(wired)
    run_state_machine(event, wired)
    status, history = api("GET", "/options/executions/history", query={"strategy_id": strategy_id})
    assert status == 200 and [e["status"] for e in history["items"]] == ["COMPLETED"]
    execution_id = history["items"][0]["execution_id"]
    status, detail = api("GET", f"/options/executions/{execution_id}")
    assert status == 200 and len(detail["orders"]) == 8
    assert detail["execution"]["results"]["successful_orders"] == 8
    assert api("GET", f"/options/executions/{execution_id}", user="user-b")[0] == 404
    assert api("GET", "/options/executions/not-an-id")[0] == 404
    status, positions = api("GET", "/options/positions", query={"strategy_id": strategy_id, "client_id": "ANGELONE456"})
    assert status == 200
    quantities = sorted(p["quantity"] for p in positions["items"])
    assert quantities == [-260, -65, 65, 260]  # ANGELONE456: 1/1/4/4 lots of 65, shorts negative
    assert api("GET", "/options/positions", user="user-b")[1]["items"] == []


def test_manual_entry_goes_through_the_same_path(wired, seed_strategy, api):
    user_id, strategy_id = seed_strategy
    wired.clock.set(datetime(2026, 8, 17, 11, 5, 0, 300000, tzinfo=IST))
    status, body = api("POST", "/options/executions/manual", {"strategy_id": strategy_id, "execution_type": "entry"})
    assert status == 202, body
    assert body["execute_at"] == "2026-08-17T05:35:04.000Z"
    (event,) = [d for _, t, d in wired.publisher.drain(EXECUTION_DUE)]
    assert event["trigger"] == "MANUAL"
    result = run_state_machine(event, wired)
    assert result["results"][0]["status"] == "COMPLETED"
    status, body = api("POST", "/options/executions/manual", {"strategy_id": strategy_id, "execution_type": "ENTRY"})
    assert status == 409 and "already ran" in body["message"]
    status, body = api("POST", "/options/executions/manual", {"strategy_id": "stg_nope", "execution_type": "entry"})
    assert status == 404
    status, body = api("POST", "/options/executions/manual", {"strategy_id": strategy_id, "execution_type": "later"})
    assert status == 422 and body["detail"][0]["loc"][-1] == "execution_type"
