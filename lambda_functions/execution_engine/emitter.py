"""Per-minute emitter (EventBridge schedule): announce the slot two minutes ahead."""

from dataclasses import asdict

from aws_lambda_powertools import Logger

from shared_utils.execution.emitter import run_emitter
from shared_utils.execution.wiring import engine_context, metrics

logger = Logger()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    result = run_emitter(engine_context())
    logger.info("emitter tick", extra={"slot": result.slot, "due": result.due, "events": result.events,
                                       "skipped": len(result.skipped), "reason": result.reason})
    return asdict(result)
