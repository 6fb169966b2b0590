"""Issue 13 item 2 (invariant I5): an exit that finds no booked position does not consume the
day's exit. Before: it was recorded SKIPPED "no open position to exit" and kept the day's EXIT
claim, so the scheduled exit found "already claimed", ``finish_exit`` ignored SKIPPED and an
MTM-stop exit could not be announced: every position stayed open."""

from datetime import datetime, timedelta

import pytest

from shared_utils.brokers.errors import BrokerUnavailable
from shared_utils.clock import IST, utc_iso_ms
from shared_utils.execution.duplicate_checker import run_duplicate_checker
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.risk_monitor import announce_exit, run_stop_loss_checker
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import ExecutionType
from tests.functional.engine.conftest import due_event
from tests.functional.engine_ii.faults import crash_on_write

pytestmark = pytest.mark.slow


@pytest.fixture
def strategy(api, seed_strategy):
    user_id, strategy_id = seed_strategy
    assert api("PUT", f"/options/strategies/{strategy_id}", {"exit_days": ["MONDAY"]})[0] == 200
    return user_id, strategy_id


def manual_exit(engine, user_id, strategy_id, at):
    execute_at = at.replace(microsecond=0) + timedelta(seconds=3)
    event = {"batch_id": f"manual-{at:%H%M%S}", "execution_type": "EXIT", "trade_date": at.date().isoformat(),
             "slot": f"{execute_at:%H:%M}", "execute_at": utc_iso_ms(execute_at),
             "wait_until": utc_iso_ms(execute_at - timedelta(seconds=2)), "trigger": "MANUAL",
             "strategies": [{"user_id": user_id, "strategy_id": strategy_id}]}
    return run_state_machine(event, engine)


def _unavailable(*a, **k):
    raise BrokerUnavailable("order book unavailable (test)", broker="paper")


def _broker_positions(engine):
    return {(c, p.tradingsymbol): p.quantity for c, b in engine.paper.brokers().items()
            for p in b.positions() if p.quantity}


def test_a_manual_exit_before_the_entry_does_not_block_the_scheduled_exit(engine, strategy):
    user_id, strategy_id = strategy
    engine.clock.set(datetime(2026, 8, 17, 9, 20, 0, tzinfo=IST))
    (summary,) = manual_exit(engine, user_id, strategy_id, engine.clock.now())["results"]
    assert summary["status"] == "SKIPPED" and "no open position to exit" in summary["reasons"]
    engine.clock.set(datetime(2026, 8, 17, 9, 28, 5, tzinfo=IST))
    (event,) = due_event(engine)
    assert run_state_machine(event, engine)["results"][0]["status"] == "COMPLETED"
    run_order_poller(engine)
    # the morning's empty exit must not close the later entry on its own ...
    engine.clock.set(datetime(2026, 8, 17, 9, 40, 0, tzinfo=IST))
    run_stop_loss_checker(engine)
    assert _broker_positions(engine), "an exit asked for before the entry closed it"
    # ... and the scheduled exit still runs
    engine.clock.set(datetime(2026, 8, 17, 15, 18, 5, tzinfo=IST))
    (exit_event,) = due_event(engine, slot="15:20", execution_type=ExecutionType.EXIT)
    (exit_summary,) = run_state_machine(exit_event, engine)["results"]
    assert exit_summary["status"] == "COMPLETED", exit_summary
    assert _broker_positions(engine) == {}
    record = engine.repos.executions.get(user_id, strategy_id, ExecutionType.EXIT, engine.clock.now().date())
    assert any("earlier manual exit" in r for r in record.reasons), record.reasons


def test_an_exit_while_the_entry_is_in_flight_is_finished(engine, strategy, monkeypatch):
    from shared_utils.brokers.paper import PaperBroker

    user_id, strategy_id = strategy
    (event,) = due_event(engine)
    # the entry's orders reach the broker, but no answer is learnt: every book read fails and
    # PlaceOrders dies before it records anything (the entry is "in flight")
    monkeypatch.setattr(PaperBroker, "order_book", _unavailable)
    monkeypatch.setattr(PaperBroker, "order_status", _unavailable)
    monkeypatch.setattr(PaperBroker, "find_order_by_tag", _unavailable)
    crash_on_write(monkeypatch, engine.repos.table, lambda sk: sk.startswith("ORDER#"), times=2,
                   updates_only=True)
    run_state_machine(event, engine)
    assert not [p for p in engine.repos.positions.list(user_id, strategy_id) if p.quantity]
    # the trader exits at once: nothing is booked yet
    engine.clock.set(datetime(2026, 8, 17, 9, 31, 0, tzinfo=IST))
    (summary,) = manual_exit(engine, user_id, strategy_id, engine.clock.now())["results"]
    monkeypatch.undo()
    assert summary["status"] == "SKIPPED", summary
    assert _broker_positions(engine), "the entry filled at the broker"
    # the fills are learnt (orders that never left are settled NOT_SENT), and the next minutes
    # finish the exit the trader asked for
    for _ in range(3):
        engine.clock.advance(timedelta(minutes=1))
        run_duplicate_checker(engine)
        run_stop_loss_checker(engine)
    assert _broker_positions(engine) == {}, "positions stayed open after the trader's exit"
    assert all(p.quantity == 0 for p in engine.repos.positions.list(user_id, strategy_id))


def test_an_mtm_exit_is_announced_after_an_empty_exit(engine, strategy):
    user_id, strategy_id = strategy
    engine.clock.set(datetime(2026, 8, 17, 9, 20, 0, tzinfo=IST))
    manual_exit(engine, user_id, strategy_id, engine.clock.now())
    engine.clock.set(datetime(2026, 8, 17, 11, 0, 0, tzinfo=IST))
    assert announce_exit(engine, user_id, strategy_id, engine.clock.now(), "MTM -6000 <= -5000") is not None
