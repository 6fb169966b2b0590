"""Events on the platform's bus, and the publishers that put them there.

Event detail types (source ``ql.execution.emitter`` unless noted):

- ``Strategy Execution Due``: detail = the state machine's input: ``batch_id``,
  ``execution_type`` ENTRY/EXIT, ``trade_date`` (IST date), ``slot`` (IST HH:MM), ``execute_at``
  and ``wait_until`` (UTC ISO-8601 with milliseconds; wait_until = execute_at - 2 s), ``trigger``
  SCHEDULE/MANUAL, ``strategies``: [{user_id, strategy_id}].
- ``Check Stop Loss``, ``Check Duplicate Orders``, ``Refresh Market Data``: the seed's other
  per-minute events (detail: ``minute`` UTC ISO, ``trade_date``).
- ``Execution Completed`` (source ``ql.execution.engine``): one execution's outcome.

EventBridge PutEvents takes at most 10 entries per call and 256 KB per entry
(AWS EventBridge quotas); :class:`EventBridgePublisher` batches accordingly.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from typing import Any, Protocol

SOURCE_EMITTER = "ql.execution.emitter"
SOURCE_ENGINE = "ql.execution.engine"
EXECUTION_DUE = "Strategy Execution Due"
CHECK_STOP_LOSS = "Check Stop Loss"
CHECK_DUPLICATE_ORDERS = "Check Duplicate Orders"
REFRESH_MARKET_DATA = "Refresh Market Data"
EXECUTION_COMPLETED = "Execution Completed"
ORDER_ALERT = "Order Alert"

#: strategies per "Strategy Execution Due" event: keeps each detail far below 256 KB and each
#: state-machine run's Map payload small
BATCH_SIZE = 25


class EventPublisher(Protocol):
    def publish(self, source: str, detail_type: str, detail: dict[str, Any]) -> None: ...


class EventBridgePublisher:
    """Publishes to the platform's EventBridge bus (10 entries per PutEvents call).

    Raises:
        RuntimeError: some entries failed (names how many and the first error code).
    """

    def __init__(self, bus_name: str, client: Any | None = None) -> None:
        import boto3

        self.bus_name = bus_name
        self.client = client or boto3.client("events")

    def publish(self, source: str, detail_type: str, detail: dict[str, Any]) -> None:
        self.publish_many([(source, detail_type, detail)])

    def publish_many(self, events: list[tuple[str, str, dict[str, Any]]]) -> None:
        for start in range(0, len(events), 10):
            entries = [{"Source": s, "DetailType": t, "Detail": json.dumps(d, default=str), "EventBusName": self.bus_name}
                       for s, t, d in events[start:start + 10]]
            response = self.client.put_events(Entries=entries)
            if response.get("FailedEntryCount"):
                codes = [e.get("ErrorCode") for e in response["Entries"] if e.get("ErrorCode")]
                raise RuntimeError(f"{response['FailedEntryCount']} events were not accepted ({codes[0]})")


class InMemoryPublisher:
    """The local platform's bus: a thread-safe queue the scheduler drains."""

    def __init__(self) -> None:
        self._events: deque[tuple[str, str, dict[str, Any]]] = deque()
        self._lock = threading.Lock()
        self.published: list[tuple[str, str, dict[str, Any]]] = []

    def publish(self, source: str, detail_type: str, detail: dict[str, Any]) -> None:
        event = (source, detail_type, json.loads(json.dumps(detail, default=str)))
        with self._lock:
            self._events.append(event)
            self.published.append(event)

    def publish_many(self, events: list[tuple[str, str, dict[str, Any]]]) -> None:
        for event in events:
            self.publish(*event)

    def drain(self, detail_type: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        with self._lock:
            keep, out = deque(), []
            while self._events:
                event = self._events.popleft()
                (out if detail_type in (None, event[1]) else keep).append(event)
            self._events = keep
            return out


_default_publisher: EventPublisher | None = None


def default_publisher() -> EventPublisher:
    """The process's bus: EventBridge (``EVENT_BUS_NAME`` or the environment's bus) unless the
    local platform installed its in-memory bus."""
    global _default_publisher
    if _default_publisher is None:
        import os

        from shared_utils.config import current_environment

        _default_publisher = EventBridgePublisher(os.environ.get("EVENT_BUS_NAME") or current_environment().event_bus_name)
    return _default_publisher


def set_default_publisher(publisher: EventPublisher | None) -> None:
    global _default_publisher
    _default_publisher = publisher
