"""A full day of the seed's iron condor on the fakes through the real SDKs: entry at 09:30,
Kite fills learnt by signed postbacks and Angel fills by polling, stop losses at the broker at
the right triggers, one leg stopped out, the exit at 15:20 cancelling the other stops and
squaring off the rest, flat at the brokers and in the records, P&L equal to the fills."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from shared_utils.brokers.errors import BrokerUnavailable
from shared_utils.clock import IST
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import ExecutionType, OrderPurpose, OrderStatus
from shared_utils.persistence import keys
from tests.functional.engine.conftest import due_event
from tests.functional.engine_ii.helpers import TICK, expected_stop, kite_postback, post

pytestmark = pytest.mark.slow

STOPS = {1: (Decimal(50), Decimal(5)), 2: (Decimal(25), Decimal(3)), 3: (Decimal(50), Decimal(5)), 4: (Decimal(25), Decimal(3))}


def _unavailable(*a, **k):
    raise BrokerUnavailable("book read refused in this test", broker="test")


def test_full_day_on_the_fakes(engine, live, fakes, overrides, api, monkeypatch):
    user_id, strategy_id, kite, angel = live
    entry_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, date(2026, 8, 17))

    # ---- entry: PlaceOrders' book read fails, so fills come by postback (Kite) and polling (Angel)
    monkeypatch.setattr(kite, "order_book", _unavailable)
    monkeypatch.setattr(angel, "order_book", _unavailable)
    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    assert summary["status"] == "COMPLETED", summary
    monkeypatch.undo()
    orders = engine.repos.orders.list_for_execution(user_id, entry_id)
    assert len(orders) == 8 and {o.status for o in orders} == {OrderStatus.OPEN}

    for fake_order in list(fakes.kite.engine.orders.values()):
        status, body = post(kite_postback(fakes.kite, fake_order.order_id))
        assert status == 200 and body["status"] == "FILLED", body
    assert run_order_poller(engine)["book_errors"] == {}

    orders = engine.repos.orders.list_for_execution(user_id, entry_id)
    entries = [o for o in orders if o.purpose is OrderPurpose.ENTRY]
    stops = {o.parent_order_key: o for o in orders if o.purpose is OrderPurpose.STOP_LOSS}
    assert all(o.status is OrderStatus.FILLED for o in entries)
    assert len(stops) == 8, "one stop per filled entry, at both brokers"
    kite_by_tag = {o.tag: o for o in fakes.kite.engine.orders.values()}
    angel_by_tag = {o.tag: o for o in fakes.angel.engine.orders.values()}
    triggers = {}
    for entry in entries:
        stop = stops[entry.order_key]
        pct, slippage = STOPS[entry.leg_no]
        trigger, limit = expected_stop(entry.transaction_type.value, entry.average_price, pct, slippage)
        assert (stop.trigger_price, stop.price) == (trigger, limit), (entry.leg_no, entry.average_price)
        assert stop.transaction_type.value == ("BUY" if entry.transaction_type.value == "SELL" else "SELL")
        assert stop.quantity == entry.filled_quantity and stop.order_type.value == "SL"
        assert stop.status is OrderStatus.TRIGGER_PENDING
        at_broker = (kite_by_tag if entry.client_id == "ZERODHA123" else angel_by_tag)[stop.tag]
        assert (at_broker.trigger_price, at_broker.price, at_broker.status) == (trigger, limit, "TRIGGER_PENDING")
        triggers[(entry.client_id, entry.leg_no)] = (entry.average_price, trigger, limit)
    print("\nfills and stops (client, leg): (fill, trigger, limit)", sorted(triggers.items()))
    # the seeded market (seed 17, NIFTY 24850) gives the same fills at both brokers:
    # leg 1 SELL PE 24.50 -> BUY SL 36.75 / 38.60 (24.50 x 1.5 = 36.75; x 1.05 = 38.5875 up)
    # leg 2 BUY PE 3.70 -> SELL SL 2.75 / 2.65 (3.70 x 0.75 = 2.775 down; x 0.97 = 2.6675 down)
    # leg 3 SELL CE 29.60 -> BUY SL 44.40 / 46.65; leg 4 BUY CE 2.60 -> SELL SL 1.95 / 1.85
    # (prices priced to the 15:40 NSE F&O close of the 2026-08-18 expiry: NSE circular 74/2026)
    for client_id in ("ZERODHA123", "ANGELONE456"):
        assert triggers[(client_id, 1)] == (Decimal("24.5"), Decimal("36.75"), Decimal("38.60"))
        assert triggers[(client_id, 2)] == (Decimal("3.7"), Decimal("2.75"), Decimal("2.65"))
        assert triggers[(client_id, 3)] == (Decimal("29.6"), Decimal("44.40"), Decimal("46.65"))
        assert triggers[(client_id, 4)] == (Decimal("2.6"), Decimal("1.95"), Decimal("1.85"))

    # a duplicate postback changes nothing and places no second stop
    first = next(iter(fakes.kite.engine.orders.values()))
    assert post(kite_postback(fakes.kite, first.order_id))[0] == 200
    assert len(fakes.kite.engine.orders) == 8

    # ---- leg 3 (short call) runs through its stop at both brokers
    leg3 = next(o for o in entries if o.leg_no == 3)
    trigger_kite = triggers[("ZERODHA123", 3)][1]
    trigger_angel = triggers[("ANGELONE456", 3)][1]
    overrides[leg3.tradingsymbol] = max(trigger_kite, trigger_angel) + TICK
    engine.clock.set(datetime(2026, 8, 17, 11, 0, 5, tzinfo=IST))
    run_order_poller(engine)
    stop_orders = [o for o in engine.repos.orders.list_for_execution(user_id, entry_id) if o.purpose is OrderPurpose.STOP_LOSS]
    assert {o.leg_no for o in stop_orders if o.status is OrderStatus.FILLED} == {3}
    for client_id in ("ZERODHA123", "ANGELONE456"):
        assert engine.repos.positions.get(user_id, strategy_id, client_id, leg3.tradingsymbol).quantity == 0
    alerts = [d for _, t, d in engine.publisher.published if t == "Order Alert" and d.get("kind") == "STOP_LOSS_HIT"]
    assert len(alerts) == 2

    # ---- the exit at 15:20 cancels the remaining stops first, then squares off the rest
    engine.clock.set(datetime(2026, 8, 17, 15, 18, 5, tzinfo=IST))
    (exit_event,) = due_event(engine, slot="15:20", execution_type=ExecutionType.EXIT)
    (exit_summary,) = run_state_machine(exit_event, engine)["results"]
    assert exit_summary["status"] == "COMPLETED", exit_summary
    exit_orders = engine.repos.orders.list_for_execution(user_id, exit_summary["execution_id"])
    assert len(exit_orders) == 6 and {o.leg_no for o in exit_orders} == {1, 2, 4}
    assert all(o.status is OrderStatus.FILLED for o in exit_orders)
    stop_orders = [o for o in engine.repos.orders.list_for_execution(user_id, entry_id) if o.purpose is OrderPurpose.STOP_LOSS]
    assert {o.status for o in stop_orders if o.leg_no != 3} == {OrderStatus.CANCELLED}
    for fake in (fakes.kite, fakes.angel):
        statuses = {o.tag: o.status for o in fake.engine.orders.values()}
        assert all(statuses[o.tag] == "CANCELLED" for o in stop_orders if o.leg_no != 3 and o.tag in statuses)
        assert not [o for o in fake.engine.orders.values() if o.status in ("OPEN", "TRIGGER_PENDING")]

    # ---- flat everywhere; records agree with the brokers
    run_order_poller(engine)
    assert all(p.quantity == 0 for p in kite.positions()) and all(p.quantity == 0 for p in angel.positions())
    positions = engine.repos.positions.list(user_id, strategy_id)
    assert len(positions) == 8 and all(p.quantity == 0 and p.status == "CLOSED" for p in positions)
    exit_record = engine.repos.executions.get_by_id(user_id, exit_summary["execution_id"])
    assert any(r == "positions reconciled with the broker: they agree" for r in exit_record.reasons), exit_record.reasons

    # ---- P&L by hand from the brokers' own trades (SELL +, BUY -), rupees
    by_hand = Decimal(0)
    for fake in (fakes.kite, fakes.angel):
        for trade in fake.engine.trades:
            sign = 1 if trade["side"] == "SELL" else -1
            by_hand += sign * trade["price"] * trade["quantity"]
    realised = sum((p.realised_pnl for p in positions), Decimal(0))
    print("P&L by hand", by_hand, "records", realised)
    assert realised == by_hand == Decimal("-4836.00")  # simulator priced to the 15:40 NSE F&O close (74/2026)
    status, body = api("GET", "/options/positions", query={"strategy_id": strategy_id})
    assert status == 200 and Decimal(body["total_mtm"]) == by_hand
