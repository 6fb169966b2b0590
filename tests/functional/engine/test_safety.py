"""Issue 13 regressions (engine: steps and placer): nothing silent (item 1 / I2), at most once
under Step Functions retries (C1), no naked short (item 5 / I3), late is refused (item 7 / I6).

Each test reproduces the issue's scenario on the seed's iron condor (two paper accounts, two
BUY hedges and two SELL shorts each) and fails on the code before this change."""

from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from shared_utils.brokers.errors import OrderRejected, OutcomeUnknown
from shared_utils.clock import IST
from shared_utils.execution import placer, runner
from shared_utils.execution.emitter import run_emitter
from shared_utils.execution.events import EXECUTION_DUE, ORDER_ALERT
from shared_utils.execution.runner import run_state_machine
from shared_utils.execution.steps import finalize, place_orders, prepare, resolve
from shared_utils.models.enums import ExecutionStatus, ExecutionType, OrderStatus, TransactionType
from shared_utils.persistence import keys
from tests.functional.engine.conftest import due_event

ENTRY_DAY = date(2026, 8, 17)


def _book(engine, client_id):
    broker = engine.paper.brokers().get(client_id)
    return broker.order_book() if broker else []


def _orders(engine, user_id, execution_id, client_id=None):
    return engine.repos.orders.list_for_execution(user_id, execution_id, client_id)


def _alerts(engine):
    return [d for _, t, d in engine.publisher.published if t == ORDER_ALERT]


def _resolved(engine):
    """Prepare and Resolve of the 09:30 entry; the clock at the Wait's end (09:29:58)."""
    (event,) = due_event(engine)
    state = prepare(event, engine, "run-1")
    engine.clock.sleep_until(datetime(2026, 8, 17, 9, 29, 58, tzinfo=IST))
    return resolve(state, engine)


def _paper(engine, user_id, client_id):
    return engine.paper.client_for(engine.repos.accounts.get(user_id, client_id))


# ---------------------------------------------------------------- item 1 / I2: nothing silent

def test_branch_that_dies_before_doing_anything_is_not_completed(engine, seed_strategy, monkeypatch):
    """A PlaceOrders branch throttled / crashed at init / out of memory is caught by the Map:
    the execution used to read COMPLETED 4/4 with one account having sent nothing."""
    user_id, strategy_id = seed_strategy
    real = runner.place_orders

    def dies_for_angel(item, ctx):
        if item["client_id"] == "ANGELONE456":
            raise MemoryError("Runtime.OutOfMemory: signal: killed")
        return real(item, ctx)

    monkeypatch.setattr(runner, "place_orders", dies_for_angel)
    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    assert summary["status"] == "PARTIAL", summary
    assert len(_book(engine, "ZERODHA123")) == 4 and _book(engine, "ANGELONE456") == []
    execution_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, ENTRY_DAY)
    angel = _orders(engine, user_id, execution_id, "ANGELONE456")
    assert len(angel) == 4 and {o.status for o in angel} == {OrderStatus.NOT_SENT}
    assert all("OutOfMemory" in o.broker_message for o in angel)
    (alert,) = _alerts(engine)
    assert alert["accounts"] == ["ANGELONE456"]
    assert sorted(p["leg_no"] for p in alert["problems"]) == [1, 2, 3, 4]
    stored = engine.repos.executions.get_by_id(user_id, execution_id)
    assert stored.status is ExecutionStatus.PARTIAL
    assert any("ANGELONE456: PlaceOrders branch failed" in r for r in stored.reasons)


def test_work_items_are_small_references(engine, seed_strategy):
    """Contract C1: nothing proportional to legs x slices travels in the state; the intents
    are in the table before the Map starts."""
    user_id, strategy_id = seed_strategy
    state = _resolved(engine)
    for item in state["work_items"]:
        assert "orders" not in item and len(str(item)) < 600
        intents = _orders(engine, user_id, item["execution_id"], item["client_id"])
        assert len(intents) == 4 and {o.status for o in intents} == {OrderStatus.PENDING}


# ---------------------------------------------------------------- C1: retries are safe

def test_retry_after_the_claim_reconciles_and_never_sends(engine, seed_strategy, monkeypatch):
    """The first PlaceOrders claimed its item and died before sending (timeout, OOM); the
    retried invocation must not send (its sends may have begun), and Finalize alerts."""
    user_id, _ = seed_strategy
    state = _resolved(engine)
    item = next(i for i in state["work_items"] if i["client_id"] == "ZERODHA123")

    def killed(*args, **kwargs):
        raise TimeoutError("Task timed out after 10.00 seconds")

    monkeypatch.setattr(placer, "_send_batch", killed)
    with pytest.raises(TimeoutError):
        place_orders(item, engine)
    monkeypatch.undo()
    again = place_orders(item, engine)
    assert again["sent"] == 0 and again["statuses"] == {"UNKNOWN": 4}
    assert _book(engine, "ZERODHA123") == []
    state["placements"] = [again]
    (summary,) = finalize(state, engine)["results"]
    assert summary["status"] != "COMPLETED" and summary["unknown"] >= 4
    assert _alerts(engine)


def test_throttled_invoke_that_never_ran_is_retried_and_sends(engine, seed_strategy):
    """Lambda.TooManyRequestsException: the invoke never ran, nothing was claimed; the Map's
    retry one second later sends every order (inside the lateness limit)."""
    user_id, _ = seed_strategy
    state = _resolved(engine)
    item = next(i for i in state["work_items"] if i["client_id"] == "ZERODHA123")
    engine.clock.set(datetime(2026, 8, 17, 9, 30, 1, tzinfo=IST))
    result = place_orders(item, engine)
    assert result["sent"] == 4 and len(_book(engine, "ZERODHA123")) == 4


# ---------------------------------------------------------------- item 7 / I6: late is refused

def test_place_orders_starting_40s_late_sends_no_entry(engine, seed_strategy):
    user_id, strategy_id = seed_strategy
    state = _resolved(engine)
    engine.clock.set(datetime(2026, 8, 17, 9, 30, 40, tzinfo=IST))
    state["placements"] = [place_orders(item, engine) for item in state["work_items"]]
    assert _book(engine, "ZERODHA123") == [] and _book(engine, "ANGELONE456") == []
    (summary,) = finalize(state, engine)["results"]
    assert summary["status"] == "FAILED" and summary["not_sent"] == 8
    execution_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, ENTRY_DAY)
    for order in _orders(engine, user_id, execution_id):
        assert order.status is OrderStatus.NOT_SENT
        assert "late by 40000 ms (max_entry_delay_ms 5000)" in order.broker_message
    assert _alerts(engine)


def test_max_entry_delay_is_a_strategy_setting(engine, seed_strategy, api):
    user_id, strategy_id = seed_strategy
    assert api("PUT", f"/options/strategies/{strategy_id}", {"max_entry_delay_ms": 60000})[0] == 200
    state = _resolved(engine)
    engine.clock.set(datetime(2026, 8, 17, 9, 30, 40, tzinfo=IST))
    results = [place_orders(item, engine) for item in state["work_items"]]
    assert all(r["sent"] >= 2 for r in results), results   # 40 s late is inside 60 s: the hedges went out
    execution_id = state["work_items"][0]["execution_id"]
    assert not any("late by" in (o.broker_message or "") for o in _orders(engine, user_id, execution_id))


def test_a_late_exit_still_goes_out_and_its_lateness_is_recorded(engine, seed_strategy, api):
    user_id, strategy_id = seed_strategy
    (event,) = due_event(engine)
    run_state_machine(event, engine)
    api("PUT", f"/options/strategies/{strategy_id}", {"exit_time": "09:35", "exit_days": ["MONDAY"]})
    engine.clock.set(datetime(2026, 8, 17, 9, 33, 1, tzinfo=IST))
    run_emitter(engine)
    (exit_event,) = [d for _, t, d in engine.publisher.drain(EXECUTION_DUE) if d["execution_type"] == "EXIT"]
    state = prepare(exit_event, engine, "run-x")
    engine.clock.set(datetime(2026, 8, 17, 9, 34, 58, tzinfo=IST))
    state = resolve(state, engine)
    engine.clock.set(datetime(2026, 8, 17, 9, 35, 40, tzinfo=IST))
    state["placements"] = [place_orders(item, engine) for item in state["work_items"]]
    (summary,) = finalize(state, engine)["results"]
    assert summary["status"] == "COMPLETED" and summary["orders"] == 8
    assert any("exit orders went out late: up to 40000 ms" in r for r in summary["reasons"])


# ---------------------------------------------------------------- item 5 / I3: no naked short

def _entry_with(engine, user_id, client_id, place):
    broker = _paper(engine, user_id, client_id)
    real = broker.place_order
    broker.place_order = lambda request: place(broker, real, request)
    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    return broker, summary


def _shorts_held_back(engine, user_id, summary, client_id):
    orders = _orders(engine, user_id, summary["execution_id"], client_id)
    sells = [o for o in orders if o.transaction_type is TransactionType.SELL]
    assert sells and {o.status for o in sells} == {OrderStatus.NOT_SENT}, [(o.status, o.broker_message) for o in sells]
    assert all("unhedged short" in o.broker_message for o in sells)
    return orders


def test_unknown_hedge_holds_back_the_shorts(engine, seed_strategy):
    user_id, _ = seed_strategy

    def lose_buy_answers(broker, real, request):
        if request.transaction_type is TransactionType.BUY:
            raise OutcomeUnknown("read timeout", broker="paper")  # never reached the book
        return real(request)

    broker, summary = _entry_with(engine, user_id, "ZERODHA123", lose_buy_answers)
    assert all(o.transaction_type is not TransactionType.SELL for o in broker.order_book())
    _shorts_held_back(engine, user_id, summary, "ZERODHA123")
    assert summary["status"] == "PARTIAL" and "ZERODHA123" in _alerts(engine)[0]["accounts"]


def test_hedge_accepted_but_never_filled_holds_back_the_shorts_and_is_cancelled(engine, seed_strategy):
    user_id, _ = seed_strategy

    def buy_far_below_market(broker, real, request):
        if request.transaction_type is TransactionType.BUY:
            request = replace(request, price=Decimal("0.05"))  # rests in the book, never fills
        return real(request)

    broker, summary = _entry_with(engine, user_id, "ZERODHA123", buy_far_below_market)
    assert all(o.transaction_type is TransactionType.BUY for o in broker.order_book())
    assert {o.status for o in broker.order_book()} == {OrderStatus.CANCELLED}, "unfilled hedge remainder cancelled"
    orders = _shorts_held_back(engine, user_id, summary, "ZERODHA123")
    assert any("not confirmed FILLED within 3000 ms" in o.broker_message for o in orders
               if o.transaction_type is TransactionType.SELL)
    assert summary["status"] in ("PARTIAL", "FAILED")


def test_hedge_rejected_later_by_the_broker_holds_back_the_shorts(engine, seed_strategy):
    user_id, _ = seed_strategy

    def rms_rejects_after_accepting(broker, real, request):
        ack = real(request)
        if request.transaction_type is TransactionType.BUY:
            with broker._lock:  # the broker's risk check rejects it a moment later
                broker._orders[ack.order_id] = replace(broker._orders[ack.order_id], status=OrderStatus.REJECTED,
                                                       filled_quantity=0, message="RMS: margin exceeds")
        return ack

    broker, summary = _entry_with(engine, user_id, "ANGELONE456", rms_rejects_after_accepting)
    assert all(o.transaction_type is TransactionType.BUY for o in broker.order_book())
    _shorts_held_back(engine, user_id, summary, "ANGELONE456")


def test_refused_buy_back_keeps_the_long_hedge_on_exit(engine, seed_strategy, api):
    user_id, strategy_id = seed_strategy
    (event,) = due_event(engine)
    run_state_machine(event, engine)
    api("PUT", f"/options/strategies/{strategy_id}", {"exit_time": "09:35", "exit_days": ["MONDAY"]})
    engine.clock.set(datetime(2026, 8, 17, 9, 33, 1, tzinfo=IST))
    run_emitter(engine)
    (exit_event,) = [d for _, t, d in engine.publisher.drain(EXECUTION_DUE) if d["execution_type"] == "EXIT"]
    broker = _paper(engine, user_id, "ZERODHA123")
    real = broker.place_order

    def refuse_buy_backs(request):
        if request.transaction_type is TransactionType.BUY:
            raise OrderRejected("RMS", broker="paper", broker_message="Buy-back blocked by RMS")
        return real(request)

    broker.place_order = refuse_buy_backs
    (summary,) = run_state_machine(exit_event, engine)["results"]
    assert summary["status"] == "PARTIAL"
    positions = {p.leg_no: p.quantity for p in engine.repos.positions.list(user_id, strategy_id, "ZERODHA123")}
    assert positions[1] < 0 and positions[2] > 0, "the short is still open, so its long hedge is kept"
    exit_orders = _orders(engine, user_id, summary["execution_id"], "ZERODHA123")
    sells = [o for o in exit_orders if o.transaction_type is TransactionType.SELL]
    assert {o.status for o in sells} == {OrderStatus.NOT_SENT}
    assert all("only after the shorts are bought back" in o.broker_message for o in sells)
