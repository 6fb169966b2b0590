"""State machine step PlaceOrders (inside the Map): one account's orders at ``execute_at``.

No retries are configured on this task (a retry could double an order); a second invocation
for the same item reconciles by tag instead of sending. Imports stay light: no SciPy, no
instrument master.
"""

from aws_lambda_powertools import Logger

from shared_utils.execution.placer import place_orders
from shared_utils.execution.wiring import metrics, placement_context

logger = Logger()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    result = place_orders(event, placement_context(event))
    logger.info("placed", extra={"execution_id": result["execution_id"], "client_id": result["client_id"],
                                 "statuses": [o["status"] for o in result["orders"]]})
    return result
