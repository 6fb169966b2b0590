"""Findings 3, 4 and 5 of issue 14 through the engine (Prepare -> Resolve -> PlaceOrders ->
Finalize over moto tables, the seed's journey 1: ZERODHA123 on Kite, ANGELONE456 on Angel):

- a LIVE account is never priced with the market simulator: the execution FAILS with the
  reason and an Order Alert, and nothing is sent (not even the PAPER account's orders);
- an ENTRY with a master that is not the trade date's, or that cannot be read, FAILS naming
  both dates / the S3 key and error;
- an Angel order for a contract without Angel's token is NOT_SENT with the reason, the other
  account's orders go out, and no exception escapes.
"""

from datetime import date, datetime

import pytest

from shared_utils.clock import IST
from shared_utils.execution.events import ORDER_ALERT
from shared_utils.execution.market_data import PaperOnlyMarketData
from shared_utils.execution.runner import run_state_machine
from shared_utils.market.instruments import InstrumentMaster
from shared_utils.models.enums import ExecutionType, OrderStatus, TradingMode
from shared_utils.persistence import keys
from shared_utils.services import instruments_store
from shared_utils.services.market_data import (
    DEFAULT_INSTRUMENTS,
    DailyInstrumentMaster,
    DailySymbolMasters,
    MasterOrigin,
    _mark,
    s3_master,
)
from tests.functional.engine.conftest import due_event, engine, seed_strategy  # noqa: F401 - fixtures
from tests.functional.market_data.conftest import BUCKET

TRADE_DATE = date(2026, 8, 17)


def _go_live(engine, user_id, *client_ids):
    for client_id in client_ids:
        account = engine.repos.accounts.get(user_id, client_id)
        engine.repos.accounts.save(account.model_copy(update={"trading_mode": TradingMode.LIVE}), account.version)


def _run(engine, strategy_id, user_id="user-a"):
    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    execution_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, TRADE_DATE)
    return summary, engine.repos.orders.list_for_execution(user_id, execution_id)


def _master_of(day: date) -> InstrumentMaster:
    """The bundled contracts as if published for ``day`` in S3 (a deployed, dated master)."""
    master = InstrumentMaster.from_kite_csv(DEFAULT_INSTRUMENTS, as_of=day)
    return _mark(master, MasterOrigin(day, f"s3://{BUCKET}/instruments/kite/{day.isoformat()}.csv", paper_only=False))


def test_a_live_account_is_not_priced_with_the_simulator(engine, seed_strategy):
    user_id, strategy_id = seed_strategy
    engine.market = PaperOnlyMarketData(engine.market)   # the deployed "simulator" market data
    _go_live(engine, user_id, "ZERODHA123")
    summary, orders = _run(engine, strategy_id)
    assert summary["status"] == "FAILED", summary
    assert any(r.startswith("refused to price LIVE account(s) ZERODHA123 with the market simulator")
               for r in summary["reasons"]), summary["reasons"]
    assert orders == [], "nothing is sent, not even the PAPER account's orders"
    (alert,) = engine.publisher.drain(ORDER_ALERT)
    assert alert[2]["execution_id"] == summary["execution_id"]


def test_the_simulator_still_prices_paper_accounts(engine, seed_strategy):
    _, strategy_id = seed_strategy
    engine.market = PaperOnlyMarketData(engine.market)
    summary, orders = _run(engine, strategy_id)
    assert summary["status"] == "COMPLETED", summary
    assert len(orders) == 8


def test_entry_refused_with_yesterdays_master(engine, seed_strategy):
    _, strategy_id = seed_strategy
    engine.master = _master_of(date(2026, 8, 16))
    summary, orders = _run(engine, strategy_id)
    assert summary["status"] == "FAILED" and orders == []
    assert any("stale instrument master: it is of 2026-08-16, the trade date is 2026-08-17" in r
               for r in summary["reasons"]), summary["reasons"]
    assert engine.publisher.drain(ORDER_ALERT)


def test_entry_with_todays_master_from_s3(engine, seed_strategy, s3):
    _, strategy_id = seed_strategy
    instruments_store.publish(DEFAULT_INSTRUMENTS.read_text(), TRADE_DATE, BUCKET, s3)
    engine.master = DailyInstrumentMaster(engine.clock, lambda day: s3_master(day, BUCKET, s3))
    summary, orders = _run(engine, strategy_id)
    assert summary["status"] == "COMPLETED", summary
    assert engine.master.as_of == TRADE_DATE
    assert engine.master.origin.source == f"s3://{BUCKET}/instruments/kite/2026-08-17.csv"


def test_entry_refused_when_the_master_cannot_be_read(engine, seed_strategy, s3):
    """Old behaviour: a warning and the bundled 2026-08-18 extract."""
    _, strategy_id = seed_strategy
    engine.master = DailyInstrumentMaster(engine.clock, lambda day: s3_master(day, BUCKET, s3))
    summary, orders = _run(engine, strategy_id)
    assert summary["status"] == "FAILED" and orders == []
    assert any(f"s3://{BUCKET}/instruments/kite/2026-08-17.csv could not be read: NoSuchKey" in r
               for r in summary["reasons"]), summary["reasons"]


def test_the_master_cache_follows_the_ist_date(engine, s3):
    loads = []
    daily = DailyInstrumentMaster(engine.clock, lambda day: loads.append(day) or _master_of(day))
    assert daily.as_of == TRADE_DATE and len(daily) > 0
    assert daily.expiries("NIFTY")[0] == date(2026, 8, 18)
    assert loads == [TRADE_DATE], "loaded once per day"
    engine.clock.set(datetime(2026, 8, 18, 9, 0, tzinfo=IST))
    assert daily.as_of == date(2026, 8, 18)
    assert loads == [TRADE_DATE, date(2026, 8, 18)]


@pytest.mark.slow
def test_an_angel_order_without_a_token_is_not_sent(engine, seed_strategy, s3):
    """Old behaviour: AngelClient.place_order raised ValueError out of the placer, nothing sent."""
    from local.fake_brokers import FakeBrokers
    from shared_utils.execution.clients import StaticClientProvider

    user_id, strategy_id = seed_strategy
    _go_live(engine, user_id, "ZERODHA123", "ANGELONE456")
    fakes = FakeBrokers(engine.master, lambda c: engine.simulator.quote(c).ltp, ["NIFTY"])
    try:
        kite, angel = fakes.client("zerodha", "ZERODHA123"), fakes.client("angel", "ANGELONE456")
        engine.clients = StaticClientProvider({"ZERODHA123": kite, "ANGELONE456": angel})
        # deployed: the Angel master is read from S3, and today's is not published
        engine.symbol_masters = DailySymbolMasters(engine.clock, BUCKET, s3)
        summary, orders = _run(engine, strategy_id)
        assert angel.order_book() == [], "nothing reached Angel"
        assert len(kite.order_book()) == 4
    finally:
        fakes.stop()
    angel_orders = [o for o in orders if o.client_id == "ANGELONE456"]
    assert len(angel_orders) == 4 and {o.status for o in angel_orders} == {OrderStatus.NOT_SENT}
    assert all("instruments/angel/2026-08-17.json could not be read: NoSuchKey" in o.broker_message
               for o in angel_orders), [o.broker_message for o in angel_orders]
    assert summary["status"] == "PARTIAL", summary
    assert any("ANGELONE456" in r and "NOT_SENT" in r for r in summary["reasons"]), summary["reasons"]
    assert engine.publisher.drain(ORDER_ALERT)


@pytest.mark.slow
def test_an_angel_order_without_any_angel_master_is_not_sent(engine, seed_strategy):
    """Without an Angel master the symbol can be built but the token cannot: NOT_SENT."""
    from local.fake_brokers import FakeBrokers
    from shared_utils.execution.clients import StaticClientProvider

    user_id, strategy_id = seed_strategy
    _go_live(engine, user_id, "ANGELONE456")
    fakes = FakeBrokers(engine.master, lambda c: engine.simulator.quote(c).ltp, ["NIFTY"])
    try:
        angel = fakes.client("angel", "ANGELONE456")
        engine.clients = StaticClientProvider({"ANGELONE456": angel, "ZERODHA123": engine.paper.client_for(
            engine.repos.accounts.get(user_id, "ZERODHA123"))})
        summary, orders = _run(engine, strategy_id)
        assert angel.order_book() == []
    finally:
        fakes.stop()
    angel_orders = [o for o in orders if o.client_id == "ANGELONE456"]
    assert {o.status for o in angel_orders} == {OrderStatus.NOT_SENT}
    assert all("angel: no broker token for NIFTY18AUG26" in o.broker_message for o in angel_orders)


def test_a_failed_master_read_is_not_repeated_for_every_order(engine):
    from datetime import timedelta

    from shared_utils.services.instruments_store import MasterUnavailable
    from shared_utils.services.market_data import FAILURE_RETRY_S

    calls = []

    def loader(day):
        calls.append(day)
        raise MasterUnavailable(f"kite instrument master of {day}: not published")

    daily = DailyInstrumentMaster(engine.clock, loader)
    for _ in range(5):
        with pytest.raises(MasterUnavailable, match="not published"):
            daily.by_symbol("NFO", "NIFTY26AUG1825000CE")
    assert len(calls) == 1
    engine.clock.advance(timedelta(seconds=FAILURE_RETRY_S + 1))
    with pytest.raises(MasterUnavailable):
        _ = daily.as_of
    assert len(calls) == 2, "tried again after the pause"


class _AdapterRaising:
    """A real paper client whose place_order fails the way AngelClient.place_order did without a
    token (ValueError before any request): an adapter's own error, not a BrokerError."""

    def __init__(self, inner):
        self.inner = inner

    def place_order(self, request):
        raise ValueError("angel: OrderRequest.symboltoken is required")

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_no_adapter_exception_escapes_the_placer(engine, seed_strategy):
    from shared_utils.execution.clients import StaticClientProvider

    user_id, strategy_id = seed_strategy
    zerodha = engine.paper.client_for(engine.repos.accounts.get(user_id, "ZERODHA123"))
    angel = engine.paper.client_for(engine.repos.accounts.get(user_id, "ANGELONE456"))
    engine.clients = StaticClientProvider({"ZERODHA123": zerodha, "ANGELONE456": _AdapterRaising(angel)})
    summary, orders = _run(engine, strategy_id)   # old behaviour: ValueError out of run_state_machine
    failed = [o for o in orders if o.client_id == "ANGELONE456"]
    hedges = [o for o in failed if o.transaction_type.value == "BUY"]
    shorts = [o for o in failed if o.transaction_type.value == "SELL"]
    # the hedges' outcome is unknown (reconciled by tag, never re-sent) ...
    assert hedges and {o.status for o in hedges} == {OrderStatus.UNKNOWN}
    assert all("ValueError: angel: OrderRequest.symboltoken is required" in o.broker_message for o in hedges)
    # ... so the shorts are held back (I3: no SELL without a confirmed hedge), with the reason
    assert shorts and {o.status for o in shorts} == {OrderStatus.NOT_SENT}
    assert all("unhedged short" in o.broker_message for o in shorts)
    assert summary["status"] == "PARTIAL" and engine.publisher.drain(ORDER_ALERT)
