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
(AWS EventBridge quotas); :class:`EventBridgePublisher` batches accordingly, retries the
entries a call refused and reports (never silently drops) what could not be sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

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


@dataclass
class PublishReport:
    """What a ``publish_many`` did: ``sent`` events accepted by the bus, and ``failed``: one
    dict per event the bus refused after every retry ({detail_type, batch_id, error_code,
    error_message}), in the order given."""

    sent: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


class EventBridgePublisher:
    """Publishes to the platform's EventBridge bus (10 entries per PutEvents call).

    ``publish_many`` never drops a batch because an earlier one failed: each PutEvents answer
    is read entry by entry (``FailedEntryCount`` / per-entry ``ErrorCode``), only the refused
    entries are sent again (``attempts`` tries in all, backoff ``backoff_s`` x 2^n), a call
    that raises (throttled, network) counts as every entry of that call refused, and whatever
    is still refused at the end is returned in the report.
    """

    def __init__(self, bus_name: str, client: Any | None = None, attempts: int = 3, backoff_s: float = 0.05,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.bus_name = bus_name
        if client is None:
            import boto3

            client = boto3.client("events")
        self.client = client
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self._sleep = sleep

    def publish(self, source: str, detail_type: str, detail: dict[str, Any]) -> None:
        """Publish one event. Raises RuntimeError naming the error code when it is refused."""
        report = self.publish_many([(source, detail_type, detail)])
        if report.failed:
            first = report.failed[0]
            raise RuntimeError(f"event {detail_type} was not accepted ({first['error_code']}: {first['error_message']})")

    def _entry(self, event: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
        source, detail_type, detail = event
        return {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail, default=str),
                "EventBusName": self.bus_name}

    def publish_many(self, events: list[tuple[str, str, dict[str, Any]]]) -> PublishReport:
        """Publish ``events`` in calls of 10; retry refused entries; report the rest."""
        report = PublishReport()
        for start in range(0, len(events), 10):
            chunk = list(events[start:start + 10])
            errors: dict[int, tuple[str, str]] = {}
            pending = list(range(len(chunk)))
            for attempt in range(self.attempts):
                if attempt:
                    self._sleep(self.backoff_s * (2 ** (attempt - 1)))
                try:
                    response = self.client.put_events(Entries=[self._entry(chunk[i]) for i in pending])
                except Exception as exc:  # noqa: BLE001 - throttled or unreachable: retry the whole call
                    code = getattr(exc, "response", {}).get("Error", {}).get("Code") if hasattr(exc, "response") else None
                    for i in pending:
                        errors[i] = (code or type(exc).__name__, str(exc))
                    continue
                answers = response.get("Entries") or []
                if len(answers) != len(pending):  # no per-entry answer: trust the count
                    answers = [{} if not response.get("FailedEntryCount") else {"ErrorCode": "Unknown"}] * len(pending)
                still = []
                for position, i in enumerate(pending):
                    answer = answers[position]
                    if answer.get("ErrorCode"):
                        errors[i] = (answer["ErrorCode"], answer.get("ErrorMessage") or "")
                        still.append(i)
                    else:
                        errors.pop(i, None)
                        report.sent += 1
                pending = still
                if not pending:
                    break
            for i in pending:
                code, message = errors.get(i, ("Unknown", ""))
                report.failed.append({"detail_type": chunk[i][1], "batch_id": chunk[i][2].get("batch_id"),
                                      "error_code": code, "error_message": message})
        return report


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

    def publish_many(self, events: list[tuple[str, str, dict[str, Any]]]) -> PublishReport:
        for event in events:
            self.publish(*event)
        return PublishReport(sent=len(events))

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
