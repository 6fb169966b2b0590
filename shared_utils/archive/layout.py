"""Object keys of the archive (no pyarrow): ``archive/entity={entity}/trade_date={date}/part-0.parquet``."""

from __future__ import annotations

import re
from datetime import date

PREFIX = "archive/"
ENTITIES = ("executions", "orders", "positions")
PART = "part-0.parquet"
CONTENT_TYPE = "application/vnd.apache.parquet"

_KEY_RE = re.compile(r"^archive/entity=(?P<entity>[a-z_]+)/trade_date=(?P<day>\d{4}-\d{2}-\d{2})/part-\d+\.parquet$")


def _check(entity: str) -> str:
    if entity not in ENTITIES:
        raise ValueError(f"entity {entity!r} is not one of {ENTITIES}")
    return entity


def entity_prefix(entity: str) -> str:
    """``archive/entity={entity}/`` (every trade date of one entity)."""
    return f"{PREFIX}entity={_check(entity)}/"


def day_key(entity: str, trade_date: date) -> str:
    """The object key of one entity's day."""
    return f"{entity_prefix(entity)}trade_date={trade_date.isoformat()}/{PART}"


def parse_key(key: str) -> tuple[str, date] | None:
    """``(entity, trade_date)`` of an archive key, or None for anything else."""
    match = _KEY_RE.match(key)
    if not match or match["entity"] not in ENTITIES:
        return None
    return match["entity"], date.fromisoformat(match["day"])
