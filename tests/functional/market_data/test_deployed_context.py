"""The deployed composition root (shared_utils.execution.wiring.build_engine_context) as the
execution-engine stack configures it: ``QL_INSTRUMENTS_FROM_S3=1``, ``ARCHIVE_BUCKET_NAME`` and
``QL_MARKET_DATA_ACCOUNT`` from config/environments.json (finding 3: it was never set, so the
deployed engine priced everything with the simulator; finding 2/5: an S3 failure silently used
the bundled extract)."""

from datetime import date, datetime

import pytest

from shared_utils.clock import IST, FixedClock
from shared_utils.config import ConfigError, load_environment
from shared_utils.execution.market_data import BrokerMarketData, PaperOnlyMarketData
from shared_utils.execution.wiring import build_engine_context
from shared_utils.market.errors import MarketError
from shared_utils.services import instruments_store
from shared_utils.services.market_data import DEFAULT_INSTRUMENTS
from shared_utils.services.instruments_store import MasterUnavailable
from tests.functional.market_data.conftest import BUCKET, angel_records, nifty_contracts

MORNING = datetime(2026, 8, 17, 9, 20, tzinfo=IST)


class _NoLiveSessions:
    def client_for(self, account):
        from shared_utils.brokers.errors import SessionExpired

        raise SessionExpired(f"no session for {account.client_id}", broker=account.broker.value)


@pytest.fixture
def deployed(monkeypatch, repos, s3):
    monkeypatch.setenv("QL_INSTRUMENTS_FROM_S3", "1")
    monkeypatch.setenv("ARCHIVE_BUCKET_NAME", BUCKET)
    monkeypatch.delenv("QL_INSTRUMENTS_FILE", raising=False)

    def build(account: str | None):
        if account is None:
            monkeypatch.delenv("QL_MARKET_DATA_ACCOUNT", raising=False)
        else:
            monkeypatch.setenv("QL_MARKET_DATA_ACCOUNT", account)
        return build_engine_context(clock=FixedClock(MORNING), repos=repos, live=_NoLiveSessions(), s3=s3, bucket=BUCKET)

    return build


def test_a_broker_account_prices_with_live_data_and_todays_master(deployed, s3):
    instruments_store.publish(DEFAULT_INSTRUMENTS.read_text(), date(2026, 8, 17), BUCKET, s3)
    ctx = deployed("ops/DATA1")
    assert isinstance(ctx.market, BrokerMarketData) and ctx.market.live_prices
    assert ctx.master.as_of == date(2026, 8, 17)
    assert not ctx.master.origin.paper_only
    # the market-data account is resolved on first use: a missing one is a MarketError with the reason
    with pytest.raises(MarketError, match="market-data account ops/DATA1"):
        ctx.market.spot("NIFTY")


def test_no_published_master_is_an_error_not_the_bundled_extract(deployed):
    ctx = deployed("ops/DATA1")
    with pytest.raises(MasterUnavailable, match=f"s3://{BUCKET}/instruments/kite/2026-08-17.csv could not be read: NoSuchKey"):
        _ = ctx.master.as_of


def test_the_simulator_is_paper_only_and_may_use_the_bundled_extract(deployed):
    ctx = deployed("simulator")
    assert isinstance(ctx.market, PaperOnlyMarketData) and ctx.market.paper_only
    assert ctx.master.origin.paper_only and ctx.master.as_of == date(2026, 8, 18)
    assert "bundled extract" in ctx.master.origin.source


def test_the_market_data_setting_is_required_when_deployed(deployed):
    with pytest.raises(ConfigError, match="QL_MARKET_DATA_ACCOUNT is not set"):
        deployed(None)
    with pytest.raises(ConfigError, match="expected 'user_id/client_id' or 'simulator'"):
        deployed("DATA1")


def test_the_deployed_context_loads_angels_published_master(deployed, s3):
    contracts = nifty_contracts()
    import json

    instruments_store.publish_master("angel", json.dumps(angel_records(contracts)), date(2026, 8, 17), BUCKET, s3)
    ctx = deployed("simulator")
    angel = ctx.symbol_masters.get("angel")
    assert angel.lookup(contracts[3]).token == f"7{contracts[3].instrument_token}"
    assert angel.index_tokens["NIFTY"] == "99926000"
    assert ctx.symbol_masters.get("zerodha") is None
    with pytest.raises(MasterUnavailable, match="instruments/finvasia/2026-08-17.csv could not be read"):
        ctx.symbol_masters.get("finvasia")


def test_every_environment_names_its_market_data():
    """Local/dev: the simulator (paper only); staging/production: a broker account."""
    for name in ("local", "dev"):
        assert load_environment(name).settings.market_data.account == "simulator"
    for name in ("staging", "production"):
        market_data = load_environment(name).settings.market_data
        assert not market_data.simulator and market_data.account.count("/") == 1


def test_the_simulator_is_refused_for_an_environment_without_paper_trading(tmp_path):
    import json

    from shared_utils.config import CONFIG_FILE

    data = json.loads(CONFIG_FILE.read_text())
    data["environments"]["production"]["market_data"]["account"] = "simulator"
    path = tmp_path / "environments.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="'simulator' is for paper-trading environments only"):
        load_environment("production", path)
