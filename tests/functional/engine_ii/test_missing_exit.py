"""Issue 13 item 6: an exit order that never reached the broker (its answer lost, not in the
book by tag) was flagged MISSING_AT_BROKER but stayed working, and ``finish_exit`` waited on
working orders for ever: the positions were still open at 15:28. Now the flag settles it
NOT_SENT and the next minute re-plans the exit after reading the broker's positions."""

from datetime import datetime, timedelta

import pytest

from shared_utils.brokers.errors import OutcomeUnknown
from shared_utils.brokers.paper import PaperBroker
from shared_utils.clock import IST
from shared_utils.execution.duplicate_checker import run_duplicate_checker
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.risk_monitor import run_stop_loss_checker
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import ExecutionType, OrderStatus
from tests.functional.engine.conftest import due_event

pytestmark = pytest.mark.slow


def test_an_exit_order_that_never_arrived_is_settled_and_re_planned(engine, api, seed_strategy, monkeypatch):
    user_id, strategy_id = seed_strategy
    assert api("PUT", f"/options/strategies/{strategy_id}", {"exit_days": ["MONDAY"]})[0] == 200
    (event,) = due_event(engine)
    run_state_machine(event, engine)
    run_order_poller(engine)
    engine.clock.set(datetime(2026, 8, 17, 15, 18, 5, tzinfo=IST))
    (exit_event,) = due_event(engine, slot="15:20", execution_type=ExecutionType.EXIT)

    def lost(self, request):  # the request dies on the way: the broker never sees it
        raise OutcomeUnknown("timeout after send (test)", broker="paper", tag=request.tag)

    monkeypatch.setattr(PaperBroker, "place_order", lost)
    monkeypatch.setattr(PaperBroker, "find_order_by_tag", lambda self, tag: None)
    (summary,) = run_state_machine(exit_event, engine)["results"]
    monkeypatch.undo()
    exit_orders = engine.repos.orders.list_for_execution(user_id, summary["execution_id"])
    assert OrderStatus.UNKNOWN in {o.status for o in exit_orders}  # (longs held back: NOT_SENT)
    for minute in range(1, 5):  # 15:21 .. 15:24
        engine.clock.set(datetime(2026, 8, 17, 15, 20, 0, tzinfo=IST) + timedelta(minutes=minute, seconds=5))
        run_duplicate_checker(engine)
        run_order_poller(engine)
        run_stop_loss_checker(engine)
    exit_orders = engine.repos.orders.list_for_execution(user_id, summary["execution_id"])
    first = [o for o in exit_orders if o.attempt == 0]
    assert {o.status for o in first} == {OrderStatus.NOT_SENT}, [(o.status, o.broker_message) for o in first]
    assert any("never reached the broker" in o.broker_message for o in first), [o.broker_message for o in first]
    retried = [o for o in exit_orders if o.attempt == 1]
    assert retried and {o.status for o in retried} == {OrderStatus.FILLED}
    for client_id, broker in engine.paper.brokers().items():
        assert not [p for p in broker.positions() if p.quantity], f"{client_id} still holds positions"
    assert all(p.quantity == 0 for p in engine.repos.positions.list(user_id, strategy_id))
