"""Issue 13 item 8 / I7: the kill switch is read immediately before every send (not only in
Prepare, two minutes early), per user, per account and globally; traders set their own through
the API, ADMIN users the global one; who and when are recorded; exits still run."""

from datetime import date, datetime

from shared_utils.clock import IST
from shared_utils.execution.emitter import run_emitter
from shared_utils.execution.events import EXECUTION_DUE
from shared_utils.execution.runner import run_state_machine
from shared_utils.execution.steps import finalize, place_orders, prepare, resolve
from shared_utils.models.enums import ExecutionType, OrderStatus
from shared_utils.persistence import keys
from tests.functional.engine.conftest import due_event


def _book(engine, client_id):
    broker = engine.paper.brokers().get(client_id)
    return broker.order_book() if broker else []


def _to_the_map(engine):
    (event,) = due_event(engine)
    state = prepare(event, engine, "run-1")
    engine.clock.sleep_until(datetime(2026, 8, 17, 9, 29, 58, tzinfo=IST))
    return resolve(state, engine)


def test_switch_set_after_prepare_stops_the_send(engine, seed_strategy, api):
    """Prepare ran at 09:28 with no switch; the trader hits the switch at 09:29:59."""
    user_id, strategy_id = seed_strategy
    state = _to_the_map(engine)
    status, body = api("PUT", "/options/kill-switch", {"on": True, "reason": "market looks wrong"})
    assert status == 200 and body["on"] is True and body["set_by"] == "user-a" and body["updated_at"]
    state["placements"] = [place_orders(item, engine) for item in state["work_items"]]
    assert _book(engine, "ZERODHA123") == [] and _book(engine, "ANGELONE456") == []
    (summary,) = finalize(state, engine)["results"]
    assert summary["status"] == "FAILED" and summary["not_sent"] == 8
    execution_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, date(2026, 8, 17))
    for order in engine.repos.orders.list_for_execution(user_id, execution_id):
        assert order.status is OrderStatus.NOT_SENT
        assert "your kill switch is on: market looks wrong (set by user-a" in order.broker_message


def test_account_switch_stops_only_that_account(engine, seed_strategy, api):
    user_id, strategy_id = seed_strategy
    state = _to_the_map(engine)
    status, body = api("PUT", "/options/kill-switch/accounts/ANGELONE456", {"on": True, "reason": "margin call"})
    assert status == 200 and body["scope"] == "ACCOUNT" and body["client_id"] == "ANGELONE456"
    state["placements"] = [place_orders(item, engine) for item in state["work_items"]]
    assert len(_book(engine, "ZERODHA123")) == 4 and _book(engine, "ANGELONE456") == []
    (summary,) = finalize(state, engine)["results"]
    assert summary["status"] == "PARTIAL" and summary["accounts"] == ["ANGELONE456"]
    assert any("kill switch of account ANGELONE456 is on: margin call" in r for r in summary["reasons"])
    status, view = api("GET", "/options/kill-switch")
    assert status == 200 and [a["client_id"] for a in view["accounts"] if a["on"]] == ["ANGELONE456"]
    assert api("PUT", "/options/kill-switch/accounts/NOT_MINE", {"on": True})[0] == 404


def test_only_admins_set_the_global_switch_and_exits_still_run(engine, seed_strategy, api):
    from local.apigw import call

    user_id, strategy_id = seed_strategy
    (event,) = due_event(engine)
    run_state_machine(event, engine)
    assert len(_book(engine, "ZERODHA123")) == 4
    assert api("PUT", "/options/kill-switch/global", {"on": True, "reason": "exchange glitch"})[0] == 403
    status, body = call("PUT", "/options/kill-switch/global", {"on": True, "reason": "exchange glitch"},
                        claims={"sub": "ops-1", "cognito:username": "ops-1", "cognito:groups": "[ADMIN]"})
    assert status == 200 and body["scope"] == "GLOBAL" and body["set_by"] == "ops-1"
    assert api("GET", "/options/kill-switch")[1]["stops_entries"] is True
    api("PUT", f"/options/strategies/{strategy_id}", {"exit_time": "09:35", "exit_days": ["MONDAY"]})
    engine.clock.set(datetime(2026, 8, 17, 9, 33, 1, tzinfo=IST))
    run_emitter(engine)
    (exit_event,) = [d for _, t, d in engine.publisher.drain(EXECUTION_DUE) if d["execution_type"] == "EXIT"]
    (summary,) = run_state_machine(exit_event, engine)["results"]
    assert summary["status"] == "COMPLETED" and summary["orders"] == 8
    assert all(p.quantity == 0 for p in engine.repos.positions.list(user_id, strategy_id))
