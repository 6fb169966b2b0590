"""The local platform as `./deploy.sh -e local` runs it delivers an engine alert: an "Order Alert"
on its bus goes through the notifications rule (played where the scheduler drains the bus), the
queue and the notifier thread to the trader's Telegram chat (the stand-in) and mailbox (moto
SNS), in the trader's own words."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def _put(url: str, body: dict, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT")
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def test_an_engine_alert_reaches_the_trader_on_the_local_platform(tmp_path):
    from lambda_functions.auth_broker import common as auth_common
    from lambda_functions.options_platform import common
    from local.platform import LocalPlatform, _parse
    from shared_utils.clock import default_clock, set_default_clock
    from shared_utils.execution.events import ORDER_ALERT, SOURCE_ENGINE, set_default_publisher

    saved_env, saved_clock = dict(os.environ), default_clock()
    platform = LocalPlatform(_parse(["--no-demo", "--port", "0", "--state-dir", str(tmp_path),
                                     "--at", "2026-08-17T09:31:00+05:30"]))
    try:
        platform.start()
        threading.Thread(target=platform._scheduler, daemon=True, name="scheduler").start()
        email = "alerts.trader@example.com"
        sub = platform.aws.ensure_user(platform.identity, email)
        token = platform.aws.id_token(platform.identity, email)
        status, prefs = _put(f"{platform.api.url}/options/notifications/preferences", {
            "channels": ["EMAIL", "TELEGRAM"], "email": email, "telegram_chat_id": "100001",
            "telegram_bot_token": platform.notifications.demo_token}, token)
        assert status == 200 and prefs["telegram"]["state"] == "TOKEN_STORED"
        platform.publisher.publish(SOURCE_ENGINE, ORDER_ALERT, {
            "kind": "STOP_LOSS_HIT", "user_id": sub, "strategy_id": "stg_demo", "execution_id": "stg_demo.20260817.E",
            "client_id": "ZERODHA123", "order_key": "ok1", "leg_no": 3, "tradingsymbol": "NIFTY2681825250CE",
            "average_price": "41.20", "quantity": 65,
            "message": "leg 3 NIFTY2681825250CE closed by its stop_loss at 41.20"})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not platform.notifications.telegram_messages():
            time.sleep(0.2)
        (text,) = platform.notifications.telegram_messages()
        assert text.startswith("Stop loss hit: NIFTY2681825250CE")
        assert "What happened: leg 3 NIFTY2681825250CE closed by its stop_loss at 41.20" in text
        assert "Where: account ZERODHA123; strategy stg_demo; execution stg_demo.20260817.E; leg 3" in text
        assert "What the platform did: recorded the closing fill (65 units at 41.20)" in text
        (mail,) = platform.notifications.email_inbox(email)
        assert mail["subject"] == "Stop loss hit: NIFTY2681825250CE"
    finally:
        platform.stop()
        from shared_utils.persistence.table import reset_clients
        from shared_utils.services.market_status import set_api_context

        set_api_context(None)
        reset_clients()
        set_default_publisher(None)
        set_default_clock(saved_clock)
        os.environ.clear()
        os.environ.update(saved_env)
        common.repositories.cache_clear()
        auth_common.reset_caches()
