"""State machine step PreCancel (EXIT only, at ``$.cancel_at``): cancel the exit's resting
stop-loss / target orders ahead of the second so the closing orders leave on it (issue 21
item 3). The ASL: after Prepare, Choice ``$.cancel_at`` present -> Wait (TimestampPath
``$.cancel_at``) -> PreCancel -> WaitUntil (``$.wait_until``) -> Resolve."""

from aws_lambda_powertools import Logger

from lambda_functions.execution_engine.invocation import installed_context
from shared_utils.execution.exits import pre_cancel_exits
from shared_utils.execution.wiring import engine_context, metrics

logger = Logger()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    state = pre_cancel_exits(event, installed_context() or engine_context())
    logger.info("pre-cancelled", extra={"executions": state.get("precancelled", 0)})
    return state
