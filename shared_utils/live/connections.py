"""The open WebSocket connections of each user, one item per connection in the trading table.

Item: PK ``user_id`` (the Cognito ``sub``), SK ``LIVE_CONNECTION#{connection_id}``
(persistence.keys.live_connection_sk), ``connection_id``, ``connected_at`` (UTC ISO-8601),
``expires_at`` (epoch seconds, the table's TTL attribute: API Gateway closes a WebSocket
connection after 2 hours at most, so an item whose ``$disconnect`` never ran expires on its own),
``token_exp`` (epoch seconds: when the ID token that opened the connection expires; a connection
lives no longer than its token, see shared_utils.live.publisher).

Keying by user makes "only the user's own connections" one Query on the user's partition: a
message is never looked up across users.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared_utils.persistence import keys
from shared_utils.persistence.table import DynamoTable
from shared_utils.persistence.table_schema import TTL_ATTRIBUTE

#: API Gateway's maximum WebSocket connection duration (2 h) plus a margin
CONNECTION_TTL = timedelta(hours=2, minutes=10)


class ConnectionStore:
    """Connections of users in ``table`` (a :class:`DynamoTable` of the trading table)."""

    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def add(self, user_id: str, connection_id: str, now: datetime, token_exp: int | None = None) -> None:
        """Record ``connection_id`` as ``user_id``'s (``now``: aware, the process clock;
        ``token_exp``: epoch seconds at which the ID token that opened it expires, after which
        the publisher closes the connection instead of sending to it)."""
        item: dict[str, Any] = {
            "user_id": user_id, "sort_key": keys.live_connection_sk(connection_id),
            "connection_id": connection_id, "connected_at": now.isoformat(),
            TTL_ATTRIBUTE: int((now + CONNECTION_TTL).timestamp()), "entity_type": keys.LIVE_CONNECTION,
        }
        if token_exp is not None:
            item["token_exp"] = int(token_exp)
        self.table.put(item)

    def remove(self, user_id: str, connection_id: str) -> None:
        """Forget the connection (idempotent)."""
        self.table.delete(user_id, keys.live_connection_sk(connection_id))

    def entries(self, user_id: str) -> list[tuple[str, int | None]]:
        """``(connection_id, token_exp)`` of each connection of ``user_id`` (one Query on the
        user's partition; ``token_exp`` None when unknown)."""
        items: list[dict[str, Any]] = list(self.table.query_all(user_id, keys.live_connections_prefix()))
        return [(str(i["connection_id"]), int(i["token_exp"]) if i.get("token_exp") is not None else None)
                for i in items]

    def of_user(self, user_id: str) -> list[str]:
        """Connection ids of ``user_id``."""
        return [connection_id for connection_id, _ in self.entries(user_id)]
