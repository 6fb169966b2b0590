"""Issue 13 item 3 (invariant I5): pausing a strategy with open positions removed its EXIT
schedule item and Prepare skipped exits of non-ACTIVE strategies; DELETE answered 200 with open
positions. Positions were orphaned. Now a pause keeps the exit, and a delete is 409 naming them."""

from datetime import datetime

import pytest

from shared_utils.clock import IST
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import ExecutionType
from tests.functional.engine.conftest import due_event

pytestmark = pytest.mark.slow


@pytest.fixture
def entered(engine, api, seed_strategy):
    user_id, strategy_id = seed_strategy
    assert api("PUT", f"/options/strategies/{strategy_id}", {"exit_days": ["MONDAY"]})[0] == 200
    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    assert summary["status"] == "COMPLETED", summary["reasons"]
    run_order_poller(engine)
    return user_id, strategy_id


def _held(engine):
    return {(c, p.tradingsymbol): p.quantity for c, b in engine.paper.brokers().items()
            for p in b.positions() if p.quantity}


def test_a_paused_strategy_is_still_exited_at_its_exit_time(engine, api, entered):
    user_id, strategy_id = entered
    status, body = api("POST", f"/options/strategies/{strategy_id}/pause")
    assert status == 200 and body["status"] == "PAUSED", body
    engine.clock.set(datetime(2026, 8, 17, 15, 18, 5, tzinfo=IST))
    (exit_event,) = due_event(engine, slot="15:20", execution_type=ExecutionType.EXIT)
    (summary,) = run_state_machine(exit_event, engine)["results"]
    assert summary["status"] == "COMPLETED", summary
    assert _held(engine) == {}
    assert all(p.quantity == 0 for p in engine.repos.positions.list(user_id, strategy_id))


def test_a_paused_basket_keeps_its_strategies_exit(engine, api, entered):
    user_id, strategy_id = entered
    basket_id = engine.repos.strategies.get(user_id, strategy_id).basket_id
    assert api("POST", f"/options/strategies/{strategy_id}/pause")[0] == 200
    assert api("PUT", f"/options/baskets/{basket_id}", {"status": "PAUSED"})[0] == 200
    engine.clock.set(datetime(2026, 8, 17, 15, 18, 5, tzinfo=IST))
    (exit_event,) = due_event(engine, slot="15:20", execution_type=ExecutionType.EXIT)
    assert run_state_machine(exit_event, engine)["results"][0]["status"] == "COMPLETED"
    assert _held(engine) == {}


def test_deleting_a_strategy_with_open_positions_is_409_naming_them(engine, api, entered):
    user_id, strategy_id = entered
    assert api("POST", f"/options/strategies/{strategy_id}/pause")[0] == 200
    status, body = api("DELETE", f"/options/strategies/{strategy_id}")
    assert status == 409, body
    assert len(body["reasons"]) == 8 and any("ZERODHA123 NIFTY" in r for r in body["reasons"]), body
    assert engine.repos.strategies.get(user_id, strategy_id) is not None
    basket_id = engine.repos.strategies.get(user_id, strategy_id).basket_id
    status, body = api("DELETE", f"/options/baskets/{basket_id}")
    assert status == 409 and any(strategy_id in r for r in body["reasons"]), body
    # once exited, the delete goes through
    engine.clock.set(datetime(2026, 8, 17, 15, 18, 5, tzinfo=IST))
    (exit_event,) = due_event(engine, slot="15:20", execution_type=ExecutionType.EXIT)
    run_state_machine(exit_event, engine)
    assert api("DELETE", f"/options/strategies/{strategy_id}")[0] == 200
