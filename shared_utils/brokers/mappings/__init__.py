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


def read_status(table: Mapping[str, Any], raw: Any, *, broker: str, order_id: Any = None,
                normalise: Any = None) -> Any:
    """An order status read from a broker row: ``table[raw]`` (after ``normalise(raw)`` when
    given), else ``OrderStatus.UNKNOWN`` with an alert naming the raw value (never raises: one
    new status string must not make the whole order book unreadable)."""
    from shared_utils.brokers.alerts import report_unmapped
    from shared_utils.models.enums import OrderStatus

    key = normalise(raw) if (normalise is not None and isinstance(raw, str)) else raw
    try:
        return table[key]
    except (KeyError, TypeError):
        report_unmapped(broker, "order status", raw, order_id)
        return OrderStatus.UNKNOWN


def read_code(table: Mapping[Any, Any], raw: Any, *, what: str, broker: str, order_id: Any = None) -> Any:
    """A code read from a broker row (exchange, product, order type, side): ``table[raw]``, else
    the RAW string itself. Rows of orders the platform never sends (equity CNC, MCX, MTF placed
    by hand in the same account) stay readable and never match a platform order (the platform
    sends only NFO/BFO NRML/MIS); no alert, they are expected."""
    try:
        return table[raw]
    except (KeyError, TypeError):
        return raw
