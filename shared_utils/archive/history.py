"""The executions history beyond the hot window, from the archive (no pyarrow at import).

The table keeps an execution until ``expires_at`` = IST midnight starting ``trade_date +
hot_item_ttl_days`` (:func:`shared_utils.archive.daily.expiry_epoch`), so on IST date ``T``:

* trade dates after ``T - hot_days`` are in the table (guaranteed);
* trade dates up to ``T - hot_days`` (:meth:`HistoryArchive.archive_until`) may be gone from it
  and are read from the archive.

A request whose ``from_date`` is on or before ``archive_until`` reads the archived days of
``[from_date, min(to_date, archive_until)]`` (one listing, then one GET per archived day, in
parallel) and the caller merges them with the table, the table's copy winning (it may be newer).
``pyarrow`` is imported only then (:mod:`shared_utils.archive.reader`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

from shared_utils.models.enums import ExecutionType
from shared_utils.models.execution import Execution

ENV_BUCKET = "ARCHIVE_BUCKET_NAME"


class HistoryArchive:
    """Executions of past trade dates from the Parquet archive in ``bucket``."""

    def __init__(self, bucket: str, hot_days: int, s3: Any | None = None, *, workers: int = 8) -> None:
        self.bucket = bucket
        self.hot_days = hot_days
        self._s3 = s3
        self.workers = workers

    @property
    def s3(self) -> Any:
        """The S3 client (created on first use)."""
        if self._s3 is None:
            import boto3

            self._s3 = boto3.client("s3")
        return self._s3

    def archive_until(self, today: date) -> date:
        """The newest trade date that may have left the table on IST date ``today``."""
        return today - timedelta(days=self.hot_days)

    def executions(self, user_id: str, start: date, end: date | None, today: date, *,
                   strategy_id: str | None = None, kinds: list[ExecutionType] | None = None) -> list[Execution]:
        """``user_id``'s archived executions with trade dates in ``[start, min(end, archive_until)]``."""
        last = self.archive_until(today) if end is None else min(end, self.archive_until(today))
        if start > last:
            return []
        from shared_utils.archive.reader import archived_days, read_day

        days = archived_days(self.s3, self.bucket, "executions", start, last)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            per_day = list(pool.map(lambda d: read_day(self.s3, self.bucket, "executions", d) or [], days))
        wanted = set(kinds or list(ExecutionType))
        return [e for records in per_day for e in records
                if e.user_id == user_id and e.execution_type in wanted
                and (strategy_id is None or e.strategy_id == strategy_id)]


def history_archive_from_environment() -> HistoryArchive | None:
    """The archive named by ``ARCHIVE_BUCKET_NAME`` with the environment's hot window, or None
    when the variable is unset (local platform, tests without S3)."""
    bucket = os.environ.get(ENV_BUCKET)
    if not bucket:
        return None
    from shared_utils.config import current_environment

    return HistoryArchive(bucket, current_environment().settings.execution_engine.hot_item_ttl_days)
