"""Deliver live messages to the connections of the message's user, and only to them.

:class:`LivePublisher` takes ``(user_id, message)`` pairs (shared_utils.live.messages), looks up
that user's connections (one Query per user per batch) and sends each message through a
:class:`Sender`:

- :class:`ApiGatewaySender`: API Gateway Management API ``PostToConnection`` on the WebSocket
  stage's callback URL (``https://{api_id}.execute-api.{region}.amazonaws.com/{stage}``); a
  ``GoneException`` means the client left without ``$disconnect`` reaching us;
- the local WebSocket server (local/live_ws.py) is a Sender too.

A gone connection is removed from the store; any other failure of one connection is counted and
logged, never raised (one broken socket must not stop the other users' feeds or fail the batch
and make the stream consumer retry messages already delivered).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

from shared_utils.live.connections import ConnectionStore
from shared_utils.live.messages import messages_from_stream

log = logging.getLogger(__name__)


class ConnectionGone(Exception):
    """The connection no longer exists (API Gateway's GoneException, a closed local socket)."""


class Sender(Protocol):
    def send(self, connection_id: str, payload: bytes) -> None:
        """Deliver ``payload`` (UTF-8 JSON) to the connection. Raises ConnectionGone."""


class ApiGatewaySender:
    """``PostToConnection`` through the Management API of one WebSocket stage.

    Args:
        endpoint_url: the stage's callback URL (``LIVE_CALLBACK_URL`` in the stack).
        client: a boto3 ``apigatewaymanagementapi`` client (tests); built from the URL otherwise.
    """

    def __init__(self, endpoint_url: str, client: Any | None = None) -> None:
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url,
                                  config=Config(retries={"mode": "standard", "max_attempts": 2},
                                                connect_timeout=2, read_timeout=3))
        self.client = client

    def send(self, connection_id: str, payload: bytes) -> None:
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=payload)
        except self.client.exceptions.GoneException as exc:
            raise ConnectionGone(connection_id) from exc


@dataclass
class PublishResult:
    """What one publish did: messages handled, deliveries, gone connections removed, failures."""

    messages: int = 0
    delivered: int = 0
    gone: int = 0
    failed: int = 0
    users: set[str] = field(default_factory=set)


class LivePublisher:
    """Sends each user's messages to that user's connections (see module doc)."""

    def __init__(self, store: ConnectionStore, sender: Sender) -> None:
        self.store = store
        self.sender = sender

    def publish(self, pairs: Iterable[tuple[str, dict[str, Any]]]) -> PublishResult:
        """Deliver ``(user_id, message)`` pairs in order; per user, its connections are read
        once per call."""
        result = PublishResult()
        connections: dict[str, list[str]] = {}
        for user_id, message in pairs:
            result.messages += 1
            result.users.add(user_id)
            if user_id not in connections:
                connections[user_id] = self.store.of_user(user_id)
            payload = json.dumps(message, separators=(",", ":"), default=str).encode()
            for connection_id in list(connections[user_id]):
                try:
                    self.sender.send(connection_id, payload)
                    result.delivered += 1
                except ConnectionGone:
                    result.gone += 1
                    connections[user_id].remove(connection_id)
                    try:
                        self.store.remove(user_id, connection_id)
                    except Exception:  # noqa: BLE001 - the TTL removes it anyway
                        log.warning("could not remove gone connection %s", connection_id, exc_info=True)
                except Exception:  # noqa: BLE001 - one broken connection never stops the feed
                    result.failed += 1
                    log.warning("live message to connection %s failed", connection_id, exc_info=True)
        return result

    def publish_stream(self, records: Iterable[dict[str, Any]]) -> PublishResult:
        """Publish the messages of DynamoDB stream records (Lambda event or GetRecords shape)."""
        return self.publish(messages_from_stream(records))
