"""The actions of issue 18 through the REAL SDKs (kiteconnect for ZERODHA123, smartapi-python
for ANGELONE456) against the protocol fakes: a modify and a cancel reach the broker's order as
Kite/SmartAPI carry them, the broker's own refusal (an order the trader cancelled in the broker's
app meanwhile) is a 409 quoting the broker and the records learn the truth, and a close sends its
closing order to the broker after cancelling the leg's stop there."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from local.fake_brokers import FakeBrokers
from shared_utils.clock import IST
from shared_utils.execution.clients import StaticClientProvider
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import OrderPurpose, OrderStatus, TradingMode
from tests.functional.api.test_order_actions import _orders, _stop, wired  # noqa: F401
from tests.functional.engine.conftest import due_event, engine, seed_strategy  # noqa: F401

pytestmark = pytest.mark.slow


@pytest.fixture
def on_fakes(wired, seed_strategy, api):  # noqa: F811
    engine = wired
    brokers = FakeBrokers(engine.master, lambda c: engine.simulator.quote(c).ltp, ["NIFTY"])
    engine.symbol_masters.update(brokers.symbol_masters)
    user_id, strategy_id = seed_strategy
    for client_id in ("ZERODHA123", "ANGELONE456"):
        account = engine.repos.accounts.get(user_id, client_id)
        engine.repos.accounts.save(account.model_copy(update={"trading_mode": TradingMode.LIVE}), account.version)
    kite, angel = brokers.client("zerodha", "ZERODHA123"), brokers.client("angel", "ANGELONE456")
    engine.clients = StaticClientProvider({"ZERODHA123": kite, "ANGELONE456": angel})
    (event,) = due_event(engine)
    assert run_state_machine(event, engine)["results"][0]["status"] == "COMPLETED"
    engine.clock.set(datetime(2026, 8, 17, 9, 31, tzinfo=IST))
    run_order_poller(engine)
    engine.clock.set(datetime(2026, 8, 17, 10, 0, tzinfo=IST))
    yield engine, brokers, user_id, strategy_id
    brokers.stop()


def test_modify_and_cancel_reach_the_brokers_order(on_fakes, api):
    engine, brokers, user_id, _ = on_fakes
    stop = _stop(engine, user_id, "ZERODHA123", 3)
    assert stop.status is OrderStatus.TRIGGER_PENDING and stop.broker_order_id
    trigger, price = stop.trigger_price - Decimal("1.00"), stop.price - Decimal("1.00")
    status, body = api("POST", f"/options/orders/{stop.tag}/modify", {"trigger_price": float(trigger), "price": float(price)})
    assert status == 200, body
    at_kite = brokers.kite.engine.get(stop.broker_order_id)
    assert (at_kite.trigger_price, at_kite.price, at_kite.status) == (trigger, price, "TRIGGER_PENDING")

    angel_stop = _stop(engine, user_id, "ANGELONE456", 1)
    status, body = api("POST", f"/options/orders/{angel_stop.tag}/cancel")
    assert status == 200 and body["status"] == "CANCELLED", body
    assert brokers.angel.engine.get(angel_stop.broker_order_id).status == "CANCELLED"


def test_the_brokers_refusal_is_quoted_and_the_records_learn_the_truth(on_fakes, api):
    engine, brokers, user_id, _ = on_fakes
    stop = _stop(engine, user_id, "ZERODHA123", 1)
    brokers.kite.engine.cancel(stop.broker_order_id)  # the trader cancelled it in Kite's own app
    status, body = api("POST", f"/options/orders/{stop.tag}/modify", {"trigger_price": float(stop.trigger_price - 1)})
    assert status == 409 and "the broker refused to modify" in body["message"], body
    assert "cannot be modified" in body["message"]  # the broker's own words
    assert engine.repos.orders.get(user_id, stop.order_key).status is OrderStatus.CANCELLED
    trail = list(engine.repos.orders.table.query_all(user_id, "AUDIT#"))
    assert [(i["action"], i["outcome"]) for i in trail] == [("MODIFY_ORDER", "REFUSED_BY_BROKER")]


def test_close_cancels_the_stop_at_the_broker_then_closes_there(on_fakes, api):
    engine, brokers, user_id, strategy_id = on_fakes
    short = next(p for p in engine.repos.positions.list(user_id, strategy_id, "ANGELONE456") if p.leg_no == 3)
    stop = _stop(engine, user_id, "ANGELONE456", 3)
    status, body = api("POST", f"/options/positions/{strategy_id}~ANGELONE456~{short.tradingsymbol}/close")
    assert status == 200, body
    assert body["cancelled_orders"] == [stop.tag]
    assert brokers.angel.engine.get(stop.broker_order_id).status == "CANCELLED"
    closing = [o for o in _orders(engine, user_id, OrderPurpose.EXIT)]
    assert len(closing) == 1 and closing[0].transaction_type.value == "BUY"
    at_angel = brokers.angel.engine.get(closing[0].broker_order_id)
    assert at_angel.side == "BUY" and at_angel.quantity == -short.quantity and at_angel.tag == closing[0].tag
