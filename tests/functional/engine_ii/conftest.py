"""The seed's iron condor on the protocol fakes (kiteconnect -> FakeKiteServer for ZERODHA123,
smartapi-python -> FakeSmartApiServer for ANGELONE456), LIVE accounts, the Kite account's
api_secret in (moto) Secrets Manager for postback checksums, and per-contract price overrides
so a test can move a contract's price through a stop's trigger."""

from __future__ import annotations

from decimal import Decimal

import pytest

from local.fake_brokers import FakeBrokers
from shared_utils.brokers.base import BrokerCredentials
from shared_utils.execution.clients import StaticClientProvider
from shared_utils.models.enums import TradingMode
from tests.functional.engine.conftest import engine, seed_strategy  # noqa: F401 - fixtures

TICK = Decimal("0.05")


@pytest.fixture
def overrides():
    """{tradingsymbol: Decimal LTP} that replace the simulator's price at the fakes."""
    return {}


@pytest.fixture
def exchange_latency_s():
    """Seconds from a fake accepting an order to the exchange (local.fakes.core). 0 here: these
    tests read fills right after the engine's sends; a module overrides it with None (the fakes'
    realistic default, asynchronous fills) where timing is what it tests (test_exit_lag)."""
    return 0.0


@pytest.fixture
def fakes(engine, overrides, exchange_latency_s):
    def price(contract):
        return overrides.get(contract.tradingsymbol) or engine.simulator.quote(contract).ltp

    brokers = FakeBrokers(engine.master, price, ["NIFTY"], exchange_latency_s=exchange_latency_s)
    engine.symbol_masters.update(brokers.symbol_masters)
    yield brokers
    brokers.stop()


@pytest.fixture
def live(engine, seed_strategy, fakes, api, env_config):
    """Accounts LIVE on the fakes, the Kite secret stored, the postback handler wired to the
    engine. Returns (user_id, strategy_id, kite_client, angel_client)."""
    from lambda_functions.execution_engine import postbacks
    from shared_utils.accounts.secrets import AccountSecret, BrokerSecretStore
    from shared_utils.execution.postbacks import secret_reader

    user_id, strategy_id = seed_strategy
    for client_id in ("ZERODHA123", "ANGELONE456"):
        account = engine.repos.accounts.get(user_id, client_id)
        engine.repos.accounts.save(account.model_copy(update={"trading_mode": TradingMode.LIVE}), account.version)
    store = BrokerSecretStore(env_config)
    store.create(store.name_for(user_id, "ZERODHA123"),
                 AccountSecret(broker="zerodha", credentials=BrokerCredentials(api_key="kite_key", api_secret="kite_secret")))
    kite = fakes.client("zerodha", "ZERODHA123")
    angel = fakes.client("angel", "ANGELONE456")
    engine.clients = StaticClientProvider({"ZERODHA123": kite, "ANGELONE456": angel})
    postbacks.set_context(engine, secret_reader(store))
    status, body = api("PUT", f"/options/strategies/{strategy_id}", {"exit_days": ["MONDAY"]})
    assert status == 200, body
    yield user_id, strategy_id, kite, angel
    postbacks.set_context(None)
