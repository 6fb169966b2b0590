"""Issue 13 item 12: stops. Before: a partly filled entry got no stop until the order was final
and nothing cancelled its unfilled rest (``entry_max_slippage`` unused); the default
``exit_slippage`` 0 put the stop's limit AT its trigger, so it would not fill on a gap; a stop
refused because the price had already crossed its trigger only alerted."""

from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from shared_utils.brokers.errors import BrokerUnavailable, OrderRejected
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.runner import run_state_machine
from shared_utils.execution.stops import build_stop_record
from shared_utils.models.enums import ExecutionType, OrderPurpose, OrderStatus
from shared_utils.persistence import keys
from tests.functional.engine.conftest import due_event
from tests.functional.engine_ii.helpers import refuse_book_after_shorts

pytestmark = pytest.mark.slow
ENTRY_DATE = date(2026, 8, 17)


def _orders(engine, user_id, entry_id, client_id):
    return engine.repos.orders.list_for_execution(user_id, entry_id, client_id)


def test_a_partly_filled_entry_is_protected_at_once_and_its_rest_cancelled(engine, live, fakes, monkeypatch):
    user_id, strategy_id, kite, angel = live
    refuse_book_after_shorts(monkeypatch, angel, BrokerUnavailable("book refused (test)", broker="test"))
    (event,) = due_event(engine)
    run_state_machine(event, engine)
    monkeypatch.undo()
    entry_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, ENTRY_DATE)
    leg3 = next(o for o in _orders(engine, user_id, entry_id, "ANGELONE456") if o.leg_no == 3)
    assert leg3.status is OrderStatus.OPEN
    # the exchange filled half of it; the rest still rests on the book (its limit now far away)
    fake = fakes.angel.engine.get(leg3.broker_order_id)
    fake.filled, fake.status, fake.average_price, fake.price = 130, "OPEN", Decimal("29.40"), Decimal("999")
    engine.clock.advance(timedelta(minutes=1))
    run_order_poller(engine)
    orders = _orders(engine, user_id, entry_id, "ANGELONE456")
    (stop,) = [o for o in orders if o.purpose is OrderPurpose.STOP_LOSS and o.leg_no == 3]
    assert stop.quantity == 130 and stop.status is OrderStatus.TRIGGER_PENDING, stop
    assert fakes.angel.engine.get(stop.broker_order_id).quantity == 130
    assert fake.status == "CANCELLED", "the unfilled rest was left working"
    run_order_poller(engine)
    leg3 = engine.repos.orders.get(user_id, leg3.order_key)
    assert leg3.status is OrderStatus.CANCELLED and leg3.filled_quantity == 130


def test_a_stop_limit_has_a_buffer_when_the_leg_gives_none():
    entry = SimpleNamespace(transaction_type="SELL", average_price=Decimal("100"), execution_id="s.20260817.E",
                            client_id="C1", leg_no=1, slice_no=0, attempt=0, filled_quantity=65, lot_size=65, lots=1,
                            user_id="u", strategy_id="s", broker="zerodha", exchange="NFO", tradingsymbol="X",
                            instrument_token=1, broker_tradingsymbol=None, broker_token=None, product="NRML",
                            order_key="ORDER#e")
    leg = SimpleNamespace(stop_loss=Decimal("50"), stop_loss_type="PERCENTAGE", exit_slippage=Decimal("0"),
                          stop_loss_order_type="SL")
    stop = build_stop_record(entry, leg, Decimal("0.05"), engine_now())
    assert stop.trigger_price == Decimal("150.00")
    assert stop.price == Decimal("157.50"), "a limit at the trigger does not fill when the price gaps through"


def engine_now():
    from datetime import datetime, timezone

    return datetime(2026, 8, 17, 4, 0, tzinfo=timezone.utc)


def test_a_stop_refused_as_already_triggered_closes_the_leg_at_once(engine, live, fakes, monkeypatch, overrides):
    user_id, strategy_id, kite, angel = live
    (event,) = due_event(engine)
    run_state_machine(event, engine)
    entry_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, ENTRY_DATE)
    leg1 = next(o for o in _orders(engine, user_id, entry_id, "ZERODHA123") if o.leg_no == 1)
    assert leg1.status is OrderStatus.FILLED
    place, quote = kite.place_order, engine.market.quote

    def refuse_stops(request):
        if request.order_type.value == "SL" and request.tradingsymbol == leg1.tradingsymbol:
            raise OrderRejected("rejected", broker="zerodha", broker_message=(
                "Trigger price for stoploss buy orders should be higher than the last traded price."))
        return place(request)

    def crossed(contract, at=None):  # the premium jumped through the stop's trigger
        q = quote(contract, at)
        return SimpleNamespace(**{**q.__dict__, "ltp": Decimal("60")}) if contract.tradingsymbol == leg1.tradingsymbol else q

    monkeypatch.setattr(kite, "place_order", refuse_stops)
    monkeypatch.setattr(engine.market, "quote", crossed)
    # the exchange's price moved too (the fakes refuse a limit outside the band around their LTP)
    overrides[leg1.tradingsymbol] = Decimal("60")
    run_order_poller(engine)
    monkeypatch.undo()
    orders = _orders(engine, user_id, entry_id, "ZERODHA123")
    stop = next(o for o in orders if o.purpose is OrderPurpose.STOP_LOSS and o.leg_no == 1)
    assert stop.status is OrderStatus.REJECTED
    exits = [o for o in orders if o.purpose is OrderPurpose.EXIT and o.leg_no == 1]
    assert exits and all(o.transaction_type.value == "BUY" for o in exits), "the leg was not closed"
    run_order_poller(engine)
    assert engine.repos.positions.get(user_id, strategy_id, "ZERODHA123", leg1.tradingsymbol).quantity == 0
    assert not [p for p in kite.positions() if p.tradingsymbol == leg1.broker_tradingsymbol and p.quantity]
    alerts = [d["message"] for _, t, d in engine.publisher.published if t == "Order Alert" and d.get("kind") == "STOP_LOSS"]
    assert any("already through the stop's trigger" in m for m in alerts), alerts
