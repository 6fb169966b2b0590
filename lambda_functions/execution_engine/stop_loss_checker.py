"""Per-minute "Check Stop Loss": LTP/MTM refresh of open positions, per-leg targets, strategy
MTM stop/target exits, retries of unfinished exits (shared_utils.execution.risk_monitor)."""

from aws_lambda_powertools import Logger

from shared_utils.execution.risk_monitor import run_stop_loss_checker
from shared_utils.execution.wiring import engine_context, metrics

logger = Logger()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    result = run_stop_loss_checker(engine_context())
    logger.info("stop-loss check", extra={"strategies": result["strategies"]})
    return result
