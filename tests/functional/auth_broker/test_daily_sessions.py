"""Issue 16: daily sessions. A login reminder before the open for LIVE accounts without a session
(SNS per trader, the broker login link returns to our callback), the 15:45 forced logout at the
broker, the session revoked when an account is removed, and the account view's session state,
expiry and egress IP."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from shared_utils.clock import IST
from shared_utils.models.enums import TradingMode
from tests.functional.auth_broker.conftest import KITE, angel_body, zerodha_body
from tests.functional.auth_broker.test_sessions import callback

MONDAY_0815 = datetime(2026, 8, 17, 8, 15, tzinfo=IST)
MONDAY_1545 = datetime(2026, 8, 17, 15, 45, tzinfo=IST)


@pytest.fixture
def inboxes(aws, monkeypatch):
    """The login-reminders topic with one SQS 'inbox' per trader, each subscription filtered on
    the ``user_id`` message attribute (as a trader's email subscription is)."""
    sns = boto3.client("sns", region_name="ap-south-1")
    sqs = boto3.client("sqs", region_name="ap-south-1")
    topic = sns.create_topic(Name="ql-algo-trading-local-login-reminders")["TopicArn"]
    queues = {}
    for user in ("user-a", "user-b"):
        url = sqs.create_queue(QueueName=f"inbox-{user}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps({"user_id": [user]})})
        queues[user] = url
    monkeypatch.setenv("LOGIN_REMINDERS_TOPIC_ARN", topic)

    def read(user):
        out = sqs.receive_message(QueueUrl=queues[user], MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in out]

    return read


def force_live(api, client_id, user="user-a"):
    account = api.repos.accounts.get(user, client_id)
    api.repos.accounts.save(account.model_copy(update={"trading_mode": TradingMode.LIVE}), account.version)


def run(action, at):
    from lambda_functions.auth_broker import session_daily
    from local.apigw import FakeLambdaContext

    return session_daily.handler({"detail": {"action": action, "at": at.isoformat()}}, FakeLambdaContext())


def test_login_reminder_reaches_only_its_trader_and_its_link_logs_in(api, kite, inboxes):
    api("POST", "/broker-accounts", zerodha_body())
    force_live(api, "ZX1234")
    api("POST", "/broker-accounts", zerodha_body("ZB999"), user="user-b")  # PAPER: no reminder
    api.clock.set(MONDAY_0815)
    result = run("remind", MONDAY_0815)
    assert result["reminded"] == [{"user_id": "user-a", "client_id": "ZX1234"}]
    assert inboxes("user-b") == []
    [message] = inboxes("user-a")
    assert message["type"] == "BROKER_LOGIN_REMINDER" and message["client_id"] == "ZX1234"
    assert "09:15 IST" in message["text"] and KITE["api_secret"] not in json.dumps(message)
    url = urlsplit(message["login_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://kite.zerodha.com/connect/login"
    state = parse_qs(parse_qs(url.query)["redirect_params"][0])["state"][0]
    # the trader opens the link at 09:05: Kite redirects to our callback, which logs the account in
    api.clock.set(datetime(2026, 8, 17, 9, 5, tzinfo=IST))
    status, body = callback(api, KITE["request_token"], state)
    assert status == 200 and body["action"] == "LOGGED_IN", body
    # with a valid session, no reminder
    assert run("remind", datetime(2026, 8, 17, 9, 6, tzinfo=IST))["reminded"] == []


def test_no_reminder_on_a_holiday(api, inboxes):
    api("POST", "/broker-accounts", zerodha_body())
    force_live(api, "ZX1234")
    holiday = datetime(2026, 10, 2, 8, 15, tzinfo=IST)  # Gandhi Jayanti
    api.clock.set(holiday)
    assert run("remind", holiday)["reminded"] == [] and inboxes("user-a") == []


def test_1545_logout_at_the_broker_and_the_account_view(api, angel, kite, monkeypatch):
    monkeypatch.setenv("QL_EGRESS_GROUPS", json.dumps({"family-a": {
        "users": ["user-a"], "ip": "203.0.113.10", "ip_since": "2026-08-14", "source_address": "127.0.0.2"}}))
    api("POST", "/broker-accounts", angel_body())
    assert api("POST", "/broker-accounts/A123/login")[0] == 200
    from tests.functional.auth_broker.test_sessions import login_state

    api("POST", "/broker-accounts", zerodha_body())
    assert callback(api, KITE["request_token"], login_state(api))[0] == 200
    view = api("GET", "/broker-accounts/A123")[1]
    assert view["session"]["status"] == "VALID" and view["session"]["valid_now"] is True
    assert datetime.fromisoformat(view["session"]["valid_until"]) == datetime(2026, 8, 18, 6, 0, tzinfo=IST)
    assert view["egress"] == {"group": "family-a", "ip": "203.0.113.10", "ip_since": "2026-08-14",
                              "next_change": "2026-08-21"}
    api.clock.set(MONDAY_1545)
    report = run("logout", MONDAY_1545)
    assert sorted(r["client_id"] for r in report["logged_out"]) == ["A123", "ZX1234"] and report["failed"] == []
    assert angel.logouts == 1 and angel.session_expired
    assert kite.logouts == 1 and kite.session_expired  # Kite invalidate_access_token
    view = api("GET", "/broker-accounts/A123")[1]
    assert view["session"]["status"] == "LOGGED_OUT" and view["session"]["valid_now"] is False
    from lambda_functions.auth_broker.common import secret_store

    assert secret_store().read(api.repos.accounts.get("user-a", "A123").secret_name).session is None
    # nothing left to log out
    assert run("logout", MONDAY_1545)["logged_out"] == []


def test_removing_an_account_revokes_its_broker_session(api, angel, vault):
    api("POST", "/broker-accounts", angel_body())
    assert api("POST", "/broker-accounts/A123/login")[0] == 200
    status, body = api("DELETE", "/broker-accounts/A123")
    assert status == 200, body
    assert angel.logouts == 1 and angel.session_expired
    assert vault.names() == []


def test_switching_to_live_subscribes_the_traders_email_to_its_own_reminders(api, angel, inboxes):
    sns = boto3.client("sns", region_name="ap-south-1")
    import os

    topic = os.environ["LOGIN_REMINDERS_TOPIC_ARN"]
    api("POST", "/broker-accounts", angel_body())
    api("POST", "/broker-accounts/A123/login")
    assert api("PUT", "/broker-accounts/A123", {"trading_mode": "LIVE"})[0] == 200
    assert api("PUT", "/broker-accounts/A123", {"trading_mode": "PAPER"})[0] == 200
    assert api("PUT", "/broker-accounts/A123", {"trading_mode": "LIVE"})[0] == 200  # no second subscription
    emails = [s for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] if s["Protocol"] == "email"]
    assert [s["Endpoint"] for s in emails] == ["user-a@example.in"]
    attrs = sns.get_subscription_attributes(SubscriptionArn=emails[0]["SubscriptionArn"])["Attributes"]
    assert json.loads(attrs["FilterPolicy"]) == {"user_id": ["user-a"]}
