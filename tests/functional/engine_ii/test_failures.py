"""Failure handling on the fakes: a forged postback, a partial fill (COMPLETE), a rejection
(SQUARE_OFF) and a broker outage during the exit, each handled with nothing lost."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from shared_utils.brokers.errors import BrokerUnavailable, OrderRejected
from shared_utils.clock import IST
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.risk_monitor import run_stop_loss_checker
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import ExecutionStatus, ExecutionType, OrderPurpose, OrderStatus
from shared_utils.persistence import keys
from tests.functional.engine.conftest import due_event
from tests.functional.engine_ii.helpers import kite_postback, post, refuse_book_after_shorts

pytestmark = pytest.mark.slow


def _unavailable(*a, **k):
    raise BrokerUnavailable("broker outage (test)", broker="test")


def _entry(engine, strategy_id):
    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    return summary, keys.execution_id(strategy_id, ExecutionType.ENTRY, date(2026, 8, 17))


def _alerts(engine, kind):
    return [d for _, t, d in engine.publisher.published if t == "Order Alert" and d.get("kind") == kind]


def test_forged_postback_is_refused_and_changes_nothing(engine, live, fakes, monkeypatch):
    user_id, strategy_id, kite, angel = live
    monkeypatch.setattr(kite, "order_book", _unavailable)
    _, entry_id = _entry(engine, strategy_id)
    monkeypatch.undo()
    before = {o.order_key: (o.status, o.filled_quantity, o.version) for o in engine.repos.orders.list_for_execution(user_id, entry_id)}
    # what PlaceOrders learnt without the order book (the hedges' fills, read one by one during
    # the hedge wait) is booked; the forged postback must add nothing to it
    positions_before = engine.repos.positions.list(user_id, strategy_id, "ZERODHA123")
    fake_order = next(iter(fakes.kite.engine.orders.values()))
    forged = kite_postback(fakes.kite, fake_order.order_id, secret="not-the-secret")
    status, body = post(forged)
    assert status == 403 and "checksum" in body["message"]
    unknown = {**kite_postback(fakes.kite, fake_order.order_id), "tag": "QNOTOURSNOTOURS00000"}
    assert post(unknown)[0] == 403
    assert post({"order_id": fake_order.order_id, "status": "COMPLETE"}, broker="angel")[0] == 403
    after = {o.order_key: (o.status, o.filled_quantity, o.version) for o in engine.repos.orders.list_for_execution(user_id, entry_id)}
    assert after == before
    assert len(fakes.kite.engine.orders) == 4, "no stop was placed on a forged fill"
    assert engine.repos.positions.list(user_id, strategy_id, "ZERODHA123") == positions_before


def test_partial_fill_is_completed_once_at_the_current_price(engine, live, fakes, api, monkeypatch):
    user_id, strategy_id, kite, angel = live
    assert api("PUT", f"/options/strategies/{strategy_id}", {"partial_fill_policy": "COMPLETE"})[0] == 200
    refuse_book_after_shorts(monkeypatch, angel, BrokerUnavailable("broker outage (test)", broker="test"))
    summary, entry_id = _entry(engine, strategy_id)
    monkeypatch.undo()
    # the exchange filled only half of Angel's leg 3 (4 lots = 260 units) and cancelled the rest
    leg3 = next(o for o in engine.repos.orders.list_for_execution(user_id, entry_id, "ANGELONE456") if o.leg_no == 3)
    fake = fakes.angel.engine.get(leg3.broker_order_id)
    fake.filled, fake.status, fake.average_price = 130, "CANCELLED", Decimal("29.40")
    fakes.angel.engine.trades = [t for t in fakes.angel.engine.trades if t["order_id"] != fake.order_id]
    fakes.angel.engine.trades.append({"trade_id": "x", "order_id": fake.order_id, "exchange": fake.exchange,
                                      "tradingsymbol": fake.tradingsymbol, "side": "SELL", "quantity": 130,
                                      "price": Decimal("29.40"), "product": fake.product, "time": fake.updated_at})
    run_order_poller(engine)
    execution = engine.repos.executions.get_by_id(user_id, entry_id)
    assert execution.status is ExecutionStatus.PARTIAL
    assert any("ANGELONE456 leg 3 short 130 units; policy COMPLETE" in r for r in execution.reasons)
    assert _alerts(engine, "PARTIAL_FILL")
    orders = engine.repos.orders.list_for_execution(user_id, entry_id, "ANGELONE456")
    (retry,) = [o for o in orders if o.purpose is OrderPurpose.ENTRY and o.attempt >= 1]
    assert retry.leg_no == 3 and retry.quantity == 130 and retry.status is OrderStatus.FILLED
    assert engine.repos.positions.get(user_id, strategy_id, "ANGELONE456", leg3.tradingsymbol).quantity == -260
    # each filled slice is protected by its own stop; a second poll sends nothing more
    stops = [o for o in orders if o.purpose is OrderPurpose.STOP_LOSS and o.leg_no == 3]
    assert sorted(o.quantity for o in stops) == [130, 130]
    count = len(fakes.angel.engine.orders)
    run_order_poller(engine)
    assert len(fakes.angel.engine.orders) == count


def test_rejected_leg_squares_off_the_filled_legs(engine, live, fakes, api, monkeypatch):
    user_id, strategy_id, kite, angel = live
    assert api("PUT", f"/options/strategies/{strategy_id}", {"partial_fill_policy": "SQUARE_OFF"})[0] == 200
    original = angel.place_order

    def reject_leg3(request):
        if request.transaction_type.value == "SELL" and request.tradingsymbol.endswith("CE"):
            raise OrderRejected("RMS", broker="angel", broker_message="RMS: margin exceeds available")
        return original(request)

    monkeypatch.setattr(angel, "place_order", reject_leg3)
    summary, entry_id = _entry(engine, strategy_id)
    monkeypatch.undo()
    assert summary["status"] == "PARTIAL" and any("margin exceeds" in r for r in summary["reasons"])
    run_order_poller(engine)
    execution = engine.repos.executions.get_by_id(user_id, entry_id)
    assert execution.status is ExecutionStatus.PARTIAL and any("policy SQUARE_OFF" in r for r in execution.reasons)
    orders = engine.repos.orders.list_for_execution(user_id, entry_id)
    square_offs = [o for o in orders if o.purpose is OrderPurpose.EXIT]
    assert len(square_offs) == 7 and all(o.status is OrderStatus.FILLED and o.attempt >= 1 for o in square_offs)
    assert not [o for o in orders if o.purpose is OrderPurpose.STOP_LOSS], "no stop for a leg being squared off"
    assert all(p.quantity == 0 for p in engine.repos.positions.list(user_id, strategy_id))
    assert all(p.quantity == 0 for p in kite.positions()) and all(p.quantity == 0 for p in angel.positions())


def test_broker_outage_during_exit_is_finished_by_the_next_minute(engine, live, fakes, monkeypatch):
    user_id, strategy_id, kite, angel = live
    _entry(engine, strategy_id)
    run_order_poller(engine)  # stops at both brokers
    engine.clock.set(datetime(2026, 8, 17, 15, 18, 5, tzinfo=IST))
    (exit_event,) = due_event(engine, slot="15:20", execution_type=ExecutionType.EXIT)
    for name in ("cancel_order", "order_book", "place_order", "find_order_by_tag"):
        monkeypatch.setattr(kite, name, _unavailable)
    (summary,) = run_state_machine(exit_event, engine)["results"]
    monkeypatch.undo()
    exit_id = summary["execution_id"]
    execution = engine.repos.executions.get_by_id(user_id, exit_id)
    assert any("ZERODHA123 leg 1" in r and "could not be cancelled" in r for r in execution.reasons), execution.reasons
    assert _alerts(engine, "EXIT_CANCELS")
    # Kite: the stops are still working (they protect the legs), the positions still open
    kite_stops = [o for o in engine.repos.orders.list_for_execution(
        user_id, keys.execution_id(strategy_id, ExecutionType.ENTRY, date(2026, 8, 17)), "ZERODHA123")
        if o.purpose is OrderPurpose.STOP_LOSS]
    assert {o.status for o in kite_stops} == {OrderStatus.TRIGGER_PENDING}
    assert all(p.quantity for p in engine.repos.positions.list(user_id, strategy_id, "ZERODHA123"))
    assert all(p.quantity == 0 for p in engine.repos.positions.list(user_id, strategy_id, "ANGELONE456"))
    # the next minute's stop-loss check finishes the exit with new keys
    engine.clock.advance(timedelta(minutes=1))
    result = run_stop_loss_checker(engine)
    assert result["strategies"][0]["exit_retry"]["attempt"] == 1, result
    assert all(p.quantity == 0 for p in engine.repos.positions.list(user_id, strategy_id))
    assert all(p.quantity == 0 for p in kite.positions())
    assert not [o for o in fakes.kite.engine.orders.values() if o.status in ("OPEN", "TRIGGER_PENDING")]
    retries = [o for o in engine.repos.orders.list_for_execution(user_id, exit_id, "ZERODHA123")]
    assert retries and all(o.attempt >= 1 and o.status is OrderStatus.FILLED for o in retries)
    assert any(r.startswith("exit retry 1") for r in engine.repos.executions.get_by_id(user_id, exit_id).reasons)
