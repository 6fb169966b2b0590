"""The day's instrument masters in S3, one object per broker and trading day: written by the
market-data refresher before the open, read by the engine functions.

Layout in the execution-engine stack's bucket (``ARCHIVE_BUCKET_NAME``), ``<date>`` the IST
trading day (YYYY-MM-DD):

- ``instruments/kite/<date>.csv``: Kite's ``/instruments`` dump for NFO + BFO in Kite's CSV
  format (``InstrumentMaster.from_kite_csv``). The platform's CANONICAL master: contracts, lot
  and tick sizes, expiries. Fetched through the environment's market-data account (Zerodha).
- ``instruments/angel/<date>.json``: Angel One's ``OpenAPIScripMaster.json`` reduced to its NFO/
  BFO derivative rows and its index rows (``load_angel_scrip_master``); gives each contract's
  ``symboltoken``, without which Angel refuses an order.
- ``instruments/finvasia/<date>.csv`` and ``instruments/zebu/<date>.csv``: the Noren symbol
  files (``NFO_symbols.txt`` + ``BFO_symbols.txt`` from the broker's ``*_symbols.txt.zip``), one
  header (``load_noren_symbols``).

Sources (public, no login; each regenerated daily):
Kite Connect docs "Instruments" (the dump is regenerated daily, fetch it once a day);
Angel ``https://margincalculator.angelbroking.com/OpenAPI_File/files/OpenAPIScripMaster.json``;
Shoonya ``https://api.shoonya.com/{NFO,BFO}_symbols.txt.zip``; Zebu
``https://go.mynt.in/{NFO,BFO}_symbols.txt.zip`` (Noren columns Exchange, Token, LotSize, Symbol,
TradingSymbol, Expiry ``DD-MMM-YYYY``, Instrument, OptionType ``CE``/``PE``/``XX`` for futures,
StrikePrice, TickSize), as used by public clients (e.g. openalgo's master-contract modules).

Reading is strict: a missing or unreadable object raises :class:`MasterUnavailable` naming the
bucket, key and AWS error; nothing falls back to an older day or to the bundled extract here.
"""

from __future__ import annotations

import csv
import io
import json
import os
import zipfile
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable

import boto3

from shared_utils.market.errors import MarketError

KITE_COLUMNS = ("instrument_token", "exchange_token", "tradingsymbol", "name", "last_price", "expiry", "strike",
                "tick_size", "lot_size", "instrument_type", "segment", "exchange")
PREFIX = "instruments/kite"
#: broker master -> (file extension, content type)
MASTERS: dict[str, tuple[str, str]] = {
    "kite": ("csv", "text/csv"),
    "angel": ("json", "application/json"),
    "finvasia": ("csv", "text/csv"),
    "zebu": ("csv", "text/csv"),
}
ANGEL_SCRIP_MASTER_URL = "https://margincalculator.angelbroking.com/OpenAPI_File/files/OpenAPIScripMaster.json"
NOREN_SYMBOL_FILES = {
    "finvasia": ("https://api.shoonya.com/NFO_symbols.txt.zip", "https://api.shoonya.com/BFO_symbols.txt.zip"),
    "zebu": ("https://go.mynt.in/NFO_symbols.txt.zip", "https://go.mynt.in/BFO_symbols.txt.zip"),
}
NOREN_COLUMNS = ("Exchange", "Token", "LotSize", "Symbol", "TradingSymbol", "Expiry", "Instrument", "OptionType",
                 "StrikePrice", "TickSize")


class MasterUnavailable(MarketError):
    """The day's master of a broker could not be read (the message names bucket, key and cause)."""


def key_for(broker: str, trade_date: date) -> str:
    """``instruments/<broker>/<YYYY-MM-DD>.<ext>``. Raises KeyError for an unknown broker master."""
    extension, _ = MASTERS[broker]
    return f"instruments/{broker}/{trade_date.isoformat()}.{extension}"


def rows_to_kite_csv(rows: Iterable[dict[str, Any]]) -> str:
    """Kite SDK instrument dicts (expiry as date or '') -> Kite's CSV text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(KITE_COLUMNS)
    for row in rows:
        values = []
        for column in KITE_COLUMNS:
            value = row.get(column, "")
            if isinstance(value, date):
                value = value.isoformat()
            values.append("" if value is None else value)
        writer.writerow(values)
    return out.getvalue()


def _bucket(bucket: str | None) -> str:
    name = bucket or os.environ.get("ARCHIVE_BUCKET_NAME")
    if not name:
        raise MasterUnavailable("ARCHIVE_BUCKET_NAME is not set: the engine cannot locate the day's instrument masters")
    return name


def publish_master(broker: str, body: str | bytes, trade_date: date, bucket: str | None = None,
                   client: Any | None = None) -> str:
    """Write ``broker``'s master of ``trade_date``; returns its key."""
    bucket = _bucket(bucket)
    s3 = client or boto3.client("s3")
    key = key_for(broker, trade_date)
    data = body.encode() if isinstance(body, str) else body
    s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=MASTERS[broker][1],
                  Metadata={"trade-date": trade_date.isoformat()})
    return key


def publish(csv_text: str, trade_date: date, bucket: str | None = None, client: Any | None = None) -> str:
    """Write the day's Kite dump (the canonical master); returns its key."""
    return publish_master("kite", csv_text, trade_date, bucket, client)


def exists(trade_date: date, bucket: str | None = None, client: Any | None = None, broker: str = "kite") -> bool:
    """Whether ``broker``'s master of ``trade_date`` is published."""
    from botocore.exceptions import ClientError

    bucket = _bucket(bucket)
    s3 = client or boto3.client("s3")
    try:
        s3.head_object(Bucket=bucket, Key=key_for(broker, trade_date))
        return True
    except ClientError:
        return False


def read_master(broker: str, trade_date: date, bucket: str | None = None, client: Any | None = None) -> bytes:
    """The bytes of ``broker``'s master of ``trade_date``.

    Raises:
        MasterUnavailable: not published, access denied, or any other read failure; the message
            names the bucket, key and the AWS error code.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = _bucket(bucket)
    key = key_for(broker, trade_date)
    try:
        s3 = client or boto3.client("s3")
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        hint = (" (not published: the market-data refresher publishes each day's masters from 08:00 IST)"
                if code in ("NoSuchKey", "404") else "")
        raise MasterUnavailable(f"{broker} instrument master of {trade_date.isoformat()}: s3://{bucket}/{key} "
                                f"could not be read: {code}{hint}") from exc
    except BotoCoreError as exc:
        raise MasterUnavailable(f"{broker} instrument master of {trade_date.isoformat()}: s3://{bucket}/{key} "
                                f"could not be read: {type(exc).__name__}: {exc}") from exc


def download(broker: str, trade_date: date, target_dir: str = "/tmp", bucket: str | None = None,
             client: Any | None = None) -> Path:
    """Fetch ``broker``'s master of ``trade_date`` to ``target_dir``; returns its path.
    Raises MasterUnavailable."""
    path = Path(target_dir) / f"{broker}_{Path(key_for(broker, trade_date)).name}"
    path.write_bytes(read_master(broker, trade_date, bucket, client))
    return path


# ---------------------------------------------------------------- broker files -> published form

def angel_derivative_records(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Angel's scrip master reduced to what the engine maps: NFO/BFO option and future rows and
    index (AMXIDX) rows. Angel's full file holds every segment (tens of MB)."""
    kept = []
    for rec in records:
        itype = str(rec.get("instrumenttype", ""))
        if itype == "AMXIDX" or (str(rec.get("exch_seg", "")) in ("NFO", "BFO") and itype.startswith(("OPT", "FUT"))):
            kept.append(rec)
    return kept


def noren_symbol_rows(zip_bytes: bytes) -> tuple[list[str], list[list[str]]]:
    """A Noren ``*_symbols.txt.zip`` -> (header, rows). Raises MarketError when the archive holds
    no text file or its header lacks Noren's columns."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
        names = [n for n in archive.namelist() if n.endswith(".txt")]
        if not names:
            raise MarketError(f"Noren symbol archive holds no .txt file ({archive.namelist()})")
        text = archive.read(names[0]).decode("utf-8-sig")
    except zipfile.BadZipFile as exc:
        raise MarketError(f"Noren symbol archive is not a zip: {exc}") from exc
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in NOREN_COLUMNS if c not in header]
    if missing:
        raise MarketError(f"Noren symbol file {names[0]}: columns {missing} missing (header {header})")
    return header, [row for row in reader if row]


def noren_csv(files: Iterable[bytes]) -> str:
    """Noren symbol archives (NFO, BFO) -> one CSV with Noren's columns (the published form)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(NOREN_COLUMNS)
    for zip_bytes in files:
        header, rows = noren_symbol_rows(zip_bytes)
        index = [header.index(c) for c in NOREN_COLUMNS]
        for row in rows:
            writer.writerow([row[i].strip() if i < len(row) else "" for i in index])
    return out.getvalue()


def load_noren_symbols(text: str, broker: str):
    """The published Noren CSV -> :class:`~shared_utils.market.instruments.BrokerSymbolMaster` of
    ``broker`` (finvasia or zebu): NFO/BFO options and futures keyed like the canonical master
    (underlying = Noren ``Symbol``, expiry, strike, CE/PE or None).

    Raises MarketError on a malformed derivative row (the message names the line).
    """
    from shared_utils.market.instruments import BrokerSymbolMaster
    from shared_utils.models.enums import BrokerName

    entries = []
    reader = csv.DictReader(io.StringIO(text))
    for line_no, row in enumerate(reader, start=2):
        if row.get("Exchange") not in ("NFO", "BFO"):
            continue
        instrument = (row.get("Instrument") or "").upper()
        if not instrument.startswith(("OPT", "FUT")):
            continue
        try:
            expiry = datetime.strptime(row["Expiry"].strip().upper(), "%d-%b-%Y").date()
            option = (row.get("OptionType") or "").upper()
            option_type = option if option in ("CE", "PE") else None
            strike = Decimal(row["StrikePrice"]) if option_type else Decimal(0)
        except (KeyError, ValueError, InvalidOperation) as exc:
            raise MarketError(f"{broker} symbol file line {line_no}: malformed row {row!r} ({exc})") from exc
        entries.append({"exchange": row["Exchange"], "underlying": row["Symbol"], "expiry": expiry, "strike": strike,
                        "option_type": option_type, "symbol": row["TradingSymbol"], "token": row["Token"]})
    return BrokerSymbolMaster.from_entries(BrokerName(broker), entries)


def load_angel_master(body: bytes):
    """The published Angel JSON -> BrokerSymbolMaster (Angel). Raises MarketError."""
    from shared_utils.market.instruments import load_angel_scrip_master

    try:
        records = json.loads(body)
    except (ValueError, TypeError) as exc:
        raise MarketError(f"Angel scrip master is not JSON: {exc}") from exc
    return load_angel_scrip_master(records)
