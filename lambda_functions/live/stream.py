"""The trading table's stream consumer: each batch of order, execution and position writes
becomes live messages, each sent only to the connections of the item's own user
(shared_utils.live). The event source mapping filters the stream to those items' sort-key
prefixes, so other writes never invoke this function.

Event: DynamoDB stream batch (``Records``). Returns the counts of what was sent. Never raises for
a failed connection (a retry would repeat messages already delivered); a failure to read the
table raises, and the mapping retries the batch.
"""

from __future__ import annotations

import os
from functools import lru_cache

from aws_lambda_powertools import Logger

from shared_utils.live.connections import ConnectionStore
from shared_utils.live.publisher import ApiGatewaySender, LivePublisher
from shared_utils.persistence.table import DynamoTable

logger = Logger()


@lru_cache(maxsize=1)
def publisher() -> LivePublisher:
    return LivePublisher(ConnectionStore(DynamoTable(os.environ["TABLE_NAME"])),
                         ApiGatewaySender(os.environ["LIVE_CALLBACK_URL"]))


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):  # noqa: ARG001
    result = publisher().publish_stream(event.get("Records") or [])
    summary = {"messages": result.messages, "delivered": result.delivered, "gone": result.gone,
               "expired": result.expired, "failed": result.failed, "users": len(result.users)}
    logger.info("live batch", extra=summary)
    return summary
