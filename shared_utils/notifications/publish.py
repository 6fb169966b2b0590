"""Enqueue notifications: the only thing a producer (kill switch route, pre-open check) does.

:func:`notify` sends each :class:`Notification` to the notifications queue
(``NOTIFICATIONS_QUEUE_URL``) as ``{"notification": {...}}`` (SQS SendMessageBatch, 10 per call)
and NEVER raises: a queue that is unreachable, throttled or not configured is logged and
ignored, so trading never waits on or fails because of a notification. The SQS client has short
timeouts (connect 1 s, read 2 s, 2 attempts: at worst ~6 s on a dead network, typically ~10 ms).

The engine's own alerts need no call: the stack's rule sends every "Order Alert" on the bus to
the same queue (:mod:`cdk_stacks.constructs.notifications`). The local platform installs a sink
(:func:`set_sink`) that plays that queue.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Callable, Iterable

from shared_utils.notifications.models import Notification

logger = logging.getLogger(__name__)

QUEUE_URL_VAR = "NOTIFICATIONS_QUEUE_URL"
_client: Any = None
_sink: Callable[[list[dict[str, Any]]], None] | None = None


def set_sink(sink: Callable[[list[dict[str, Any]]], None] | None) -> None:
    """Replace SQS by ``sink(bodies)`` (local platform, tests); None restores SQS."""
    global _sink
    _sink = sink


def _sqs() -> Any:
    global _client
    if _client is None:
        import boto3
        from botocore.config import Config

        _client = boto3.client("sqs", config=Config(connect_timeout=1, read_timeout=2,
                                                    retries={"max_attempts": 2, "mode": "standard"}))
    return _client


def reset_client() -> None:
    global _client
    _client = None


def body_of(notification: Notification) -> dict[str, Any]:
    return {"notification": notification.model_dump(mode="json")}


def notify(notifications: Notification | Iterable[Notification]) -> int:
    """Enqueue; returns how many were accepted (0 when the queue is unset or failed). Never raises."""
    items = [notifications] if isinstance(notifications, Notification) else list(notifications)
    if not items:
        return 0
    bodies = [body_of(n) for n in items]
    try:
        if _sink is not None:
            _sink(bodies)
            return len(bodies)
        url = os.environ.get(QUEUE_URL_VAR)
        if not url:
            logger.info("notifications queue not configured; %d notification(s) not queued", len(bodies))
            return 0
        sent = 0
        for start in range(0, len(bodies), 10):
            chunk = bodies[start:start + 10]
            answer = _sqs().send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "MessageBody": json.dumps(b, default=str)} for i, b in enumerate(chunk)])
            sent += len(answer.get("Successful", []))
            for failed in answer.get("Failed", []):
                logger.warning("notification not queued: %s %s", failed.get("Code"), failed.get("Message"))
        return sent
    except Exception as exc:  # noqa: BLE001 - a notification never blocks or fails trading
        logger.warning("notifications not queued (%s: %s)", type(exc).__name__, exc)
        return 0


def safely(build: Callable[[], Notification | Iterable[Notification]]) -> int:
    """``notify(build())`` where building the message may itself fail: the one-line hook the
    producers call (``safely(lambda: messages.kill_switch(...))``). Never raises."""
    try:
        return notify(build())
    except Exception as exc:  # noqa: BLE001
        logger.warning("notification not built (%s: %s)", type(exc).__name__, exc)
        return 0
