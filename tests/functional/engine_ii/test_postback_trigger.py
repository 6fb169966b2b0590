"""Issue 13 item 14: a Kite postback's checksum covers only order_id and order_timestamp, yet
every field was applied: a signed postback with average_price changed to 0.05 booked that fill
and placed a BUY stop at 0.10. A postback is now only a trigger: the engine reads the order from
the broker and applies what the broker says."""

from datetime import date
from decimal import Decimal

import pytest

from shared_utils.brokers.errors import BrokerUnavailable
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import ExecutionType, OrderPurpose, OrderStatus
from shared_utils.persistence import keys
from tests.functional.engine.conftest import due_event
from tests.functional.engine_ii.helpers import kite_postback, post, refuse_book_after_shorts

pytestmark = pytest.mark.slow


def test_a_signed_postback_with_a_forged_price_books_the_brokers_fill(engine, live, fakes, monkeypatch):
    user_id, strategy_id, kite, angel = live
    refuse_book_after_shorts(monkeypatch, kite, BrokerUnavailable("book refused (test)", broker="test"))
    (event,) = due_event(engine)
    run_state_machine(event, engine)
    monkeypatch.undo()
    entry_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, date(2026, 8, 17))
    short = next(o for o in engine.repos.orders.list_for_execution(user_id, entry_id, "ZERODHA123")
                 if o.transaction_type.value == "SELL" and o.status is OrderStatus.OPEN)
    real = fakes.kite.engine.get(short.broker_order_id)
    forged = {**kite_postback(fakes.kite, short.broker_order_id), "average_price": 0.05}
    status, body = post(forged)  # the checksum still matches: it does not cover average_price
    assert status == 200, body
    stored = engine.repos.orders.get(user_id, short.order_key)
    assert stored.status is OrderStatus.FILLED
    assert stored.average_price == real.average_price != Decimal("0.05")
    position = engine.repos.positions.get(user_id, strategy_id, "ZERODHA123", short.tradingsymbol)
    assert position.average_price == real.average_price
    stop = next(o for o in engine.repos.orders.list_for_execution(user_id, entry_id, "ZERODHA123")
                if o.purpose is OrderPurpose.STOP_LOSS and o.parent_order_key == short.order_key)
    assert stop.trigger_price > real.average_price, "the stop is priced from the broker's fill"
