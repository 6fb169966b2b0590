"""Notifications (issue 18): preferences, sealed bot token, delivery over moto SNS and the local
Telegram stand-in, retries and redelivery, the notifier's partial batch answers, the producers'
enqueue that never raises."""

from __future__ import annotations

import json

import boto3
import pytest
import requests

from tests.unit.notifications.conftest import OTHER, REGION, TRADER, email_inbox

FINALIZE_PARTIAL = {
    "id": "evt-finalize-1", "detail-type": "Order Alert", "source": "ql.execution.engine",
    "time": "2026-08-17T04:00:03Z",
    "detail": {"execution_id": "EXE-S1-ENTRY-20260817", "user_id": TRADER, "strategy_id": "S1",
               "execution_type": "ENTRY", "status": "PARTIAL", "orders": 4, "accepted": 3, "rejected": 1,
               "not_sent": 0, "unknown": 0, "accounts": ["ZERODHA123"],
               "problems": [{"client_id": "ZERODHA123", "leg_no": 2, "tradingsymbol": "NIFTY2682024900CE",
                             "transaction_type": "SELL", "status": "REJECTED",
                             "reason": "Margin exceeds, Required:157000.00, Available:42000.00", "orders": 1,
                             "quantity": 75}]},
}


def _prefs(service, user=TRADER, **body):
    from shared_utils.notifications.models import PreferencesUpdate

    return service.update(user, PreferencesUpdate.model_validate(body))


def _both_channels(world, user=TRADER, chat=555001, email="trader.a@example.com"):
    token = world["telegram"].add_bot()
    world["telegram"].start_chat(token, chat)
    prefs = _prefs(world["service"], user, channels=["EMAIL", "TELEGRAM"], email=email,
                   telegram_chat_id=str(chat), telegram_bot_token=token)
    return token, prefs


# ---- the stand-in refuses what Telegram refuses --------------------------------------------------


def test_fake_telegram_answers_like_the_bot_api(telegram):
    token = telegram.add_bot()
    bad = requests.post(f"{telegram.url}/bot123456:{'x' * 35}/sendMessage", json={"chat_id": 1, "text": "hi"})
    assert bad.status_code == 401
    assert bad.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    unknown_chat = requests.post(f"{telegram.url}/bot{token}/sendMessage", json={"chat_id": 42, "text": "hi"})
    assert (unknown_chat.status_code, unknown_chat.json()["description"]) == (400, "Bad Request: chat not found")
    empty = requests.post(f"{telegram.url}/bot{token}/sendMessage", data={"chat_id": "42"})
    assert empty.json()["description"] == "Bad Request: message text is empty"
    telegram.start_chat(token, 42)
    ok = requests.post(f"{telegram.url}/bot{token}/sendMessage", json={"chat_id": 42, "text": "hi"}).json()
    assert ok["ok"] is True and ok["result"]["chat"]["id"] == 42 and ok["result"]["text"] == "hi"
    too_long = requests.post(f"{telegram.url}/bot{token}/sendMessage", json={"chat_id": 42, "text": "x" * 4097})
    assert too_long.json()["description"] == "Bad Request: message is too long"
    telegram.fail_next(1, 429, retry_after=3)
    flood = requests.post(f"{telegram.url}/bot{token}/sendMessage", json={"chat_id": 42, "text": "hi"})
    assert flood.status_code == 429 and flood.json()["parameters"] == {"retry_after": 3}
    assert [m.text for m in telegram.messages(42)] == ["hi"]


# ---- preferences -----------------------------------------------------------------------------------


def test_preferences_default_then_update_seals_the_token(world):
    service = world["service"]
    fresh = service.view(TRADER)
    assert not fresh.email.enabled and not fresh.telegram.enabled and "KILL_SWITCH" in fresh.events
    token, prefs = _both_channels(world)
    assert prefs.email.enabled and prefs.email.target == "trader.a@example.com"
    assert prefs.email.state in ("PENDING_CONFIRMATION", "CONFIRMED")
    assert prefs.telegram.state == "TOKEN_STORED" and prefs.telegram.target == "555001"
    assert token not in prefs.model_dump_json()
    # the table holds only ciphertext; the notifier's decrypt needs the notification context
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=world["env"].table_name)["Items"]
    assert token not in json.dumps(items, default=str)
    assert service.store.token(TRADER) == token
    # the email subscription filters on the trader's sub
    subs = world["sns"].list_subscriptions_by_topic(TopicArn=world["topic"])["Subscriptions"]
    (sub,) = [s for s in subs if s["Endpoint"] == "trader.a@example.com"]
    attrs = world["sns"].get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
    assert json.loads(attrs["FilterPolicy"]) == {"user_id": [TRADER]}


def test_enabling_a_channel_without_what_it_needs_is_refused(world):
    from pydantic import ValidationError

    from shared_utils.errors import InvalidRequest

    with pytest.raises(InvalidRequest) as refused:
        _prefs(world["service"], channels=["TELEGRAM"], telegram_chat_id="12345")
    assert "telegram_bot_token" in str(refused.value)
    with pytest.raises(ValidationError, match="telegram_bot_token"):
        _prefs(world["service"], channels=["TELEGRAM"], telegram_chat_id="12345", telegram_bot_token="not-a-token")


# ---- delivery ---------------------------------------------------------------------------------------


def test_a_partial_execution_reaches_both_channels_once(world):
    from shared_utils.notifications.service import notifications_of

    token, _ = _both_channels(world)
    _prefs(world["service"], OTHER, channels=["EMAIL"], email="trader.b@example.com")
    (note,) = notifications_of(json.dumps(FINALIZE_PARTIAL))
    outcome = world["service"].deliver(note)
    assert set(outcome) == {"EMAIL", "TELEGRAM"}
    (sent,) = world["telegram"].messages(555001)
    assert sent.text.startswith("ENTRY PARTIAL: S1 (3/4 accepted)")
    assert "What happened: the ENTRY execution ended PARTIAL: 3 of 4 orders accepted, 1 rejected" in sent.text
    assert "ZERODHA123 leg 2 SELL NIFTY2682024900CE: REJECTED - Margin exceeds" in sent.text
    assert "Where: accounts ZERODHA123; strategy S1; execution EXE-S1-ENTRY-20260817" in sent.text
    assert "What the platform did: recorded the execution as PARTIAL" in sent.text
    (mail,) = email_inbox(world["topic"], "trader.a@example.com")
    assert mail["subject"] == "ENTRY PARTIAL: S1 (3/4 accepted)" and "Margin exceeds" in mail["body"]
    assert email_inbox(world["topic"], "trader.b@example.com") == []  # another trader's address gets nothing
    # the queue delivers at least once: a redelivered message is not sent again
    again = world["service"].deliver(note)
    assert again == {"EMAIL": "already delivered", "TELEGRAM": "already delivered"}
    assert len(world["telegram"].messages(555001)) == 1
    assert len(email_inbox(world["topic"], "trader.a@example.com")) == 1


def test_events_the_trader_did_not_choose_are_not_sent(world):
    from shared_utils.notifications.service import notifications_of

    _both_channels(world)
    _prefs(world["service"], events=["KILL_SWITCH"])
    (note,) = notifications_of(FINALIZE_PARTIAL)
    assert world["service"].deliver(note) == {"skipped": "EXECUTION_PARTIAL not chosen"}
    _prefs(world["service"], events=["ORDER_REJECTED"])  # the partial execution was caused by a rejection
    assert "TELEGRAM" in world["service"].deliver(note)


def test_a_bad_token_is_recorded_not_retried(world):
    from shared_utils.notifications.service import notifications_of

    token, _ = _both_channels(world)
    world["telegram"].revoke(token)
    (note,) = notifications_of(FINALIZE_PARTIAL)
    outcome = world["service"].deliver(note)
    assert outcome["TELEGRAM"] == "failed: Telegram answered 401: Unauthorized"
    assert outcome["EMAIL"].startswith("SNS message")
    view = world["service"].view(TRADER)
    assert view.telegram.last_error == "Telegram answered 401: Unauthorized"
    assert token not in view.model_dump_json()


def test_throttled_telegram_is_retried_and_email_is_not_sent_twice(world):
    from shared_utils.notifications.channels import TransientFailure
    from shared_utils.notifications.service import notifications_of

    _both_channels(world)
    world["telegram"].fail_next(1, 429)
    (note,) = notifications_of(FINALIZE_PARTIAL)
    with pytest.raises(TransientFailure, match="429"):
        world["service"].deliver(note)
    assert world["telegram"].messages(555001) == []
    retried = world["service"].deliver(note)  # the queue's redelivery
    assert retried["EMAIL"] == "already delivered" and retried["TELEGRAM"].startswith("Telegram message")
    assert len(email_inbox(world["topic"], "trader.a@example.com")) == 1
    assert len(world["telegram"].messages(555001)) == 1


def test_test_send_reports_each_channel(world):
    token, _ = _both_channels(world)
    result = world["service"].test(TRADER)
    assert {(r.channel.value, r.delivered) for r in result.results} == {("EMAIL", True), ("TELEGRAM", True)}
    assert world["telegram"].messages(555001)[-1].text.startswith("Test notification")
    world["telegram"].revoke(token)
    failed = {r.channel.value: r for r in world["service"].test(TRADER).results}
    assert not failed["TELEGRAM"].delivered and "401: Unauthorized" in failed["TELEGRAM"].detail


# ---- the notifier Lambda -----------------------------------------------------------------------------


def test_notifier_reports_only_the_failed_message(world, monkeypatch):
    from lambda_functions.execution_engine import notifier
    from shared_utils.notifications import messages

    _both_channels(world)
    monkeypatch.setattr(notifier, "_service", world["service"])
    kill = messages.kill_switch(TRADER, "USER", True, "flash crash", "trader-a", "2026-08-17T04:00:00Z")
    world["telegram"].fail_next(1, 502)
    event = {"Records": [
        {"messageId": "m1", "body": json.dumps(FINALIZE_PARTIAL), "receiptHandle": "r1", "attributes": {},
         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:q", "awsRegion": REGION},
        {"messageId": "m2", "body": json.dumps({"notification": kill.model_dump(mode="json")}), "receiptHandle": "r2",
         "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:q",
         "awsRegion": REGION},
    ]}

    class Ctx:
        function_name, memory_limit_in_mb, aws_request_id = "notifier", 256, "req"
        invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:notifier"

    answer = notifier.handler(event, Ctx())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    texts = [m.text for m in world["telegram"].messages(555001)]
    assert texts == ["Kill switch ON: all your accounts\n\nWhat happened: the kill switch for all your accounts was "
                     "turned ON by trader-a (reason: flash crash).\nWhere: your account\nWhat the platform did: "
                     "refuses every new entry order for it from now on, before each send; exits and stop losses "
                     "still run."]


# ---- producers ----------------------------------------------------------------------------------------


def test_notify_enqueues_and_never_raises(aws, monkeypatch):
    from shared_utils.notifications import messages, publish

    note = messages.kill_switch(TRADER, "ACCOUNT", False, "", None, "2026-08-17T04:00:00Z", client_id="ZERODHA123")
    publish.reset_client()
    monkeypatch.delenv(publish.QUEUE_URL_VAR, raising=False)
    assert publish.notify(note) == 0
    monkeypatch.setenv(publish.QUEUE_URL_VAR, "https://sqs.ap-south-1.amazonaws.com/123456789012/absent")
    assert publish.notify(note) == 0  # no such queue: logged, not raised
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    monkeypatch.setenv(publish.QUEUE_URL_VAR, url)
    publish.reset_client()
    assert publish.notify([note]) == 1
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    body = json.loads(message["Body"])["notification"]
    assert body["event"] == "KILL_SWITCH" and "account ZERODHA123" in body["text"]
    assert publish.safely(lambda: 1 / 0) == 0
    publish.reset_client()


def test_an_alert_repeated_every_minute_reaches_the_trader_once(world):
    """The duplicate checker raises the same RECONCILIATION finding each minute while it is open:
    one message, not one a minute; a different finding is a new message."""
    from shared_utils.notifications.service import notifications_of

    _both_channels(world)
    finding = {"kind": "RECONCILIATION", "user_id": TRADER, "strategy_id": "S1", "client_id": "ZERODHA123",
               "message": "order 250817000123 at the broker is not in the books", "finding": "UNRECORDED",
               "tag": "qlS1e1l2"}
    for minute in range(3):
        event = {"id": f"evt-{minute}", "detail-type": "Order Alert", "time": f"2026-08-17T04:0{minute}:00Z",
                 "detail": finding}
        (note,) = notifications_of(event)
        world["service"].deliver(note)
    (sent,) = world["telegram"].messages(555001)
    assert sent.text.startswith("Books and broker disagree")
    assert "Where: account ZERODHA123; strategy S1" in sent.text
    (note,) = notifications_of({"id": "evt-9", "detail-type": "Order Alert",
                                "detail": {**finding, "message": "order 250817000124 at the broker is not in the books"}})
    world["service"].deliver(note)
    assert len(world["telegram"].messages(555001)) == 2


def test_messages_name_the_strategy_when_it_can_be_read():
    from shared_utils.notifications.messages import from_bus_event

    (named,) = from_bus_event(FINALIZE_PARTIAL, lambda user, sid: "Nifty weekly strangle" if sid == "S1" else None)
    assert named.title == "ENTRY PARTIAL: Nifty weekly strangle (3/4 accepted)"
    assert "strategy Nifty weekly strangle (S1)" in named.text

    def unreadable(user, sid):
        raise LookupError("strategy S1 not found")

    (plain,) = from_bus_event(FINALIZE_PARTIAL, unreadable)
    assert plain.title == "ENTRY PARTIAL: S1 (3/4 accepted)" and plain.notification_id == named.notification_id


def test_a_rejected_stop_reaches_a_trader_who_chose_rejections():
    from shared_utils.notifications.messages import from_bus_event
    from shared_utils.notifications.models import NotificationEvent as E

    (note,) = from_bus_event({"detail-type": "Order Alert", "detail": {
        "kind": "STOP_LOSS", "user_id": TRADER, "strategy_id": "S1", "execution_id": "e1", "client_id": "ZERODHA123",
        "order_key": "o1", "message": "leg 1: stop loss REJECTED: Trigger price out of range"}})
    assert note.event is E.ENGINE_ALERT and note.wanted_by([E.ORDER_REJECTED]) and not note.wanted_by([E.STOP_HIT])
    assert "no (or only a partial) working stop at the broker" in note.text


def test_the_bot_token_never_reaches_a_log_line(telegram, caplog):
    import logging

    from shared_utils.notifications.channels import send_telegram
    from shared_utils.notifications.messages import kill_switch

    token = telegram.add_bot()
    telegram.start_chat(token, 9)
    note = kill_switch(TRADER, "USER", True, "", None, "2026-08-17T04:00:00Z")
    with caplog.at_level(logging.DEBUG):
        send_telegram(note, token, "9", base_url=telegram.url)
        telegram.revoke(token)
        with pytest.raises(Exception) as failed:
            send_telegram(note, token, "9", base_url=telegram.url)
    assert "sendMessage" in caplog.text  # urllib3 logged the request line...
    assert token not in caplog.text and token not in str(failed.value)  # ...without the token


def test_test_send_says_when_the_address_has_not_confirmed(world, monkeypatch):
    from shared_utils.notifications import channels

    _prefs(world["service"], channels=["EMAIL"], email="new.trader@example.com")
    monkeypatch.setattr(channels, "subscription_state", lambda user, sub, sns=None, arn=None: "PENDING_CONFIRMATION")
    (result,) = world["service"].test(TRADER).results
    assert not result.delivered and "has not confirmed the subscription yet" in result.detail


def test_the_platform_kill_switch_tells_every_trader(repos, aws, monkeypatch):
    from shared_utils.clock import IST, FixedClock
    from shared_utils.models.broker_account import BrokerAccount
    from shared_utils.notifications import publish
    from shared_utils.services.executions import KillSwitchService
    from datetime import datetime

    for user, client in ((TRADER, "ZERODHA123"), (TRADER, "ANGEL1"), (OTHER, "ZERODHA9")):
        repos.accounts.create(BrokerAccount(user_id=user, client_id=client, broker="paper"))
    queued = []
    publish.set_sink(queued.extend)
    try:
        KillSwitchService(repos, FixedClock(datetime(2026, 8, 17, 9, 20, tzinfo=IST))).set_global(
            ["ADMIN"], True, "exchange outage", "ops-admin")
    finally:
        publish.set_sink(None)
    assert sorted(b["notification"]["user_id"] for b in queued) == sorted([TRADER, OTHER])
    text = queued[0]["notification"]["text"]
    assert "the kill switch for the whole platform was turned ON by the platform's operators (reason: exchange outage)" in text
    assert "ops-admin" not in text


def test_a_new_address_replaces_the_old_subscription(world):
    _prefs(world["service"], channels=["EMAIL"], email="old@example.com")
    view = _prefs(world["service"], email="new@example.com")
    assert view.email.target == "new@example.com" and view.email.state in ("PENDING_CONFIRMATION", "CONFIRMED")
    subs = world["sns"].list_subscriptions_by_topic(TopicArn=world["topic"])["Subscriptions"]
    assert [s["Endpoint"] for s in subs] == ["new@example.com"]
    assert world["service"].store.raw(TRADER)["email_subscription_arn"] == subs[0]["SubscriptionArn"]


def test_a_long_alert_keeps_where_and_what_the_platform_did():
    from shared_utils.notifications.messages import MAX_TEXT, from_bus_event

    problem = FINALIZE_PARTIAL["detail"]["problems"][0]
    many = [{**problem, "leg_no": i, "reason": "R" * 300} for i in range(40)]
    (note,) = from_bus_event({**FINALIZE_PARTIAL, "detail": {**FINALIZE_PARTIAL["detail"], "problems": many}})
    assert len(note.text) <= MAX_TEXT
    assert note.text.endswith("rejected and not-sent orders are not sent again.")
    assert "\nWhere: accounts ZERODHA123; strategy S1; execution EXE-S1-ENTRY-20260817\n" in note.text
