"""Order poller ("Poll Orders" schedule and every "Execution Completed" event): each account's
order book once, working orders updated, stops placed after entry fills, partial-fill policy.

An "Execution Completed" event limits the run to that strategy; other events poll every
watched strategy.
"""

from aws_lambda_powertools import Logger

from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.wiring import engine_context, metrics

logger = Logger()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    detail = (event or {}).get("detail") or {}
    scope = None
    if detail.get("user_id") and detail.get("strategy_id"):
        scope = [{"user_id": detail["user_id"], "strategy_id": detail["strategy_id"]}]
    result = run_order_poller(engine_context(), scope=scope)
    logger.info("polled", extra={"strategies": len(result["strategies"]), "book_errors": result["book_errors"]})
    return result
