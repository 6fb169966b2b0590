"""Issue 13 regressions (engine: steps and placer): nothing silent (item 1 / I2), at most once
under Step Functions retries (C1), no naked short (item 5 / I3), late is refused (item 7 / I6).

Each test reproduces the issue's scenario on the seed's iron condor (two paper accounts, two
BUY hedges and two SELL shorts each) and fails on the code before this change."""

from dataclasses import replace
from datetime import date, datetime
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


# ---------------------------------------------------------------- C1: small states at any size

def test_states_stay_small_at_the_largest_allowed_size(engine, seed_strategy, api, monkeypatch):
    """8 accounts (max_allocations_per_strategy) x 4 legs x 200 lots (2 lots x multiplier 100 = max_lots_per_leg; 8 freeze
    slices each): 256 orders, every branch dies. Every state stays far below Step Functions'
    256 KiB (the contract's 128 KiB), and the stored execution is far below DynamoDB's 400 KB."""
    import json

    user_id, strategy_id = seed_strategy
    limits = engine.env.settings.execution_engine.limits
    object.__setattr__(engine.env.settings.execution_engine, "limits",
                       limits.model_copy(update={"max_notional_per_account": Decimal("1e12")}))
    try:
        for client_id in ("ZERODHA123", "ANGELONE456"):
            assert api("PUT", f"/options/strategies/{strategy_id}/allocations/{client_id}",
                       {"strategy_lots_multiplier": 100, "risk_limits": {}})[0] == 200
        for n in range(6):
            api.link(user_id, f"PAPER{n}")
            status, body = api("POST", f"/options/strategies/{strategy_id}/allocations",
                               {"client_id": f"PAPER{n}", "allocation_config": {"type": "STRATEGY_LEVEL",
                                                                                "strategy_lots_multiplier": 100}})
            assert status in (200, 201), body
        monkeypatch.setattr(runner, "place_orders", lambda item, ctx: (_ for _ in ()).throw(
            MemoryError("Runtime.OutOfMemory")))
        (event,) = due_event(engine)
        state = prepare(event, engine, "run-big")
        engine.clock.sleep_until(datetime(2026, 8, 17, 9, 29, 58, tzinfo=IST))
        state = resolve(state, engine)
        assert len(state["work_items"]) == 8
        execution_id = state["work_items"][0]["execution_id"]
        assert len(_orders(engine, user_id, execution_id)) == 8 * 4 * 8
        state["placements"] = [{**item, "error": {"Error": "MemoryError", "Cause": "Runtime.OutOfMemory"}}
                               for item in state["work_items"]]
        sizes = {"resolve": len(json.dumps(state["work_items"])), "map": len(json.dumps(state))}
        out = finalize(state, engine)
        sizes["finalize"] = len(json.dumps(out))
        print("STATE_SIZES", sizes)
        assert max(sizes.values()) < 128 * 1024, sizes
        stored = engine.repos.executions.get_by_id(user_id, execution_id)
        assert stored.status is ExecutionStatus.FAILED and len(stored.model_dump_json()) < 100_000
        assert {o.status for o in _orders(engine, user_id, execution_id)} == {OrderStatus.NOT_SENT}
    finally:
        object.__setattr__(engine.env.settings.execution_engine, "limits", limits)


# ---------------------------------------------------------------- I1/I2 at every crash point

@pytest.mark.parametrize("crash", ["before_claim", "after_claim", "after_first_send", "after_all_sends", "none"])
def test_crash_then_retry_then_finalize_sends_each_order_at_most_once(engine, seed_strategy, monkeypatch, crash):
    """PlaceOrders dies at each step boundary, Step Functions retries it once, then Finalize:
    no order reaches the broker twice, nothing stays PENDING, and the execution is COMPLETED only
    when every order was accepted (else PARTIAL/FAILED with an alert)."""
    user_id, _ = seed_strategy
    state = _resolved(engine)
    item = next(i for i in state["work_items"] if i["client_id"] == "ZERODHA123")
    broker = _paper(engine, user_id, "ZERODHA123")
    real_place, sent = broker.place_order, []

    def counting(request):
        sent.append(request.tag)
        ack = real_place(request)
        if crash == "after_first_send" and len(sent) == 1:
            raise SystemExit("Lambda runtime killed mid-loop")
        return ack

    broker.place_order = counting
    with monkeypatch.context() as patch:
        if crash == "before_claim":
            patch.setattr(engine.repos.orders, "claim_placement",
                          lambda *a, **k: (_ for _ in ()).throw(RuntimeError("init crash")))
        elif crash == "after_claim":
            patch.setattr(placer, "_send_batch", lambda *a, **k: (_ for _ in ()).throw(MemoryError("OOM")))
        elif crash == "after_all_sends":
            patch.setattr(placer, "_save", lambda *a, **k: (_ for _ in ()).throw(TimeoutError("timed out")))
        try:
            first = place_orders(item, engine)
        except BaseException as exc:  # noqa: BLE001 - the Map's Catch
            first = {**item, "error": f"{type(exc).__name__}: {exc}"}
    try:
        retry = place_orders(item, engine)
    except BaseException as exc:  # noqa: BLE001
        retry = {**item, "error": f"{type(exc).__name__}: {exc}"}
    others = [place_orders(i, engine) for i in state["work_items"] if i["client_id"] != "ZERODHA123"]
    state["placements"] = [first if retry.get("error") else retry] + others
    (summary,) = finalize(state, engine)["results"]

    tags = [o.tag for o in broker.order_book()]
    assert len(tags) == len(set(tags)) and len(sent) == len(set(sent)), "an order reached the broker twice"
    orders = _orders(engine, user_id, item["execution_id"])
    assert OrderStatus.PENDING not in {o.status for o in orders}
    accepted = [o for o in orders if o.status in (OrderStatus.OPEN, OrderStatus.FILLED)]
    if len(accepted) == len(orders):
        assert summary["status"] == "COMPLETED", (summary["reasons"], first.get("error"), retry.get("error"))
    else:
        assert summary["status"] in ("PARTIAL", "FAILED") and _alerts(engine)
    expected_sent = {"before_claim": 4, "after_claim": 0, "after_first_send": 1, "after_all_sends": 4, "none": 4}
    assert len(sent) == expected_sent[crash], sent
