"""State machine step Resolve: contracts, quantities, slices and prices per broker account."""

from aws_lambda_powertools import Logger

from shared_utils.execution.steps import resolve
from lambda_functions.execution_engine.invocation import installed_context
from shared_utils.execution.wiring import engine_context, metrics

logger = Logger()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    state = resolve(event, installed_context() or engine_context())
    logger.info("resolved", extra={"work_items": len(state["work_items"])})
    return state
