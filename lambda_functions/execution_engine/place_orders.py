"""State machine step PlaceOrders (inside the Map): one account's orders at ``execute_at``.

The state machine retries this task only for ``Lambda.TooManyRequestsException`` (a throttled
invoke: the handler never ran); any other error is caught into the item's result. A second
invocation for the same item sends only what was never begun and reconciles the rest by tag.
Imports stay light: no SciPy, no instrument master. Cold work happens before the sleep to
``execute_at``: clients at init, then the account, its broker session (secret) and client, the
HTTPS connection (``placer.warm_up``), the intents (one query) and the placement claim.
"""

import os

from aws_lambda_powertools import Logger

from lambda_functions.execution_engine.invocation import installed_context
from shared_utils.execution.placer import place_orders
from shared_utils.execution.wiring import metrics, placement_context

logger = Logger()

if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    # init phase (before the first invoke): configuration, the DynamoDB client, the calendar and
    # the broker-session provider are built once per container, not inside the window
    from shared_utils.execution.wiring import _placement_base

    _placement_base()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    result = place_orders(event, installed_context() or placement_context(event))
    logger.info("placed", extra={key: result.get(key) for key in ("execution_id", "client_id", "sent", "not_sent")})
    return result
