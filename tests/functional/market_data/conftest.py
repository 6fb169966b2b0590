"""Fixtures of the market-data tests: a moto S3 bucket and the brokers' master files built from
the bundled Kite extract in each broker's own published format (Angel scrip master JSON rows,
Noren ``*_symbols.txt.zip``). Tokens are SYNTHETIC (offline there are no real Angel/Noren rows
for these contracts, see local/fake_brokers.py); formats follow services.instruments_store."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import boto3
import pytest

from shared_utils.market.instruments import angel_option_symbol, noren_symbol
from shared_utils.services.market_data import instrument_master

BUCKET = "archive"


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name="ap-south-1")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    return client


def nifty_contracts(expiry: date = date(2026, 8, 18), count: int = 40):
    master = instrument_master()
    return master.option_contracts("NIFTY", expiry)[:count]


def angel_records(contracts) -> list[dict]:
    """Angel OpenAPIScripMaster rows for ``contracts`` (+ an index row and an equity row)."""
    rows = [{"token": "99926000", "symbol": "Nifty 50", "name": "NIFTY", "expiry": "", "strike": "0.000000",
             "lotsize": "1", "instrumenttype": "AMXIDX", "exch_seg": "NSE", "tick_size": "0.000000"},
            {"token": "2885", "symbol": "RELIANCE-EQ", "name": "RELIANCE", "expiry": "", "strike": "-1.000000",
             "lotsize": "1", "instrumenttype": "", "exch_seg": "NSE", "tick_size": "5.000000"}]
    for c in contracts:
        rows.append({"token": f"7{c.instrument_token}", "symbol": angel_option_symbol(c), "name": c.underlying,
                     "expiry": c.expiry.strftime("%d%b%Y").upper(), "strike": f"{c.strike * 100:.6f}",
                     "lotsize": str(c.lot_size), "instrumenttype": "OPTIDX", "exch_seg": c.exchange.value,
                     "tick_size": f"{c.tick_size * 100:.6f}"})
    return rows


def noren_zip(contracts, exchange: str = "NFO") -> bytes:
    """A Noren ``<exchange>_symbols.txt.zip`` for ``contracts`` (the trailing comma as served)."""
    lines = ["Exchange,Token,LotSize,Symbol,TradingSymbol,Expiry,Instrument,OptionType,StrikePrice,TickSize,"]
    for c in contracts:
        if c.exchange.value != exchange:
            continue
        lines.append(f"{exchange},5{c.instrument_token},{c.lot_size},{c.underlying},{noren_symbol(c)},"
                     f"{c.expiry.strftime('%d-%b-%Y').upper()},OPTIDX,{c.option_type.value},{c.strike:.2f},{c.tick_size},")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{exchange}_symbols.txt", "\n".join(lines) + "\n")
    return buffer.getvalue()


def broker_files(contracts) -> dict[str, bytes]:
    """URL -> bytes of every public broker master file the refresher downloads."""
    import json

    from shared_utils.services import instruments_store as store

    files = {store.ANGEL_SCRIP_MASTER_URL: json.dumps(angel_records(contracts)).encode()}
    for nfo, bfo in store.NOREN_SYMBOL_FILES.values():
        files[nfo] = noren_zip(contracts, "NFO")
        files[bfo] = noren_zip(contracts, "BFO")
    return files
