"""Daily archiver (EventBridge schedule at 16:30 IST, after the close).

Writes the trade date's executions, orders (with fills) and positions as Parquet to the archive
bucket (``ARCHIVE_BUCKET_NAME``), then sets ``expires_at`` on the archived hot items
(``execution_engine.hot_item_ttl_days``); see :mod:`shared_utils.archive`.

The trade date is the IST date of the scheduled event's ``time``; an event carrying
``{"trade_date": "YYYY-MM-DD"}`` (a manual invoke) archives that date instead (backfill or a
re-run: the day is rewritten whole and the same ``expires_at`` set). Every day is archived,
trading or not: an empty day costs one Scan and three small files, and a calendar mistake can
then never leave executions un-archived.

This is the only engine Lambda that imports pyarrow (the ``archive`` layer).
"""

from __future__ import annotations

import os
from datetime import date, datetime

import boto3
from aws_lambda_powertools import Logger

from shared_utils.archive.writer import archive_day
from shared_utils.clock import default_clock, to_ist
from shared_utils.config import current_environment
from shared_utils.persistence.table import DynamoTable

logger = Logger()


def trade_date_of(event: dict, now: datetime) -> date:
    """The trade date to archive: ``event["trade_date"]``, else the IST date of the event's
    ``time`` (EventBridge), else of ``now``."""
    if event.get("trade_date"):
        return date.fromisoformat(str(event["trade_date"]))
    if event.get("time"):
        return to_ist(datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))).date()
    return to_ist(now).date()


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    env = current_environment()
    day = trade_date_of(event or {}, default_clock().now())
    result = archive_day(
        DynamoTable(env.table_name),
        boto3.client("s3"),
        os.environ["ARCHIVE_BUCKET_NAME"],
        day,
        env.settings.execution_engine.hot_item_ttl_days,
    )
    logger.info("archived", extra=result.as_dict())
    return result.as_dict()
