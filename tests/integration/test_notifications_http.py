"""Notifications over HTTP on the local stack (issue 18): a trader chooses email and Telegram,
test-sends, turns the kill switch on, and an engine alert arrives; the messages asserted are the
ones the trader's Telegram chat (the local Bot API stand-in) and mailbox (moto SNS with the
address's filter policy) receive. Failed deliveries: a bad token is shown on the preferences and
trading goes on; a 502 from Telegram comes back through the queue and is sent once."""

from __future__ import annotations

import time

import pytest

from local.notifications import DEMO_CHAT_ID

pytestmark = pytest.mark.slow

A, B = "notify.a@example.com", "notify.b@example.com"


@pytest.fixture(scope="module")
def local(local_stack):
    """The notifications stack the local stack runs (queue, topic, Telegram stand-in)."""
    return local_stack.notifications


def _alert(user_id: str) -> dict:
    return {"execution_id": "EXE-stg1-ENTRY-20260817", "user_id": user_id, "strategy_id": "stg1",
            "execution_type": "ENTRY", "status": "PARTIAL", "orders": 4, "accepted": 3, "rejected": 1, "not_sent": 0,
            "unknown": 0, "accounts": ["ZERODHA123"],
            "problems": [{"client_id": "ZERODHA123", "leg_no": 2, "tradingsymbol": "NIFTY2682024900CE",
                          "transaction_type": "SELL", "status": "REJECTED", "orders": 1, "quantity": 75,
                          "reason": "Margin exceeds, Required:157000.00, Available:42000.00"}]}


def _drain(local, rounds: int = 1) -> None:
    for _ in range(rounds):
        while local.drain_once():
            pass


def test_a_trader_is_told_on_the_channels_they_chose(local_stack, local):
    http = local_stack.http
    token_a, token_b = local_stack.token(A), local_stack.token(B)
    sub_a = local_stack.sub(A)
    status, fresh = http("GET", "/options/notifications/preferences", token=token_a)
    assert status == 200 and not fresh["email"]["enabled"] and not fresh["telegram"]["enabled"]
    status, refused = http("PUT", "/options/notifications/preferences", {"channels": ["TELEGRAM"],
                           "telegram_chat_id": str(DEMO_CHAT_ID), "telegram_bot_token": "12345:short"}, token=token_a)
    assert status == 422, refused
    status, prefs = http("PUT", "/options/notifications/preferences", {
        "channels": ["EMAIL", "TELEGRAM"], "email": A, "telegram_chat_id": str(DEMO_CHAT_ID),
        "telegram_bot_token": local.demo_token}, token=token_a)
    assert status == 200, prefs
    assert prefs["telegram"]["state"] == "TOKEN_STORED" and local.demo_token not in str(prefs)
    assert prefs["email"]["target"] == A and prefs["email"]["state"] in ("PENDING_CONFIRMATION", "CONFIRMED")

    status, tested = http("POST", "/options/notifications/test", {}, token=token_a)
    assert status == 200 and {r["channel"]: r["delivered"] for r in tested["results"]} == {"EMAIL": True, "TELEGRAM": True}
    assert local.telegram_messages()[-1].startswith("Test notification")
    assert local.email_inbox(A)[-1]["subject"] == "Test notification"

    # the kill switch: the route enqueues, the notifier delivers
    status, _ = http("PUT", "/options/kill-switch", {"on": True, "reason": "flash crash"}, token=token_a)
    assert status == 200
    _drain(local)
    kill = local.telegram_messages()[-1]
    assert kill.startswith("Kill switch ON: all your accounts")
    assert "turned ON by" in kill and "(reason: flash crash)" in kill
    assert "What the platform did: refuses every new entry order for it from now on" in kill

    # an engine alert on the bus (the rule puts it on the queue)
    local.on_bus_event("Order Alert", _alert(sub_a))
    _drain(local)
    partial = local.telegram_messages()[-1]
    assert partial.startswith("ENTRY PARTIAL: stg1 (3/4 accepted)")
    assert "ZERODHA123 leg 2 SELL NIFTY2682024900CE: REJECTED - Margin exceeds" in partial
    assert local.email_inbox(A)[-1]["subject"] == "ENTRY PARTIAL: stg1 (3/4 accepted)"
    assert [m["subject"] for m in local.email_inbox(A)] == [
        "Test notification", "Kill switch ON: all your accounts", "ENTRY PARTIAL: stg1 (3/4 accepted)"]

    # another trader sees none of it and has nothing to test
    status, other = http("GET", "/options/notifications/preferences", token=token_b)
    assert status == 200 and other["email"]["target"] is None and other["telegram"]["state"] == "NO_TOKEN"
    assert http("POST", "/options/notifications/test", {}, token=token_b)[0] == 422
    assert local.email_inbox(B) == []


def test_failed_deliveries_are_retried_or_shown_never_lost_silently(local_stack, local):
    http = local_stack.http
    token_a = local_stack.token(A)
    sub_a = local_stack.sub(A)
    sent_before = len(local.telegram_messages())
    mails_before = len(local.email_inbox(A))
    local.telegram.fail_next(1, 502)
    local.on_bus_event("Order Alert", {**_alert(sub_a), "execution_id": "EXE-stg1-ENTRY-20260818"})
    _drain(local)
    assert len(local.telegram_messages()) == sent_before  # 502: back on the queue
    assert len(local.email_inbox(A)) == mails_before + 1  # email went out
    time.sleep(2.2)  # the queue's visibility timeout
    _drain(local)
    assert len(local.telegram_messages()) == sent_before + 1
    assert len(local.email_inbox(A)) == mails_before + 1  # not sent twice
    # a revoked bot: recorded on the preferences, the queue moves on
    local.telegram.revoke(local.demo_token)
    local.on_bus_event("Order Alert", {**_alert(sub_a), "execution_id": "EXE-stg1-ENTRY-20260819"})
    _drain(local)
    status, prefs = http("GET", "/options/notifications/preferences", token=token_a)
    assert prefs["telegram"]["last_error"] == "Telegram answered 401: Unauthorized"
    assert len(local.email_inbox(A)) == mails_before + 2
