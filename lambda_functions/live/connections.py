"""The WebSocket API's ``$connect``, ``$disconnect`` and ``$default`` routes.

- ``$connect`` (after the authorizer allowed it): records the connection under the user the
  authorizer named (``requestContext.authorizer.user_id``), never under anything the client sent,
  with the token's expiry (``token_exp``) after which the publisher closes it;
- ``$disconnect``: forgets it;
- ``$default``: any message (the app's keep-alive ping every few minutes, under API Gateway's
  10-minute idle timeout) is accepted and ignored: the feed is one-way, server to client.

Returns ``{"statusCode": 200}`` (403 on a ``$connect`` without an authorized user).
"""

from __future__ import annotations

import os
from functools import lru_cache

from aws_lambda_powertools import Logger

from shared_utils.clock import default_clock
from shared_utils.live.connections import ConnectionStore
from shared_utils.persistence.table import DynamoTable

logger = Logger()


@lru_cache(maxsize=1)
def store() -> ConnectionStore:
    return ConnectionStore(DynamoTable(os.environ["TABLE_NAME"]))


def handle(event: dict, connections: ConnectionStore) -> dict:
    context = event.get("requestContext") or {}
    route, connection_id = context.get("routeKey"), context.get("connectionId")
    authorizer = context.get("authorizer") or {}
    user_id = authorizer.get("user_id")
    if route == "$connect":
        if not user_id or not connection_id:
            return {"statusCode": 403}
        token_exp = authorizer.get("token_exp")
        connections.add(user_id, connection_id, default_clock().now(),
                        token_exp=int(token_exp) if token_exp not in (None, "") else None)
        logger.info("live connected", extra={"user_id": user_id, "connection_id": connection_id})
    elif route == "$disconnect" and user_id and connection_id:
        connections.remove(user_id, connection_id)
    return {"statusCode": 200}


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):  # noqa: ARG001
    return handle(event, store())
