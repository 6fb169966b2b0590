"""Pre-open health check (published to SNS, read back through an SQS subscription) and the
session refresh, against moto and the fakes."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import boto3
import pytest

from shared_utils.clock import IST
from shared_utils.models.broker_account import SessionStatus
from shared_utils.models.enums import TradingMode
from tests.functional.auth_broker.conftest import allocate, angel_body, noren_body, noren_oauth_login, strategy, zerodha_body

MONDAY = date(2026, 8, 17)
GANDHI_JAYANTI = date(2026, 10, 2)  # a Friday, NSE holiday


@pytest.fixture
def alerts(aws, monkeypatch):
    """The alerts topic with an SQS queue subscribed (raw delivery); returns a reader."""
    sns = boto3.client("sns", region_name="ap-south-1")
    sqs = boto3.client("sqs", region_name="ap-south-1")
    topic = sns.create_topic(Name="ql-algo-trading-local-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts-reader")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    monkeypatch.setenv("ALERTS_TOPIC_ARN", topic)

    def read():
        out = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        return [json.loads(m["Body"]) for m in out]

    return read


def force(api, client_id, mode=TradingMode.LIVE, session=None, user="user-a"):
    """Test setup: put an account straight into a state (LIVE without a login, expired session)."""
    account = api.repos.accounts.get(user, client_id)
    changes = {"trading_mode": mode}
    if session is not None:
        changes["session"] = session
    api.repos.accounts.save(account.model_copy(update=changes), account.version)


def run_health_check(trade_date):
    from lambda_functions.auth_broker import health_check
    from local.apigw import FakeLambdaContext

    return health_check.handler({"detail": {"trade_date": trade_date.isoformat()}}, FakeLambdaContext())


def test_health_check_lists_exactly_the_accounts_without_a_session(api, angel, noren, alerts):
    for body in (zerodha_body("ZER1"), angel_body("A123"), angel_body("ANG2"), noren_body("FA1234"),
                 angel_body("ANG3"), angel_body("ANG4"), {"broker": "paper", "client_id": "PAPER1"}):
        assert api("POST", "/broker-accounts", body)[0] == 201
    assert api("POST", "/broker-accounts/A123/login")[0] == 200      # valid session
    assert noren_oauth_login(api)[0] == 200                           # OAuth; valid to midnight
    force(api, "A123")
    force(api, "FA1234")
    force(api, "ZER1")                                                # LIVE, never logged in
    yesterday = datetime(2026, 8, 16, 9, 0, tzinfo=IST)
    force(api, "ANG2", session=SessionStatus(status="VALID", last_login_at=yesterday, last_login_result="OK",
                                             valid_until=datetime(2026, 8, 17, 6, 0, tzinfo=IST)))  # expired today 06:00
    force(api, "ANG3")
    force(api, "ANG4")
    monday = strategy(api, days=("MONDAY",))
    for cid in ("ZER1", "A123", "ANG2", "FA1234", "PAPER1"):
        allocate(api, monday, cid)
    paused = strategy(api, days=("MONDAY",))
    allocate(api, paused, "ANG3")
    assert api("POST", f"/options/strategies/{paused}/pause")[0] == 200
    allocate(api, strategy(api, days=("TUESDAY",)), "ANG4")          # not due on Monday

    result = run_health_check(MONDAY)
    missing = {m["client_id"]: m for m in result["missing"]}
    assert sorted(missing) == ["ANG2", "ZER1"]
    assert missing["ZER1"]["reason"].startswith("no Kite login") and missing["ZER1"]["strategy_ids"] == [monday]
    messages = alerts()
    assert len(messages) == 1
    assert messages[0]["type"] == "BROKER_SESSIONS_MISSING" and messages[0]["trade_date"] == "2026-08-17"
    assert sorted(a["client_id"] for a in messages[0]["accounts"]) == ["ANG2", "ZER1"]

    # nothing on a holiday or a weekend, even with every weekday scheduled
    allocate(api, strategy(api, days=("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY")), "ZER1")
    assert run_health_check(GANDHI_JAYANTI)["missing"] == []
    assert run_health_check(date(2026, 8, 22))["missing"] == []
    assert alerts() == []


def test_a_paused_strategy_needs_the_sessions_of_the_accounts_holding_its_positions(api, angel, alerts):
    """Pause keeps the EXIT slot and Prepare runs that exit only while positions are open: the
    paused strategy needs the accounts holding them, and no other of its allocations."""
    from shared_utils.models.enums import Product, TransactionType
    from shared_utils.models.execution import Position

    for cid in ("ANG3", "ANG5"):
        assert api("POST", "/broker-accounts", angel_body(cid))[0] == 201
        force(api, cid)
    paused = strategy(api, days=("MONDAY",))
    allocate(api, paused, "ANG3")
    allocate(api, paused, "ANG5")
    assert api("POST", f"/options/strategies/{paused}/pause")[0] == 200
    assert run_health_check(MONDAY)["missing"] == []
    position = Position(user_id="user-a", strategy_id=paused, client_id="ANG5", tradingsymbol="NIFTY2681824900PE",
                        exchange="NFO", leg_no=1, product=Product.NRML, lot_size=65)
    position.apply_fill(TransactionType.SELL, 65, Decimal("100"))
    api.repos.positions.create(position)
    result = run_health_check(MONDAY)
    assert [(m["client_id"], m["strategy_ids"]) for m in result["missing"]] == [("ANG5", [paused])]


def test_refresh_renews_totp_sessions_and_reports_zerodha(api, angel, alerts):
    from lambda_functions.auth_broker import session_refresh
    from local.apigw import FakeLambdaContext

    api("POST", "/broker-accounts", angel_body("A123"))
    api("POST", "/broker-accounts", zerodha_body("ZER1"))
    api("POST", "/broker-accounts", angel_body("ANGP"))               # PAPER: left alone
    force(api, "A123")
    force(api, "ZER1")
    report = session_refresh.handler({"detail": {"at": "2026-08-17T08:30:00+05:30"}}, FakeLambdaContext())
    assert report["refreshed"] == ["A123"] and report["needs_human_login"] == [{"user_id": "user-a", "client_id": "ZER1"}]
    assert report["failed"] == []
    assert api("GET", "/broker-accounts/A123")[1]["session"]["status"] == "VALID"
    assert api("GET", "/broker-accounts/ANGP")[1]["session"]["status"] == "NONE"
    assert [m["type"] for m in alerts()] == ["BROKER_SESSION_REFRESH"]
    # a second run finds the session good through the close
    report = session_refresh.handler({"detail": {"at": "2026-08-17T08:35:00+05:30"}}, FakeLambdaContext())
    assert report["still_valid"] == ["A123"] and report["refreshed"] == []
    # holiday: nothing at all
    report = session_refresh.handler({"detail": {"at": "2026-10-02T08:30:00+05:30"}}, FakeLambdaContext())
    assert report["skipped_reason"] == "2026-10-02 is not a trading day"
