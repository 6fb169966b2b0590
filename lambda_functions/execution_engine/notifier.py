"""Notifier: delivers the notifications queue (SQS event source, batches of up to 10).

Each message is ``{"notification": {...}}`` (kill switch route, pre-open session check) or an
EventBridge "Order Alert" event (the bus rule). Each becomes the trader's notifications
(:func:`shared_utils.notifications.service.notifications_of`), delivered on the channels the
trader chose. Partial batch responses (Powertools ``BatchProcessor``): a message whose delivery
failed transiently is reported in ``batchItemFailures`` and comes back after the visibility
timeout (at most ``maxReceiveCount`` times, then the DLQ); the others are deleted. Nothing here
is on the trading path.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared_utils.notifications.service import NotificationService, notifications_of

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)
_service: NotificationService | None = None


def service() -> NotificationService:
    global _service
    if _service is None:
        _service = NotificationService()
    return _service


def set_service(value: NotificationService | None) -> None:
    """Tests and the local platform install their own (clock, clients)."""
    global _service
    _service = value


def record_handler(record: SQSRecord) -> list[dict[str, str]]:
    outcomes = []
    for note in notifications_of(record.body, service().strategy_name):
        outcome = service().deliver(note)
        logger.info("notification", extra={"notification_id": note.notification_id, "user_id": note.user_id,
                                           "notification_event": note.event.value, "outcome": outcome})
        outcomes.append(outcome)
    return outcomes


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
