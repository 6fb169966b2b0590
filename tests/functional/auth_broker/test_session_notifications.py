"""Issue 18: before the open, the trader is told (notifications queue) which account the day
needs has no session, and what the platform will do; the operators' alert is unchanged."""

from __future__ import annotations

import json

import boto3

from tests.functional.auth_broker.conftest import allocate, strategy, zerodha_body
from tests.functional.auth_broker.test_scheduled import MONDAY, alerts, force, run_health_check  # noqa: F401


def test_missing_session_reaches_the_trader(api, alerts, monkeypatch):  # noqa: F811
    from shared_utils.notifications import publish

    sqs = boto3.client("sqs", region_name="ap-south-1")
    queue = sqs.create_queue(QueueName="ql-algo-trading-local-notifications")["QueueUrl"]
    monkeypatch.setenv(publish.QUEUE_URL_VAR, queue)
    publish.reset_client()
    assert api("POST", "/broker-accounts", zerodha_body("ZER1"))[0] == 201
    force(api, "ZER1")  # LIVE, never logged in
    monday = strategy(api, days=("MONDAY",))
    allocate(api, monday, "ZER1")

    assert [m["client_id"] for m in run_health_check(MONDAY)["missing"]] == ["ZER1"]
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    note = json.loads(message["Body"])["notification"]
    assert note["event"] == "SESSION_MISSING" and note["user_id"] == "user-a"
    assert note["title"] == "Log in to ZER1 before the open"
    assert note["text"].startswith("What happened: broker account ZER1 (zerodha) has no session valid at the open")
    assert f"Due today: {monday}." in note["text"]
    assert "What the platform did: will not send orders for this account until you log in" in note["text"]
    assert len(alerts()) == 1  # the operators' alert as before
    publish.reset_client()
