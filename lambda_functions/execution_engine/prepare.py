"""State machine step Prepare: load, guard and CLAIM each execution of the batch.

The state machine passes its execution id as ``run_id`` (``$$.Execution.Id``) so a retry of
this Lambda inside the same run recognises its own claim.
"""

from aws_lambda_powertools import Logger

from shared_utils.execution.steps import prepare
from lambda_functions.execution_engine.invocation import installed_context
from shared_utils.execution.wiring import engine_context, metrics

logger = Logger()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    state = prepare(event, installed_context() or engine_context(), event.get("run_id"))
    logger.info("prepared", extra={"batch_id": state.get("batch_id"), "claimed": state["claimed_count"],
                                   "skipped": len(state["skipped"])})
    return state
