"""State machine step PlaceOrders (inside the Map): one account's orders at ``execute_at``.

The item is a reference (contract C1): the orders are the intents Resolve stored. A second
invocation for the same item (a retry after a throttle) finds the item's placement claim and
reconciles by tag instead of sending; the result is a small summary. Imports stay light: no SciPy, no
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
                                 "statuses": result.get("statuses")})
    return result
