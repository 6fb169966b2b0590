"""The seed's journey 1 through the REAL SDKs (kiteconnect for ZERODHA123, smartapi-python for
ANGELONE456) against the protocol fakes on 127.0.0.1, with a timeout after acceptance."""

from datetime import date

import pytest

from local.fake_brokers import FakeBrokers
from shared_utils.execution.clients import StaticClientProvider
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import ExecutionType, TradingMode
from shared_utils.persistence import keys
from tests.functional.engine.conftest import due_event

pytestmark = pytest.mark.slow


@pytest.fixture
def fakes(engine):
    brokers = FakeBrokers(engine.master, lambda c: engine.simulator.quote(c).ltp, ["NIFTY"])
    engine.symbol_masters.update(brokers.symbol_masters)
    yield brokers
    brokers.stop()


def _go_live(engine, user_id):
    for client_id in ("ZERODHA123", "ANGELONE456"):
        account = engine.repos.accounts.get(user_id, client_id)
        engine.repos.accounts.save(account.model_copy(update={"trading_mode": TradingMode.LIVE}), account.version)


def test_journey_on_the_fakes_with_a_lost_answer(engine, seed_strategy, fakes):
    user_id, strategy_id = seed_strategy
    _go_live(engine, user_id)
    kite = fakes.client("zerodha", "ZERODHA123")
    angel = fakes.client("angel", "ANGELONE456")
    engine.clients = StaticClientProvider({"ZERODHA123": kite, "ANGELONE456": angel})
    fakes.kite.faults.stall_after_accept(4.0, times=1)   # the first Kite order's answer never arrives in time
    (event,) = due_event(engine)
    result = run_state_machine(event, engine)
    (summary,) = result["results"]
    assert summary["status"] == "COMPLETED", summary
    execution_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, date(2026, 8, 17))
    orders = engine.repos.orders.list_for_execution(user_id, execution_id)
    assert len(orders) == 8 and all(o.broker_order_id for o in orders)
    kite_book = kite.order_book()
    angel_book = angel.order_book()
    assert len(kite_book) == 4 and len(angel_book) == 4, "no order was placed twice"
    assert {o.tag for o in kite_book} == {o.tag for o in orders if o.client_id == "ZERODHA123"}
    angel_orders = [o for o in orders if o.client_id == "ANGELONE456"]
    assert all(o.broker_tradingsymbol.startswith("NIFTY18AUG26") and o.broker_token for o in angel_orders)
    assert {o.quantity for o in angel_orders if o.leg_no in (3, 4)} == {4 * 65}
