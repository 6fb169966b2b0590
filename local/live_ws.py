"""Live updates on this machine: a WebSocket server (the ``websockets`` library) standing in for
API Gateway's WebSocket API, fed by the trading table's stream on the moto server through the
SAME code the stream-consumer Lambda runs in AWS (shared_utils.live).

- ``ws://127.0.0.1:{port}/execution/live?token=<Cognito ID token>``: the handshake verifies the
  token against the local user pool (shared_utils.live.auth, as the ``$connect`` authorizer does
  in AWS); a missing, forged or expired token is answered 401 and no connection exists. The
  connection is recorded in the table under the token's user (shared_utils.live.connections).
- :class:`StreamFeed` reads the table's stream (DynamoDB Streams ``GetRecords`` on moto, every
  ``interval`` seconds) and hands each batch to
  :meth:`LivePublisher.publish_stream`, whose sender here is this server: a message goes only to
  the connections of the item's own user. A connection that is gone is removed from the table,
  as API Gateway's GoneException does in AWS. The feed reads only while a socket is open (from
  LATEST when the first one opens: the app loads the current state over REST): with nobody
  watching, as in the benches and the e2e runs without a browser, it costs nothing.

Messages are the seed's ``{"type", "data"}`` JSON (shared_utils.live.messages). Client messages
(the app's keep-alive pings) are read and ignored. Never imported by Lambda code.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from shared_utils.live.auth import CognitoTokenVerifier, InvalidToken
from shared_utils.live.connections import ConnectionStore
from shared_utils.live.publisher import ConnectionGone, LivePublisher

log = logging.getLogger(__name__)

#: the seed's live feed path (seed 001 "Real-time WebSocket APIs": WS /execution/live)
FEED_PATH = "/execution/live"


class LiveServer:
    """The local WebSocket API (see module doc); also the :class:`~shared_utils.live.publisher.Sender`
    of the local publisher.

    Args:
        verifier: checks the handshake's ``token`` (the local pool's ID tokens).
        store: where connections are recorded (the trading table on moto).
        clock: the platform clock (``connected_at``).
        port: 0 = any free port.
    """

    def __init__(self, verifier: CognitoTokenVerifier, store: ConnectionStore, clock, port: int = 0,
                 on_open=None, on_idle=None) -> None:
        #: called (in a worker thread) after a connection joins / the last one leaves
        self.on_open = on_open
        self.on_idle = on_idle
        self.verifier = verifier
        self.store = store
        self.clock = clock
        self._requested_port = port
        self.port = 0
        self.url = ""
        self._connections: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._error: BaseException | None = None

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> "LiveServer":
        self._thread = threading.Thread(target=self._run, name="live-ws", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise RuntimeError(f"live updates server did not start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        from websockets.asyncio.server import serve

        self._stopped = asyncio.Event()
        async with serve(self._session, "127.0.0.1", self._requested_port, process_request=self._authorize,
                         ping_interval=20, ping_timeout=20) as server:
            self._server = server
            self.port = next(iter(server.sockets)).getsockname()[1]
            self.url = f"ws://127.0.0.1:{self.port}{FEED_PATH}"
            self._ready.set()
            await self._stopped.wait()

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- handshake and sessions ------------------------------------------------------------------------
    async def _authorize(self, connection, request):
        """Before the upgrade: the path must be the feed's, the token valid (else 404/401)."""
        parts = urlsplit(request.path)
        if parts.path.rstrip("/") != FEED_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, f"no WebSocket route {parts.path} (use {FEED_PATH})\n")
        token = (parse_qs(parts.query).get("token") or [None])[-1]
        try:  # the JWKS fetch (cached) blocks: off the event loop
            user_id, token_exp = await asyncio.get_running_loop().run_in_executor(None, self.verifier.identity, token)
        except InvalidToken as exc:
            return connection.respond(HTTPStatus.UNAUTHORIZED, f"invalid token: {exc}\n")
        connection.ql_user_id, connection.ql_token_exp = user_id, token_exp  # the authorizer's context
        # registered BEFORE the upgrade completes, as API Gateway runs $connect before it answers
        # 101: a write the client makes right after connect() returns must find its connection
        # (registered after, an alert raced the registration and was lost)
        connection_id = connection.ql_connection_id = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        self._connections[connection_id] = connection
        if self.on_open is not None:  # the feed reads from now on, before the connection is findable
            await loop.run_in_executor(None, self.on_open)
        await loop.run_in_executor(None, lambda: self.store.add(user_id, connection_id, self.clock.now(),
                                                                token_exp=token_exp))
        return None

    async def _session(self, connection) -> None:
        user_id = connection.ql_user_id
        connection_id = connection.ql_connection_id
        loop = asyncio.get_running_loop()
        try:
            async for _ in connection:  # keep-alive pings from the app; the feed is one-way
                pass
        except Exception:  # noqa: BLE001 - a dropped client ends its session, nothing else
            pass
        finally:
            self._connections.pop(connection_id, None)
            if self.on_idle is not None and not self._connections:
                await loop.run_in_executor(None, self.on_idle)
            try:
                await loop.run_in_executor(None, self.store.remove, user_id, connection_id)
            except Exception:  # noqa: BLE001 - the TTL removes it
                log.warning("could not remove connection %s", connection_id, exc_info=True)

    # -- Sender ---------------------------------------------------------------------------------------
    def send(self, connection_id: str, payload: bytes) -> None:
        """Deliver ``payload`` to a connection of this server. Raises ConnectionGone when it is
        not (or no longer) open, as PostToConnection's GoneException."""
        connection = self._connections.get(connection_id)
        if connection is None or self._loop is None:
            raise ConnectionGone(connection_id)
        future = asyncio.run_coroutine_threadsafe(_deliver(connection, payload.decode()), self._loop)
        try:
            future.result(timeout=2)
        except Exception as exc:  # ConnectionClosed and a stuck socket alike
            raise ConnectionGone(connection_id) from exc

    def close(self, connection_id: str) -> None:
        """Close a connection whose token expired (code 4001; the app reconnects with a fresh
        token), as DeleteConnection does in AWS. Already closed is fine."""
        connection = self._connections.get(connection_id)
        if connection is None or self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(connection.close(4001, "token expired"), self._loop)
        try:
            future.result(timeout=2)
        except Exception:  # noqa: BLE001 - closing is best effort
            pass

    @property
    def open_connections(self) -> int:
        return len(self._connections)


class StreamFeed:
    """Reads the trading table's stream on moto and publishes each batch (see module doc).

    Args:
        table_name: the trading table (created with its stream: table_schema).
        publisher: a :class:`LivePublisher` whose sender is the :class:`LiveServer`.
        interval: seconds between ``GetRecords`` calls when the last one returned nothing.
        client: a boto3 ``dynamodbstreams`` client (default: from the environment, i.e. moto).
        dynamodb: a boto3 ``dynamodb`` client to find the stream (default: from the environment).
    """

    def __init__(self, table_name: str, publisher: LivePublisher, interval: float = 0.05,
                 client: Any | None = None, dynamodb: Any | None = None) -> None:
        import boto3

        self.table_name = table_name
        self.publisher = publisher
        self.interval = interval
        self.client = client or boto3.client("dynamodbstreams")
        self.dynamodb = dynamodb or boto3.client("dynamodb")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()
        self._iterators: dict[str, str] = {}
        self.published = 0
        self.active = lambda: True  # whether anyone listens (LocalLive: the server has open sockets)

    def start(self, reading: bool = True) -> "StreamFeed":
        """Start the thread; ``reading``: read from LATEST now (else from :meth:`resume`)."""
        self.stream_arn = self.dynamodb.describe_table(TableName=self.table_name)["Table"]["LatestStreamArn"]
        if reading:
            self.resume()
        self._thread = threading.Thread(target=self._run, name="live-stream-feed", daemon=True)
        self._thread.start()
        return self

    def resume(self) -> None:
        """Read from the stream's LATEST record on (idempotent while reading)."""
        with self._lock:
            if self._iterators:
                return
            for shard in self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]:
                self._iterators[shard["ShardId"]] = self.client.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")["ShardIterator"]

    def pause(self) -> None:
        """Stop reading unless someone listens again meanwhile (checked under the lock)."""
        with self._lock:
            if not self.active():
                self._iterators = {}

    def poll_once(self) -> int:
        """One GetRecords per shard; publishes what came. Returns the number of records read."""
        with self._lock:
            return self._poll_locked()

    def _poll_locked(self) -> int:
        count = 0
        for shard_id, iterator in list(self._iterators.items()):
            response = self.client.get_records(ShardIterator=iterator, Limit=1000)
            records = response.get("Records") or []
            if response.get("NextShardIterator"):
                self._iterators[shard_id] = response["NextShardIterator"]
            if records:
                count += len(records)
                result = self.publisher.publish_stream(records)
                self.published += result.messages
        return count

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                read = self.poll_once()
            except Exception:  # noqa: BLE001 - the feed keeps going from LATEST; the app's REST reads catch up
                log.warning("live stream feed: GetRecords failed", exc_info=True)
                read = 0
                with self._lock:
                    self._iterators = {}
                if self.active():
                    try:
                        self.resume()
                    except Exception:  # noqa: BLE001
                        log.warning("live stream feed: cannot resume", exc_info=True)
            if not read:
                self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


async def _deliver(connection, text: str) -> None:
    """Send once the connection is open: it is registered during its handshake (see
    ``_authorize``), so a message may arrive a few ms before the 101 has gone out."""
    from websockets.protocol import State

    for _ in range(150):
        if connection.state is not State.CONNECTING:
            break
        await asyncio.sleep(0.01)
    await connection.send(text)


class LocalLive:
    """The server and its feed together, as the local platform runs them."""

    def __init__(self, identity, table_name: str, clock, port: int = 0) -> None:
        from shared_utils.persistence.table import DynamoTable

        self.store = ConnectionStore(DynamoTable(table_name))
        self.server = LiveServer(CognitoTokenVerifier(identity.jwks_url, identity.issuer, identity.client_id),
                                 self.store, clock, port)
        from shared_utils.clock import SystemClock

        # token expiry is a real-clock fact (Cognito/moto stamp ``exp`` from it, PyJWT checks it
        # at the handshake against it), whatever instant the platform clock (--at) shows
        self.feed = StreamFeed(table_name, LivePublisher(self.store, self.server, clock=SystemClock()))
        self.feed.active = lambda: self.server.open_connections > 0
        self.server.on_open, self.server.on_idle = self.feed.resume, self.feed.pause

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> "LocalLive":
        self.server.start()
        self.feed.start(reading=False)  # reads once a socket opens
        return self

    def stop(self) -> None:
        self.feed.stop()
        self.server.stop()
