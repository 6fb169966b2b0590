"""Duplicates and faults never place an order twice, and every order is accounted for."""

from datetime import date, datetime

import pytest

from shared_utils.clock import IST
from shared_utils.execution.emitter import run_emitter
from shared_utils.execution.events import EXECUTION_DUE
from shared_utils.execution.runner import run_state_machine
from shared_utils.execution.steps import place_orders, prepare, resolve
from shared_utils.models.enums import ExecutionStatus, ExecutionType
from tests.functional.engine.conftest import due_event


def broker_orders(engine):
    return {client_id: broker.order_book() for client_id, broker in engine.paper.brokers().items()}


def total_broker_orders(engine):
    return sum(len(book) for book in broker_orders(engine).values())


def test_duplicate_event_and_rerun_place_nothing_more(engine, seed_strategy):
    (event,) = due_event(engine)
    first = run_state_machine(event, engine, run_id="sfn-run-1")
    assert first["results"][0]["status"] == "COMPLETED"
    assert total_broker_orders(engine) == 8
    again = run_state_machine(event, engine, run_id="sfn-run-2")  # duplicate delivery: another run
    assert again["results"] == [] and "already claimed by sfn-run-1" in again["skipped"][0]["reasons"][0]
    assert total_broker_orders(engine) == 8


def test_two_emitters_in_the_same_minute(engine, seed_strategy):
    run_emitter(engine)
    run_emitter(engine)
    events = [d for _, t, d in engine.publisher.drain(EXECUTION_DUE)]
    assert len(events) == 2 and events[0]["batch_id"] == events[1]["batch_id"]
    outcomes = [run_state_machine(e, engine) for e in events]
    assert sorted(len(o["results"]) for o in outcomes) == [0, 1]
    assert total_broker_orders(engine) == 8


def test_prepare_retried_inside_the_same_run_keeps_its_claim(engine, seed_strategy):
    (event,) = due_event(engine)
    assert prepare(event, engine, "run-A")["claimed_count"] == 1
    assert prepare(event, engine, "run-A")["claimed_count"] == 1   # Lambda retry of Prepare
    assert prepare(event, engine, "run-B")["claimed_count"] == 0   # anyone else


def test_place_orders_retried_after_the_broker_accepted(engine, seed_strategy):
    """The PlaceOrders Lambda ran, the broker accepted, then the Lambda was invoked again for the
    same item (e.g. it timed out before returning): the second run reconciles by tag."""
    (event,) = due_event(engine)
    state = prepare(event, engine, "run-1")
    engine.clock.sleep_until(datetime(2026, 8, 17, 9, 29, 58, tzinfo=IST))
    state = resolve(state, engine)
    item = next(i for i in state["work_items"] if i["client_id"] == "ZERODHA123")
    assert "orders" not in item, "work items are references (contract C1)"
    first = place_orders(item, engine)
    assert first["sent"] == 4 and first["not_sent"] == 0
    stored = {o.order_key: o.broker_order_id
              for o in engine.repos.orders.list_for_execution("user-a", item["execution_id"], "ZERODHA123")}
    second = place_orders(item, engine)
    assert second["sent"] == 0
    assert len(broker_orders(engine)["ZERODHA123"]) == 4
    again = {o.order_key: o.broker_order_id
             for o in engine.repos.orders.list_for_execution("user-a", item["execution_id"], "ZERODHA123")}
    assert again == stored and all(again.values())


def test_crash_after_accept_before_record_is_reconciled(engine, seed_strategy):
    """The broker accepted every order but the records were never updated (the Lambda died
    after sending): a re-run finds the intents PENDING and reconciles them by tag."""
    (event,) = due_event(engine)
    state = prepare(event, engine, "run-1")
    engine.clock.sleep_until(datetime(2026, 8, 17, 9, 29, 58, tzinfo=IST))
    state = resolve(state, engine)
    item = next(i for i in state["work_items"] if i["client_id"] == "ANGELONE456")
    orders_repo = engine.repos.orders
    real_save = orders_repo.save
    orders_repo.save = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("Lambda killed"))
    # a fill is booked with its order in one transaction (booking.commit_fill): kill that too
    real_transact = engine.repos.table.transact
    engine.repos.table.transact = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("Lambda killed"))
    with pytest.raises(RuntimeError):
        place_orders(item, engine)
    orders_repo.save = real_save
    engine.repos.table.transact = real_transact
    assert len(broker_orders(engine)["ANGELONE456"]) == 4
    pending = orders_repo.list_for_execution("user-a", item["execution_id"], "ANGELONE456")
    assert {o.status.value for o in pending} == {"PENDING"}
    place_orders(item, engine)
    assert len(broker_orders(engine)["ANGELONE456"]) == 4
    records = orders_repo.list_for_execution("user-a", item["execution_id"], "ANGELONE456")
    assert {o.status.value for o in records} <= {"OPEN", "FILLED"}
    assert all(o.broker_order_id for o in records)


def test_outcome_unknown_is_reconciled_not_resent(engine, seed_strategy):
    from shared_utils.brokers.errors import OutcomeUnknown

    (event,) = due_event(engine)
    account = engine.repos.accounts.get("user-a", "ZERODHA123")
    broker = engine.paper.client_for(account)
    real = broker.place_order
    calls = []

    def accept_then_time_out(request):
        calls.append(request.tag)
        real(request)                       # the broker accepted it ...
        raise OutcomeUnknown("read timeout", broker="paper")   # ... but the answer was lost

    broker.place_order = accept_then_time_out
    result = run_state_machine(event, engine)
    assert result["results"][0]["status"] == "COMPLETED"
    assert len(calls) == 4 and len(broker.order_book()) == 4
    assert sorted(o.tag for o in broker.order_book()) == sorted(calls)


def test_unknown_and_never_found_is_flagged_not_resent(engine, seed_strategy):
    from shared_utils.brokers.errors import OutcomeUnknown

    (event,) = due_event(engine)
    broker = engine.paper.client_for(engine.repos.accounts.get("user-a", "ZERODHA123"))
    sends = []

    def lost(request):
        sends.append(request.tag)
        raise OutcomeUnknown("connection reset", broker="paper")

    broker.place_order = lost
    result = run_state_machine(event, engine)
    (summary,) = result["results"]
    # the two hedges' outcome is unknown: they are never re-sent, and the two shorts are held
    # back (an UNKNOWN hedge is not a confirmed fill: I3)
    assert summary["status"] == "PARTIAL" and summary["unknown"] == 2 and summary["not_sent"] == 2
    assert len(sends) == 2, "each hedge was sent exactly once, no short was sent"
    alerts = [d for _, t, d in engine.publisher.drain("Order Alert")]
    assert alerts and alerts[0]["unknown"] == 2 and alerts[0]["accounts"] == ["ZERODHA123"]


@pytest.mark.parametrize("case", ["paused", "not_executable", "holiday", "wrong_weekday", "kill_switch"])
def test_strategies_that_must_not_run_place_nothing_and_say_why(engine, seed_strategy, api, case):
    user_id, strategy_id = seed_strategy
    trade_date = date(2026, 8, 17)
    if case == "paused":
        (event,) = due_event(engine)
        api("POST", f"/options/strategies/{strategy_id}/pause")
        expected = "strategy is PAUSED"
    elif case == "not_executable":
        (event,) = due_event(engine)
        api("PUT", f"/options/strategies/{strategy_id}/legs/1",
            {"entry_by": "DELTA", "strike_selection_config": {"method": "DELTA"}})
        expected = "needs strike_selection_config.delta_value"
    elif case == "holiday":
        engine.clock.set(datetime(2026, 10, 20, 9, 28, 5, tzinfo=IST))  # Tuesday: NSE holiday (Diwali)
        api("PUT", f"/options/strategies/{strategy_id}", {"entry_days": ["MONDAY", "TUESDAY"]})
        result = run_emitter(engine)
        assert engine.publisher.drain(EXECUTION_DUE) == []
        assert result.reason and "not a trading day" in result.reason
        assert result.skipped[0]["strategy_id"] == strategy_id
        event = {"execution_type": "ENTRY", "trade_date": "2026-10-20", "slot": "09:30",
                 "execute_at": "2026-10-20T04:00:00.000Z", "wait_until": "2026-10-20T03:59:58.000Z",
                 "trigger": "MANUAL", "strategies": [{"user_id": user_id, "strategy_id": strategy_id}]}
        trade_date = date(2026, 10, 20)
        expected = "not a trading day"
    elif case == "wrong_weekday":
        engine.clock.set(datetime(2026, 8, 18, 9, 28, 5, tzinfo=IST))  # Tuesday
        result = run_emitter(engine)
        assert engine.publisher.drain(EXECUTION_DUE) == []
        assert "TUESDAY is not one of MONDAY" in result.skipped[0]["reason"]
        event = {"execution_type": "ENTRY", "trade_date": "2026-08-18", "slot": "09:30",
                 "execute_at": "2026-08-18T04:00:00.000Z", "wait_until": "2026-08-18T03:59:58.000Z",
                 "trigger": "SCHEDULE", "strategies": [{"user_id": user_id, "strategy_id": strategy_id}]}
        trade_date = date(2026, 8, 18)
        expected = "TUESDAY is not one of its entry days"
    else:
        (event,) = due_event(engine)
        engine.repos.controls.set_kill_switch(True, "broker outage", user_id=user_id)
        expected = "your kill switch is on: broker outage"
    result = run_state_machine(event, engine)
    assert result["results"] == []
    assert total_broker_orders(engine) == 0
    execution = engine.repos.executions.get(user_id, strategy_id, ExecutionType.ENTRY, trade_date)
    assert execution.status is ExecutionStatus.SKIPPED
    assert any(expected in reason for reason in execution.reasons), execution.reasons


def test_emitter_batches_fit_the_map_concurrency(engine, api):
    """strategies per event x max accounts per strategy <= the Map's concurrency, so no
    PlaceOrders branch waits for a free slot past its target second."""
    from shared_utils.persistence.repositories import schedule_entries
    from tests.functional.persistence.test_repositories import make_strategy

    for i in range(12):
        engine.repos.strategies.create(make_strategy(f"u{i:02d}", f"s{i:02d}"))
    run_emitter(engine)
    events = [d for _, t, d in engine.publisher.drain(EXECUTION_DUE)]
    per_event = engine.env.strategies_per_event
    limits = engine.env.settings
    assert per_event * limits.options_platform.max_allocations_per_strategy <= limits.execution_engine.map_max_concurrency
    assert [len(e["strategies"]) for e in events] == [per_event, per_event, 12 - 2 * per_event]
    assert schedule_entries  # imported for the same item shape the API writes
