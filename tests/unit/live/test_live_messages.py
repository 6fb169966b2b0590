"""What the live feed says for each table write (shared_utils.live.messages) and to whom the
publisher sends it (shared_utils.live.publisher), on moto's DynamoDB."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from shared_utils.live.messages import messages_for, messages_from_stream, order_lag_ms
from shared_utils.persistence import keys
from shared_utils.persistence.table import serialize

EXECUTION_ID = "stg_a.20260817.E"


def _order(status="SENT", purpose="ENTRY", **extra):
    key = keys.order_sk(EXECUTION_ID, "ZERODHA123", 1, purpose=purpose)
    return {"user_id": "u1", "sort_key": key, "order_key": key, "execution_id": EXECUTION_ID, "strategy_id": "stg_a",
            "client_id": "ZERODHA123", "purpose": purpose, "tradingsymbol": "NIFTY2681824700PE",
            "transaction_type": "SELL", "quantity": Decimal(195), "price": Decimal("3.95"), "status": status,
            "tag": "T1", "execute_at": "2026-08-17T04:00:00+00:00", "sent_at": "2026-08-17T04:00:00.012500+00:00",
            "updated_at": "2026-08-17T04:00:00.020000+00:00", **extra}


def test_order_message_carries_the_lag_from_the_target_second_and_exact_money():
    [(user, message)] = messages_for(_order())
    assert user == "u1" and message["type"] == "ORDER_STATUS"
    data = message["data"]
    assert data["lag_ms"] == 12.5 and data["price"] == "3.95" and data["quantity"] == 195
    assert data["order_id"] == "T1" and data["timestamp"] == "2026-08-17T04:00:00.020000+00:00"


def test_stops_have_no_lag_and_an_unsent_order_has_none_either():
    assert order_lag_ms(_order(purpose="STOP_LOSS")) is None
    assert order_lag_ms({**_order(), "sent_at": None}) is None
    assert order_lag_ms({**_order(), "sent_at": "2026-08-17T03:59:59.990000+00:00"}) == -10.0  # early: shown, a defect


def test_a_write_that_changes_nothing_visible_sends_nothing():
    old = _order(status="OPEN", version=Decimal(2))
    new = {**old, "version": Decimal(3), "updated_at": "later", "status_history": ["x"]}
    assert messages_for(new, old) == []
    assert [m["data"]["status"] for _, m in messages_for({**new, "status": "FILLED"}, old)] == ["FILLED"]


def test_rejection_raises_one_alert_saying_what_and_where():
    old = _order(status="SENT")
    new = _order(status="REJECTED", broker_message="Insufficient margin")
    kinds = [(m["type"], m["data"].get("kind")) for _, m in messages_for(new, old)]
    assert kinds == [("ORDER_STATUS", None), ("SYSTEM_ALERT", "ORDER_REJECTED")]
    alert = messages_for(new, old)[1][1]["data"]
    assert alert["severity"] == "critical"
    assert alert["message"] == "ENTRY order SELL 195 NIFTY2681824700PE in ZERODHA123 is REJECTED: Insufficient margin"
    # the same status written again (a reconciliation) alerts no more
    assert messages_for({**new, "flags": ["x"]}, new) == []


def test_failed_execution_and_the_users_kill_switch_alert_but_the_platform_switch_is_nobodys():
    execution = {"user_id": "u1", "sort_key": keys.execution_sk("stg_a", "ENTRY", datetime(2026, 8, 17).date()),
                 "execution_id": EXECUTION_ID, "execution_type": "ENTRY", "status": "FAILED",
                 "reasons": ["ZERODHA123: session expired"]}
    pairs = messages_for(execution, {**execution, "status": "IN_PROGRESS"})
    assert [m["type"] for _, m in pairs] == ["EXECUTION_STATUS", "SYSTEM_ALERT"]
    assert pairs[1][1]["data"]["message"] == "ENTRY stg_a.20260817.E ended FAILED: ZERODHA123: session expired"

    switch = {"user_id": "u1", "sort_key": keys.control_sk("KILL_SWITCH", "ZERODHA123"), "on": True,
              "reason": "broker outage", "client_id": "ZERODHA123", "set_by": "u1"}
    [(user, alert)] = messages_for(switch)
    assert user == "u1" and alert["data"]["kind"] == "KILL_SWITCH_ON"
    assert "account ZERODHA123" in alert["data"]["message"] and "broker outage" in alert["data"]["message"]
    assert messages_for({**switch, "reason": "still"}, switch) == []  # still on: nothing new
    assert messages_for({**switch, "user_id": keys.PLATFORM_PARTITION, "sort_key": keys.control_sk("KILL_SWITCH")}) == []


def test_items_outside_the_feed_send_nothing():
    assert messages_for({"user_id": "u1", "sort_key": keys.strategy_sk("stg_a")}) == []
    assert messages_for({"user_id": "u1", "sort_key": keys.live_connection_sk("c1=")}) == []
    assert messages_for({"user_id": "u1", "sort_key": keys.placement_sk(EXECUTION_ID, "ZERODHA123", "b0")}) == []


def test_stream_records_in_lambda_shape_become_messages_in_order_and_removes_are_ignored():
    def record(name, new, old=None):
        change = {"Keys": serialize({"user_id": new["user_id"], "sort_key": new["sort_key"]}),
                  "ApproximateCreationDateTime": 1786939200}
        if name != "REMOVE":
            change["NewImage"] = serialize(new)
        if old:
            change["OldImage"] = serialize(old)
        return {"eventName": name, "eventSource": "aws:dynamodb", "dynamodb": change}

    sent, filled = _order(), _order(status="FILLED")
    pairs = messages_from_stream([record("INSERT", sent), record("MODIFY", filled, sent), record("REMOVE", filled)])
    assert [m["data"]["status"] for _, m in pairs] == ["SENT", "FILLED"]
    no_stamp = {k: v for k, v in sent.items() if k != "updated_at"}
    [(_, message)] = messages_from_stream([record("INSERT", no_stamp)])
    assert message["data"]["timestamp"] == "2026-08-17T04:00:00+00:00"  # the stream's own instant


class _Sender:
    def __init__(self, gone=(), broken=()):
        self.sent: list[tuple[str, bytes]] = []
        self.closed: list[str] = []
        self.gone, self.broken = set(gone), set(broken)

    def close(self, connection_id):
        self.closed.append(connection_id)

    def send(self, connection_id, payload):
        from shared_utils.live.publisher import ConnectionGone

        if connection_id in self.gone:
            raise ConnectionGone(connection_id)
        if connection_id in self.broken:
            raise OSError("socket stuck")
        self.sent.append((connection_id, payload))


@pytest.fixture
def store(repos):
    from shared_utils.live.connections import ConnectionStore

    return ConnectionStore(repos.table)


def test_publisher_sends_to_the_users_own_connections_only_and_forgets_gone_ones(store):
    from shared_utils.live.publisher import LivePublisher

    now = datetime(2026, 8, 17, 3, 59, tzinfo=timezone.utc)
    for user, connection in (("u1", "a1="), ("u1", "a2="), ("u1", "a3="), ("u2", "b1=")):
        store.add(user, connection, now)
    sender = _Sender(gone={"a2="}, broken={"a3="})
    result = LivePublisher(store, sender).publish(messages_for(_order()) + messages_for({**_order(), "user_id": "u2",
                                                                                         "status": "OPEN"}))
    assert [c for c, _ in sender.sent] == ["a1=", "b1="]
    assert b'"status":"SENT"' in sender.sent[0][1] and b'"status":"OPEN"' in sender.sent[1][1]
    assert (result.messages, result.delivered, result.gone, result.failed) == (2, 2, 1, 1)
    assert sorted(store.of_user("u1")) == ["a1=", "a3="]  # the gone one removed, the broken one kept
    item = store.table.get("u1", keys.live_connection_sk("a1="))
    assert int(item["expires_at"]) == int(now.timestamp()) + 2 * 3600 + 600  # TTL beyond API Gateway's 2 h


def test_connection_handler_records_under_the_authorizers_user_never_the_clients(store):
    from lambda_functions.live.connections import handle

    def event(route, user="u1"):
        return {"requestContext": {"routeKey": route, "connectionId": "c1=",
                                   "authorizer": {"user_id": user, "principalId": user, "token_exp": 1786942800}
                                   if user else {}},
                "queryStringParameters": {"user_id": "someone-else"}}

    assert handle(event("$connect"), store) == {"statusCode": 200}
    assert store.entries("u1") == [("c1=", 1786942800)] and store.of_user("someone-else") == []
    assert handle(event("$default"), store) == {"statusCode": 200}
    assert handle(event("$connect", user=None), store) == {"statusCode": 403}
    assert handle(event("$disconnect"), store) == {"statusCode": 200}
    assert store.of_user("u1") == []


def test_a_connection_lives_no_longer_than_its_token(store):
    """Its token expired: the connection is closed and forgotten, never sent to; the user's other
    connection (a fresh token) still gets the message."""
    from shared_utils.clock import FixedClock
    from shared_utils.live.publisher import LivePublisher

    now = datetime(2026, 8, 17, 4, 0, tzinfo=timezone.utc)
    store.add("u1", "old=", now, token_exp=int(now.timestamp()))  # expires exactly now
    store.add("u1", "new=", now, token_exp=int(now.timestamp()) + 3600)
    sender = _Sender()
    result = LivePublisher(store, sender, clock=FixedClock(now)).publish(messages_for(_order()))
    assert sender.closed == ["old="] and [c for c, _ in sender.sent] == ["new="]
    assert (result.delivered, result.expired) == (1, 1)
    assert store.of_user("u1") == ["new="]
