"""Issue 14 item 9 "request diet": DynamoDB requests per entry execution, per strategy-account,
counted by botocore's ``before-call.dynamodb`` event through the real ASL runner."""

from __future__ import annotations

from shared_utils.execution.asl_runner import run_events
from tests.functional.asl.ddb_count import install
from tests.functional.engine.conftest import due_event

#: the target: at most a third of the 55.5 measured before the diet
MAX_REQUESTS_PER_STRATEGY_ACCOUNT = 18


def test_entry_requests_per_strategy_account_and_none_during_sends(engine, seed_strategy, monkeypatch):
    (event,) = due_event(engine)
    log = install(monkeypatch, engine)
    run = run_events(event, engine, run_id="sfn-diet")
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    (result,) = run.output["results"]
    assert result["status"] == "COMPLETED"
    accounts = 2
    by_step = log.by_step()
    total = sum(by_step.values())
    print("by step", dict(by_step), "per strategy-account", total / accounts)
    for step in by_step:
        print(step, dict(log.operations(step)))
    assert None not in by_step, "a request outside any step"
    assert total / accounts <= MAX_REQUESTS_PER_STRATEGY_ACCOUNT, dict(by_step)
    # nothing but sends inside an account's bursts of sends; between the hedges (confirmed
    # FILLED) and the shorts exactly one request: the kill-switch re-read (I7, README Safety)
    assert log.during_sends() == {"ZERODHA123": 0, "ANGELONE456": 0}
    assert log.between_hedges_and_shorts() == {"ZERODHA123": ["BatchGetItem"], "ANGELONE456": ["BatchGetItem"]}
