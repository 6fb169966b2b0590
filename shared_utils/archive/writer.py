"""Write one trade date's records as Parquet to S3 and then expire the hot items."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow.parquet as pq

from shared_utils.archive import layout
from shared_utils.archive.daily import DayItems, collect_day, expire_archived, expiry_epoch
from shared_utils.archive.schemas import SCHEMA_VERSION, SCHEMAS, to_table
from shared_utils.persistence.table import DynamoTable


def parquet_bytes(entity: str, records: list[Any]) -> bytes:
    """The records as a Parquet file (explicit schema, zstd, dictionaries, statistics)."""
    table = to_table(entity, records)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", use_dictionary=True, write_statistics=True)
    return buffer.getvalue()


def write_day(s3: Any, bucket: str, items: DayItems) -> dict[str, dict[str, Any]]:
    """Put the three objects of ``items.trade_date`` (empty entities too). Returns
    entity -> {key, rows, bytes}."""
    written: dict[str, dict[str, Any]] = {}
    for entity in SCHEMAS:
        records = items.records(entity)
        body = parquet_bytes(entity, records)
        key = layout.day_key(entity, items.trade_date)
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=layout.CONTENT_TYPE,
                      Metadata={"rows": str(len(records)), "schema-version": SCHEMA_VERSION})
        written[entity] = {"key": key, "rows": len(records), "bytes": len(body)}
    return written


@dataclass
class ArchiveResult:
    """What one archiver run did."""

    trade_date: date
    written: dict[str, dict[str, Any]]
    expired_items: int
    expires_at: int
    scanned_items: int
    scan_requests: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the handler's return value and log line)."""
        return {"trade_date": self.trade_date.isoformat(), "written": self.written,
                "expired_items": self.expired_items, "expires_at": self.expires_at,
                "scanned_items": self.scanned_items, "scan_requests": self.scan_requests}


def archive_day(table: DynamoTable, s3: Any, bucket: str, day: date, hot_days: int) -> ArchiveResult:
    """Collect ``day``'s items, write them to ``bucket``, THEN set their TTL (a failed write
    leaves the hot items untouched, so a re-run loses nothing). Idempotent: a re-run rewrites
    the same day and sets the same ``expires_at``."""
    items = collect_day(table, day)
    written = write_day(s3, bucket, items)
    expired = expire_archived(table, items, hot_days)
    return ArchiveResult(trade_date=day, written=written, expired_items=expired, expires_at=expiry_epoch(day, hot_days),
                         scanned_items=items.scanned_count, scan_requests=items.scan_requests)
