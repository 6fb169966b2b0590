"""Alerts for broker answers the adapters could not map (a new status string, product, ...).

An adapter never lets one unknown value make a whole read fail: the order's status becomes
``OrderStatus.UNKNOWN`` (reconciliation keeps polling it; nothing is re-sent) and an alert
names the broker, the field and the RAW value, so an operator extends the mapping table.

Sinks: every alert is logged at ERROR on the ``shared_utils.brokers.alerts`` logger (CloudWatch
metric filters match ``"UNMAPPED_BROKER_VALUE"``) and handed to each registered sink
(``add_sink(fn)``; the engine registers one that publishes to its alerts topic). A sink that
raises is ignored (an alert must never break a read).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger("shared_utils.brokers.alerts")


@dataclass(frozen=True)
class UnmappedAlert:
    """``broker`` name, ``what`` (e.g. ``"order status"``), ``raw`` (the broker's value, verbatim),
    ``order_id`` (the order whose row carried it, when known)."""

    broker: str
    what: str
    raw: str
    order_id: str | None = None

    @property
    def message(self) -> str:
        where = f" on order {self.order_id}" if self.order_id else ""
        return (f"UNMAPPED_BROKER_VALUE: {self.broker} sent {self.what} {self.raw!r}{where}; "
                f"read as UNKNOWN until the mapping table learns it")


_SINKS: list[Callable[[UnmappedAlert], None]] = []
_LOCK = threading.Lock()


def add_sink(sink: Callable[[UnmappedAlert], None]) -> Callable[[], None]:
    """Register ``sink``; returns a function that removes it again."""
    with _LOCK:
        _SINKS.append(sink)

    def remove() -> None:
        with _LOCK:
            if sink in _SINKS:
                _SINKS.remove(sink)

    return remove


def report_unmapped(broker: str, what: str, raw: object, order_id: str | None = None) -> UnmappedAlert:
    """Log and dispatch one alert; returns it."""
    alert = UnmappedAlert(str(broker), what, str(raw), None if order_id is None else str(order_id))
    logger.error(alert.message, extra={"broker": alert.broker, "unmapped_field": what, "raw_value": alert.raw,
                                       "order_id": alert.order_id})
    with _LOCK:
        sinks = list(_SINKS)
    for sink in sinks:
        try:
            sink(alert)
        except Exception:  # noqa: BLE001 - an alert never breaks a read
            logger.exception("alert sink failed")
    return alert
