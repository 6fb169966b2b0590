"""Per-minute emitter (EventBridge schedule): announce the slot two minutes ahead."""

from dataclasses import asdict

from aws_lambda_powertools import Logger

from shared_utils.execution.emitter import run_emitter, tick_instant
from shared_utils.execution.wiring import engine_context, metrics

logger = Logger()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    # the slot comes from the tick's scheduled time (the event's ``time``), not the wall clock
    result = run_emitter(engine_context(), scheduled_at=tick_instant(event))
    logger.info("emitter tick", extra={"slot": result.slot, "due": result.due, "events": result.events,
                                       "skipped": len(result.skipped), "reason": result.reason,
                                       "missed_slots": result.missed_slots, "unsent": result.unsent})
    return asdict(result)
