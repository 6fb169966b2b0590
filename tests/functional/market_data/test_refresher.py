"""The refresher publishes each morning, once, the day's masters of every broker to
``instruments/<broker>/<date>``: Kite's dump (through the real kiteconnect SDK against the fake,
with the environment's market-data account), Angel's scrip master, the Noren symbol files; the
engine then loads exactly those contracts and tokens. No test reaches the internet: the public
broker files are served by ``fetch``."""

from datetime import date, datetime

import pytest

from local.fakes.kite import FakeKiteServer
from shared_utils.brokers import BrokerCredentials, BrokerSession, create_broker_client
from shared_utils.clock import IST, FixedClock
from shared_utils.market.instruments import InstrumentMaster, broker_symbol
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.services import instruments_store
from shared_utils.services.market_data import DailySymbolMasters
from tests.functional.market_data.conftest import BUCKET, broker_files, nifty_contracts

MORNING = datetime(2026, 8, 17, 8, 0, tzinfo=IST)


class _Provider:
    def __init__(self, client):
        self.client = client

    def client_for(self, account):
        return self.client


@pytest.fixture
def kite(repos):
    contracts = nifty_contracts()
    rows = [("NFO", c.tradingsymbol, str(c.instrument_token), c.lot_size, str(c.tick_size), c.underlying,
             c.expiry.isoformat(), str(c.strike), c.option_type.value) for c in contracts]
    repos.accounts.create(BrokerAccount(user_id="ops", client_id="DATA1", broker="zerodha", trading_mode="LIVE"))
    with FakeKiteServer(rows, api_key="k", api_secret="s") as fake:
        client = create_broker_client("zerodha", BrokerCredentials(api_key="k", api_secret="s"),
                                      BrokerSession(access_token=fake.access_token), root=fake.url)
        yield _Provider(client), contracts


def test_refresher_publishes_every_brokers_master_once(repos, s3, kite, monkeypatch):
    from lambda_functions.execution_engine.market_data_refresher import refresh

    provider, contracts = kite
    files = broker_files(contracts)
    fetched = []
    fetch = lambda url: fetched.append(url) or files[url]  # noqa: E731
    monkeypatch.setenv("QL_MARKET_DATA_ACCOUNT", "ops/DATA1")
    first = refresh(FixedClock(MORNING), provider, repos, bucket=BUCKET, s3=s3, fetch=fetch)
    assert first["published"] == {"kite": "instruments/kite/2026-08-17.csv", "angel": "instruments/angel/2026-08-17.json",
                                  "finvasia": "instruments/finvasia/2026-08-17.csv", "zebu": "instruments/zebu/2026-08-17.csv"}
    assert first["rows"] == 40 and not first["failed"]
    calls = len(fetched)
    again = refresh(FixedClock(MORNING), provider, repos, bucket=BUCKET, s3=s3, fetch=fetch)
    assert again["published"] == {} and sorted(again["present"]) == ["angel", "finvasia", "kite", "zebu"]
    assert len(fetched) == calls, "a published master is not downloaded again"

    # the engine loads exactly those contracts, with each broker's own symbol and token
    loaded = InstrumentMaster.from_kite_csv(instruments_store.download("kite", date(2026, 8, 17), "/tmp", BUCKET, s3))
    assert {c.tradingsymbol for c in loaded.option_contracts("NIFTY", contracts[0].expiry)} == {c.tradingsymbol for c in contracts}
    masters = DailySymbolMasters(FixedClock(MORNING), BUCKET, s3)
    angel = broker_symbol(contracts[0], "angel", masters.get("angel"))
    assert angel.token == f"7{contracts[0].instrument_token}" and angel.symbol.startswith("NIFTY18AUG26")
    shoonya = broker_symbol(contracts[0], "finvasia", masters.get("finvasia"))
    assert shoonya.token == f"5{contracts[0].instrument_token}" and shoonya.symbol.startswith("NIFTY18AUG26")
    assert masters.get("zerodha") is None, "Kite's symbols need no broker master"

    saturday = refresh(FixedClock(datetime(2026, 8, 22, 8, 0, tzinfo=IST)), provider, repos, BUCKET, s3, fetch=fetch)
    assert saturday["action"] == "not a trading day"


def test_a_failed_download_is_reported_and_fails_the_invocation(repos, s3, kite, monkeypatch):
    from lambda_functions.execution_engine.market_data_refresher import RefreshFailed, refresh

    provider, contracts = kite
    files = broker_files(contracts)

    def fetch(url):
        if url == instruments_store.ANGEL_SCRIP_MASTER_URL:
            raise ConnectionError("margincalculator.angelbroking.com unreachable")
        return files[url]

    monkeypatch.setenv("QL_MARKET_DATA_ACCOUNT", "ops/DATA1")
    with pytest.raises(RefreshFailed, match="angel FAILED: ConnectionError: margincalculator.angelbroking.com unreachable"):
        refresh(FixedClock(MORNING), provider, repos, bucket=BUCKET, s3=s3, fetch=fetch, raise_on_failure=True)
    # the others were published all the same; the next run fetches only Angel's
    assert instruments_store.exists(date(2026, 8, 17), BUCKET, s3, broker="kite")
    assert not instruments_store.exists(date(2026, 8, 17), BUCKET, s3, broker="angel")
    retry = refresh(FixedClock(MORNING), provider, repos, bucket=BUCKET, s3=s3, fetch=lambda url: files[url])
    assert retry["published"] == {"angel": "instruments/angel/2026-08-17.json"}


def test_a_paper_only_environment_publishes_no_kite_dump(repos, s3, monkeypatch):
    from lambda_functions.execution_engine.market_data_refresher import refresh

    files = broker_files(nifty_contracts())
    monkeypatch.setenv("QL_MARKET_DATA_ACCOUNT", "simulator")
    result = refresh(FixedClock(MORNING), None, repos, bucket=BUCKET, s3=s3, fetch=lambda url: files[url])
    assert "kite" not in result["published"] and "paper-only" in result["skipped"]["kite"]
    assert set(result["published"]) == {"angel", "finvasia", "zebu"}


def test_the_market_data_account_must_be_a_zerodha_account(repos, s3, monkeypatch):
    from lambda_functions.execution_engine.market_data_refresher import refresh

    repos.accounts.create(BrokerAccount(user_id="ops", client_id="ANG1", broker="angel", trading_mode="LIVE"))
    monkeypatch.setenv("QL_MARKET_DATA_ACCOUNT", "ops/ANG1")
    result = refresh(FixedClock(MORNING), _Provider(None), repos, bucket=BUCKET, s3=s3, brokers=("kite",))
    assert "belongs to broker angel" in result["failed"]["kite"] and "Zerodha" in result["failed"]["kite"]
