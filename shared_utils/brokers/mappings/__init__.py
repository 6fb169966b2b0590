"""One mapping table per broker: platform enums <-> broker codes. Unknown values raise."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from shared_utils.brokers.errors import UnmappedValue

K = TypeVar("K")
V = TypeVar("V")


def lookup(table: Mapping[K, V], value: K, *, what: str, broker: str) -> V:
    """Return ``table[value]``; raise :class:`UnmappedValue` naming ``what`` if absent."""
    try:
        return table[value]
    except (KeyError, TypeError):
        raise UnmappedValue(
            f"{broker}: unmapped {what} {value!r} (known: {sorted(map(str, table))})",
            broker=broker,
            code="UNMAPPED",
        ) from None


def invert(table: Mapping[Any, Any]) -> dict[Any, Any]:
    """Inverse of a one-to-one table; raises ValueError if two keys share a value."""
    out: dict[Any, Any] = {}
    for key, val in table.items():
        if val in out:
            raise ValueError(f"mapping is not one-to-one at {val!r}")
        out[val] = key
    return out
