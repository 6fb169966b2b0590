"""Per-minute "Check Duplicate Orders": today's intents vs each broker's order book by tag
(UNRECORDED / MISSING_AT_BROKER / DUPLICATE_TAG flagged and alerted, UNKNOWN records updated),
then the order poller over the watched strategies."""

from aws_lambda_powertools import Logger

from shared_utils.execution.duplicate_checker import run_duplicate_checker
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.wiring import engine_context, metrics

logger = Logger()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    ctx = engine_context()
    result = run_duplicate_checker(ctx)
    polled = run_order_poller(ctx)
    logger.info("reconciled", extra={"accounts": result["accounts"], "book_errors": polled["book_errors"]})
    return {"reconciliation": result, "poll": polled}
