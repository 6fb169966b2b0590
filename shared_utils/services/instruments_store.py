"""The day's instrument master in S3: written by the market-data refresher before the open,
read by the Lambdas that resolve legs.

Layout in the execution-engine stack's bucket (``ARCHIVE_BUCKET_NAME``):
``instruments/kite/{YYYY-MM-DD}.csv`` (the day's Kite ``/instruments`` dump for NFO + BFO, in
Kite's CSV format, the format ``InstrumentMaster.from_kite_csv`` reads) and
``instruments/kite/latest.csv`` (a copy of the newest day). A Lambda downloads
``latest.csv`` to ``/tmp`` once per container per IST day.

Kite's dump changes once a day (contracts listed/expired, lot revisions take effect on listed
series): Kite Connect docs, "Instruments" (the dump is regenerated daily, fetch it once a day).
"""

from __future__ import annotations

import csv
import io
import os
from datetime import date
from pathlib import Path
from typing import Any, Iterable

import boto3

KITE_COLUMNS = ("instrument_token", "exchange_token", "tradingsymbol", "name", "last_price", "expiry", "strike",
                "tick_size", "lot_size", "instrument_type", "segment", "exchange")
PREFIX = "instruments/kite"


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


def publish(csv_text: str, trade_date: date, bucket: str | None = None, client: Any | None = None) -> str:
    """Write the day's dump and ``latest.csv``; returns the day's key."""
    bucket = bucket or os.environ["ARCHIVE_BUCKET_NAME"]
    s3 = client or boto3.client("s3")
    key = f"{PREFIX}/{trade_date.isoformat()}.csv"
    s3.put_object(Bucket=bucket, Key=key, Body=csv_text.encode(), ContentType="text/csv")
    s3.put_object(Bucket=bucket, Key=f"{PREFIX}/latest.csv", Body=csv_text.encode(), ContentType="text/csv")
    return key


def exists(trade_date: date, bucket: str | None = None, client: Any | None = None) -> bool:
    bucket = bucket or os.environ["ARCHIVE_BUCKET_NAME"]
    s3 = client or boto3.client("s3")
    try:
        s3.head_object(Bucket=bucket, Key=f"{PREFIX}/{trade_date.isoformat()}.csv")
        return True
    except s3.exceptions.ClientError:
        return False


def download_latest(target_dir: str = "/tmp", bucket: str | None = None, client: Any | None = None) -> Path:
    """Fetch ``latest.csv`` to ``target_dir``; returns its path."""
    bucket = bucket or os.environ["ARCHIVE_BUCKET_NAME"]
    s3 = client or boto3.client("s3")
    path = Path(target_dir) / "kite_instruments_latest.csv"
    s3.download_file(bucket, f"{PREFIX}/latest.csv", str(path))
    return path
