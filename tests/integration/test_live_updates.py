"""Live updates end to end on this machine (issue 19): real WebSocket clients against the local
WebSocket server, tokens of the local Cognito pool (moto), the engine's own repositories writing
orders, executions and positions into the trading table, and the table's stream feeding the same
publisher the stream-consumer Lambda runs in AWS.

What a trader would notice: their order arrives on their socket with its lag from the target
second; another trader's orders never arrive on it; a socket without a valid token never opens.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from shared_utils.clock import SystemClock
from shared_utils.models.enums import ExecutionType, OrderStatus
from shared_utils.models.execution import Execution, OrderRecord, Position
from shared_utils.persistence import keys

TARGET = datetime(2026, 8, 17, 4, 0, 0, tzinfo=timezone.utc)  # 09:30:00 IST


@pytest.fixture(scope="module")
def live(local_stack):
    from local.live_ws import LocalLive

    server = LocalLive(local_stack.identity, local_stack.env.table_name, SystemClock(), port=0)
    server.feed.interval = 0.02
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def repos(local_stack):
    from shared_utils.persistence.repositories import Repositories

    return Repositories.for_environment(local_stack.env)


def _order(user_id: str, strategy_id: str, client_id: str, leg_no: int, sent_ms: float) -> OrderRecord:
    execution_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, TARGET.date())
    key = keys.order_sk(execution_id, client_id, leg_no)
    return OrderRecord(order_key=key, execution_id=execution_id, user_id=user_id, strategy_id=strategy_id,
                       client_id=client_id, broker="paper", leg_no=leg_no, tag=keys.order_tag(key), exchange="NFO",
                       tradingsymbol="NIFTY2681824700PE", transaction_type="BUY", lots=3, lot_size=65, quantity=195,
                       product="NRML", order_type="LIMIT", price=Decimal("3.95"), status=OrderStatus.SENT,
                       execute_at=TARGET, sent_at=TARGET + timedelta(milliseconds=sent_ms))


def _recv(ws, timeout: float = 5.0) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def _quiet(ws, seconds: float = 0.6) -> list[dict]:
    """Whatever else arrives within ``seconds`` (expected: nothing)."""
    extra = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            extra.append(json.loads(ws.recv(timeout=left)))
        except TimeoutError:
            break
    return extra


def _wait_connections(live, user_id: str, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(live.store.of_user(user_id)) != count:
        assert time.monotonic() < deadline, f"{user_id} has {live.store.of_user(user_id)} connections, expected {count}"
        time.sleep(0.02)


def test_each_connection_receives_only_its_own_users_events(local_stack, live, repos):
    alice, bob = local_stack.sub("alice.live@example.com"), local_stack.sub("bob.live@example.com")
    with connect(f"{live.url}?token={local_stack.token('alice.live@example.com')}") as ws_a, \
            connect(f"{live.url}?token={local_stack.token('bob.live@example.com')}") as ws_b:
        _wait_connections(live, alice, 1)
        _wait_connections(live, bob, 1)

        # Alice's hedge order is recorded and then accepted: two writes, two ORDER_STATUS messages
        order, _ = repos.orders.record_intent(_order(alice, "stg_alice", "ZERODHA123", 2, 7.0))
        first = _recv(ws_a)
        assert first["type"] == "ORDER_STATUS"
        assert first["data"]["order_key"] == order.order_key
        assert first["data"]["lag_ms"] == 7.0  # sent 7 ms after the target second
        assert first["data"]["status"] == "SENT" and first["data"]["quantity"] == 195
        assert first["data"]["price"] == "3.95" and first["data"]["order_id"] == order.tag
        repos.orders.save(order.model_copy(update={"status": OrderStatus.FILLED, "filled_quantity": 195,
                                                   "average_price": Decimal("3.95")}), order.version)
        filled = _recv(ws_a)
        assert (filled["type"], filled["data"]["status"], filled["data"]["filled_quantity"]) == ("ORDER_STATUS", "FILLED", 195)

        # Bob's execution and Alice's position, written in the same instant
        execution = Execution(execution_id=keys.execution_id("stg_bob", ExecutionType.ENTRY, TARGET.date()),
                              user_id=bob, strategy_id="stg_bob", execution_type=ExecutionType.ENTRY,
                              trade_date=TARGET.date(), execution_time="09:30", execute_at=TARGET, status="IN_PROGRESS")
        repos.executions.claim(execution)
        repos.positions.create(Position(user_id=alice, strategy_id="stg_alice", client_id="ZERODHA123",
                                        tradingsymbol="NIFTY2681824700PE", exchange="NFO", leg_no=2, product="NRML",
                                        lot_size=65, quantity=195, average_price=Decimal("3.95"), ltp=Decimal("4.05")))
        got_b = _recv(ws_b)
        assert got_b["type"] == "EXECUTION_STATUS"
        assert (got_b["data"]["execution_id"], got_b["data"]["status"]) == (execution.execution_id, "IN_PROGRESS")
        got_a = _recv(ws_a)
        assert got_a["type"] == "POSITION_UPDATE" and got_a["data"]["mtm"] == "19.50"  # (4.05 - 3.95) x 195

        # nothing of the other user's ever arrived
        assert _quiet(ws_a) == [] and _quiet(ws_b, 0.1) == []

        # a write that changes nothing a trader sees sends nothing
        stored = repos.positions.get(alice, "stg_alice", "ZERODHA123", "NIFTY2681824700PE")
        repos.positions.save(stored, stored.version)
        assert _quiet(ws_a) == []
    _wait_connections(live, alice, 0)  # $disconnect forgot the closed sockets
    _wait_connections(live, bob, 0)


def test_a_user_with_two_tabs_gets_each_message_on_both(local_stack, live, repos):
    carol = local_stack.sub("carol.live@example.com")
    token = local_stack.token("carol.live@example.com")
    with connect(f"{live.url}?token={token}") as one, connect(f"{live.url}?token={token}") as two:
        _wait_connections(live, carol, 2)
        repos.orders.record_intent(_order(carol, "stg_carol", "ANGELONE456", 1, 11.1))
        assert _recv(one)["data"]["lag_ms"] == 11.1
        assert _recv(two)["data"]["lag_ms"] == 11.1


def test_a_gone_connection_is_forgotten(local_stack, live, repos):
    """A connection the table still lists but no socket serves (the client vanished without a
    close: API Gateway's GoneException) is removed at the next message, and the live one still
    gets it."""
    dave = local_stack.sub("dave.live@example.com")
    with connect(f"{live.url}?token={local_stack.token('dave.live@example.com')}") as ws:
        _wait_connections(live, dave, 1)
        live.store.add(dave, "stale-connection", SystemClock().now())
        repos.orders.record_intent(_order(dave, "stg_dave", "ZERODHA123", 3, 9.0))
        assert _recv(ws)["type"] == "ORDER_STATUS"
        _wait_connections(live, dave, 1)
        assert live.store.of_user(dave) != ["stale-connection"]


@pytest.mark.parametrize("token", ["", "not-a-jwt", "forged"])
def test_a_socket_without_a_valid_id_token_never_opens(local_stack, live, token):
    if token == "forged":  # a real token with its signature cut: the pool's key refuses it
        real = local_stack.token("erin.live@example.com")
        token = real.rsplit(".", 1)[0] + ".AAAA"
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{live.url}?token={token}" if token else live.url, open_timeout=5)
    assert refused.value.response.status_code == 401


def test_unknown_path_is_404(local_stack, live):
    token = local_stack.token("erin.live@example.com")
    with pytest.raises(InvalidStatus) as refused:
        connect(live.url.replace("/execution/live", "/execution/nothing") + f"?token={token}", open_timeout=5)
    assert refused.value.response.status_code == 404


class _LambdaContext:
    function_name = "live-authorizer"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:ap-south-1:123456789012:function:live-authorizer"
    aws_request_id = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 10000


def test_the_connect_authorizer_allows_a_pool_id_token_and_names_its_user(local_stack, monkeypatch):
    """The Lambda authorizer of the stack's $connect route, against the local pool's tokens."""
    from lambda_functions.live import authorizer

    identity = local_stack.identity
    monkeypatch.setenv("USER_POOL_ID", identity.user_pool_id)
    monkeypatch.setenv("USER_POOL_CLIENT_ID", identity.client_id)
    authorizer.verifier.cache_clear()
    arn = "arn:aws:execute-api:ap-south-1:123456789012:abc123/dev/$connect"
    user = local_stack.sub("frank.live@example.com")
    token = local_stack.token("frank.live@example.com")
    allowed = authorizer.handler({"type": "REQUEST", "methodArn": arn, "queryStringParameters": {"token": token}},
                                 _LambdaContext())
    assert allowed["principalId"] == user and allowed["context"]["user_id"] == user
    assert time.time() < allowed["context"]["token_exp"] <= time.time() + 24 * 3600  # the token's own exp
    assert allowed["policyDocument"]["Statement"] == [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": arn}]
    access = local_stack.aws.client("cognito-idp").admin_initiate_auth(
        UserPoolId=identity.user_pool_id, ClientId=identity.client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "frank.live@example.com", "PASSWORD": "Local-Passw0rd!"})["AuthenticationResult"]["AccessToken"]
    for query in (None, {}, {"token": "garbage"}, {"token": token[:-4] + "AAAA"}, {"token": access}):
        with pytest.raises(Exception, match="^Unauthorized$"):
            authorizer.handler({"type": "REQUEST", "methodArn": arn, "queryStringParameters": query}, _LambdaContext())
    authorizer.verifier.cache_clear()


def test_feed_delay_from_write_to_socket(local_stack, live, repos):
    """How long a trader waits between the engine's write and the message on their socket
    (local: moto's stream read every 20 ms by the test's feed; the platform reads every 50 ms)."""
    user = local_stack.sub("grace.live@example.com")
    delays = []
    with connect(f"{live.url}?token={local_stack.token('grace.live@example.com')}") as ws:
        _wait_connections(live, user, 1)
        for leg in range(1, 41):
            written = time.perf_counter()
            repos.orders.record_intent(_order(user, "stg_grace", "ZERODHA123", leg, 5.0))
            message = _recv(ws)
            delays.append((time.perf_counter() - written) * 1000)
            assert message["data"]["leg_no"] == leg
    delays.sort()
    p50, p99 = delays[len(delays) // 2], delays[int(len(delays) * 0.99) - 1]
    print(f"\nlive feed delay write->socket: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {delays[-1]:.1f} ms (n={len(delays)})")
    assert p99 < 500, delays


def test_the_feed_reads_the_stream_only_while_someone_listens(local_stack, live, repos):
    """With no socket open the local feed makes no GetRecords call (the benches and demo runs
    without a browser pay nothing); the first socket resumes it from LATEST."""
    henry = local_stack.sub("henry.live@example.com")
    deadline = time.monotonic() + 5
    while live.server.open_connections or live.feed._iterators:
        assert time.monotonic() < deadline, "the feed still reads with no socket open"
        time.sleep(0.02)
    calls = []
    live.feed.client.meta.events.register("before-call.dynamodb-streams.GetRecords", lambda **kw: calls.append(1))
    repos.orders.record_intent(_order(henry, "stg_henry", "ZERODHA123", 1, 3.0))  # nobody listening
    time.sleep(0.3)
    assert calls == []
    with connect(f"{live.url}?token={local_stack.token('henry.live@example.com')}") as ws:
        _wait_connections(live, henry, 1)
        repos.orders.record_intent(_order(henry, "stg_henry", "ZERODHA123", 2, 4.0))
        message = _recv(ws)
        assert message["data"]["leg_no"] == 2  # from LATEST: the unheard write is not replayed
        assert calls


def test_a_socket_is_closed_once_its_token_has_expired(local_stack, live, repos):
    """The connection's recorded token expiry has passed (as after an hour without a reconnect):
    the next message for that user closes it with 4001 instead of delivering (the app then
    reconnects with its fresh token, or polls if signed out)."""
    from websockets.exceptions import ConnectionClosed

    kate = local_stack.sub("kate.live@example.com")
    with connect(f"{live.url}?token={local_stack.token('kate.live@example.com')}") as ws:
        _wait_connections(live, kate, 1)
        [(connection_id, token_exp)] = live.store.entries(kate)
        assert token_exp > time.time()  # the real token's exp was recorded
        live.store.add(kate, connection_id, SystemClock().now(), token_exp=int(time.time()) - 1)
        repos.orders.record_intent(_order(kate, "stg_kate", "ZERODHA123", 1, 2.0))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
        assert closed.value.rcvd.code == 4001 and closed.value.rcvd.reason == "token expired"
    _wait_connections(live, kate, 0)
