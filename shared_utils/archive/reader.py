"""Read archived days back from S3 (boto3 GETs + pyarrow, so moto and IAM see plain S3 calls)."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

import pyarrow.parquet as pq

from shared_utils.archive import layout
from shared_utils.archive.schemas import from_table


def archived_days(s3: Any, bucket: str, entity: str, start: date, end: date) -> list[date]:
    """Trade dates in ``[start, end]`` with an archived ``entity`` object (one listing, from
    ``start`` on, in key order)."""
    prefix = layout.entity_prefix(entity)
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix,
                              "StartAfter": f"{prefix}trade_date={(start - timedelta(days=1)).isoformat()}~"}
    days: list[date] = []
    while True:
        response = s3.list_objects_v2(**kwargs)
        for obj in response.get("Contents", []):
            parsed = layout.parse_key(obj["Key"])
            if parsed is None:
                continue
            day = parsed[1]
            if day > end:
                return days
            if day >= start and day not in days:
                days.append(day)
        if not response.get("IsTruncated"):
            return days
        kwargs["ContinuationToken"] = response["NextContinuationToken"]


def read_day(s3: Any, bucket: str, entity: str, day: date) -> list[Any] | None:
    """The records of one entity and day, or None when that day is not archived."""
    try:
        body = s3.get_object(Bucket=bucket, Key=layout.day_key(entity, day))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return from_table(entity, pq.read_table(io.BytesIO(body)), day)
