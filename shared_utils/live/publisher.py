"""Deliver live messages to the connections of the message's user, and only to them.

:class:`LivePublisher` takes ``(user_id, message)`` pairs (shared_utils.live.messages), looks up
that user's connections (one Query per user per batch) and sends each message through a
:class:`Sender`:

- :class:`ApiGatewaySender`: API Gateway Management API ``PostToConnection`` on the WebSocket
  stage's callback URL (``https://{api_id}.execute-api.{region}.amazonaws.com/{stage}``); a
  ``GoneException`` means the client left without ``$disconnect`` reaching us;
- the local WebSocket server (local/live_ws.py) is a Sender too.

A gone connection is removed from the store. A connection whose ID token has expired is closed
(``DeleteConnection``; the app reconnects with its fresh token, or polls if signed out) and
removed, never sent to: a connection lives no longer than the token that opened it. Any other
failure of one connection is counted and
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

    def close(self, connection_id: str) -> None:
        """Close the connection (best effort; already gone is fine)."""


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

    def close(self, connection_id: str) -> None:
        try:
            self.client.delete_connection(ConnectionId=connection_id)
        except self.client.exceptions.GoneException:
            pass


@dataclass
class PublishResult:
    """What one publish did: messages handled, deliveries, gone connections removed, connections
    closed because their token expired, failures."""

    messages: int = 0
    delivered: int = 0
    gone: int = 0
    expired: int = 0
    failed: int = 0
    users: set[str] = field(default_factory=set)


class LivePublisher:
    """Sends each user's messages to that user's connections (see module doc)."""

    def __init__(self, store: ConnectionStore, sender: Sender, clock=None) -> None:
        """``clock``: ``.now()`` aware (default: the process clock), compared with token expiry."""
        self.store = store
        self.sender = sender
        self._clock = clock

    def publish(self, pairs: Iterable[tuple[str, dict[str, Any]]]) -> PublishResult:
        """Deliver ``(user_id, message)`` pairs in order; per user, its connections are read
        once per call."""
        result = PublishResult()
        connections: dict[str, list[str]] = {}
        for user_id, message in pairs:
            result.messages += 1
            result.users.add(user_id)
            if user_id not in connections:
                connections[user_id] = self._open_connections(user_id, result)
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

    def _open_connections(self, user_id: str, result: PublishResult) -> list[str]:
        """The user's connections whose token is still valid; the others are closed and forgotten."""
        from shared_utils.clock import default_clock

        now = (self._clock or default_clock()).now().timestamp()
        valid = []
        for connection_id, token_exp in self.store.entries(user_id):
            if token_exp is None or token_exp > now:
                valid.append(connection_id)
                continue
            result.expired += 1
            for step in (self.sender.close, lambda c: self.store.remove(user_id, c)):
                try:
                    step(connection_id)
                except Exception:  # noqa: BLE001 - not sent to either way; the TTL removes the item
                    log.warning("could not close expired connection %s", connection_id, exc_info=True)
        return valid

    def publish_stream(self, records: Iterable[dict[str, Any]]) -> PublishResult:
        """Publish the messages of DynamoDB stream records (Lambda event or GetRecords shape)."""
        return self.publish(messages_from_stream(records))
