"""State machine step Finalize: COMPLETED / PARTIAL / FAILED with the broker's reasons."""

from aws_lambda_powertools import Logger

from shared_utils.execution.steps import finalize
from lambda_functions.execution_engine.invocation import installed_context
from shared_utils.execution.wiring import engine_context, metrics

logger = Logger()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    result = finalize(event, installed_context() or engine_context())
    logger.info("finalized", extra={"results": [(r["execution_id"], r["status"]) for r in result["results"]]})
    return result
