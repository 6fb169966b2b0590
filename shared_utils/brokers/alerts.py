"""Alerts for broker answers the adapters could not map (a new status string, product, ...).

An adapter never lets one unknown value make a whole read fail: the order's status becomes
``OrderStatus.UNKNOWN`` (reconciliation keeps polling it; nothing is re-sent) and an alert
names the broker, the field and the RAW value, so an operator extends the mapping table.

Sinks: every alert is logged at ERROR on the ``shared_utils.brokers.alerts`` logger (CloudWatch
metric filters can match ``"UNMAPPED_BROKER_VALUE"``), published ONCE per process and raw value
to ``$ALERTS_TOPIC_ARN`` when that is set (the deployed engine and auth-broker functions have
it), and handed to each registered sink (``add_sink(fn)``). A sink or publish that fails is
ignored (an alert must never break a read).
"""

from __future__ import annotations

import json
import logging
import os
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
_PUBLISHED: set[tuple[str, str, str]] = set()


def _publish_to_topic(alert: UnmappedAlert) -> None:
    """SNS publish to ``$ALERTS_TOPIC_ARN`` (once per broker/field/raw value per process)."""
    arn = os.environ.get("ALERTS_TOPIC_ARN")
    key = (alert.broker, alert.what, alert.raw)
    if not arn:
        return
    with _LOCK:
        if key in _PUBLISHED:
            return
        _PUBLISHED.add(key)
    import boto3

    boto3.client("sns", region_name=arn.split(":")[3]).publish(
        TopicArn=arn, Subject=f"Unmapped {alert.broker} {alert.what}"[:100],
        Message=json.dumps({"type": "UNMAPPED_BROKER_VALUE", "broker": alert.broker, "field": alert.what,
                            "raw_value": alert.raw, "order_id": alert.order_id, "message": alert.message}))


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
        sinks = [_publish_to_topic, *_SINKS]
    for sink in sinks:
        try:
            sink(alert)
        except Exception:  # noqa: BLE001 - an alert never breaks a read
            logger.exception("alert sink failed")
    return alert
