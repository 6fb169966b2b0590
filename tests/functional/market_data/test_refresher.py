"""The refresher publishes the day's Kite dump (through the real kiteconnect SDK against the
fake) to S3 in Kite's CSV format, once; the Lambdas then load exactly those contracts."""

from datetime import datetime

import boto3

from local.fakes.kite import FakeKiteServer
from shared_utils.brokers import BrokerCredentials, BrokerSession, create_broker_client
from shared_utils.clock import IST, FixedClock
from shared_utils.market.instruments import InstrumentMaster
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.services import instruments_store
from shared_utils.services.market_data import instrument_master


class _Provider:
    def __init__(self, client):
        self.client = client

    def client_for(self, account):
        return self.client


def test_refresher_publishes_todays_master_once(repos, monkeypatch):
    from lambda_functions.execution_engine.market_data_refresher import refresh

    s3 = boto3.client("s3", region_name="ap-south-1")
    s3.create_bucket(Bucket="archive", CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    master = instrument_master()
    contracts = master.option_contracts("NIFTY", master.expiries("NIFTY")[0])[:40]
    rows = [("NFO", c.tradingsymbol, str(c.instrument_token), c.lot_size, str(c.tick_size), c.underlying,
             c.expiry.isoformat(), str(c.strike), c.option_type.value) for c in contracts]
    repos.accounts.create(BrokerAccount(user_id="ops", client_id="DATA1", broker="zerodha", trading_mode="LIVE"))
    monkeypatch.setenv("QL_MARKET_DATA_ACCOUNT", "ops/DATA1")
    clock = FixedClock(datetime(2026, 8, 17, 8, 0, tzinfo=IST))
    with FakeKiteServer(rows, api_key="k", api_secret="s") as fake:
        client = create_broker_client("zerodha", BrokerCredentials(api_key="k", api_secret="s"),
                                      BrokerSession(access_token=fake.access_token), root=fake.url)
        first = refresh(clock, _Provider(client), repos, bucket="archive", s3=s3)
        again = refresh(clock, _Provider(client), repos, bucket="archive", s3=s3)
    assert first["action"] == "published instruments/kite/2026-08-17.csv" and first["rows"] == 40
    assert again["action"] == "already published"
    path = instruments_store.download_latest("/tmp", bucket="archive", client=s3)
    loaded = InstrumentMaster.from_kite_csv(path)
    assert {c.tradingsymbol for c in loaded.option_contracts("NIFTY", contracts[0].expiry)} == {c.tradingsymbol for c in contracts}
    saturday = refresh(FixedClock(datetime(2026, 8, 22, 8, 0, tzinfo=IST)), _Provider(client), repos, "archive", s3)
    assert saturday["action"] == "not a trading day"
