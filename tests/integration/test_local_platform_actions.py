"""Issue 18's HTTP demo test on the local platform (``python -m local.platform`` in a subprocess,
paper brokers, the platform clock from Mon 17 Aug 2026 09:29:40 IST): after the demo's entry
filled and its stops rest at the broker, over HTTP with the demo user's token:

1. GET /options/positions/live shows every leg with its LTP, MTM and the stop at the broker;
2. cancel a resting stop (POST /options/orders/{id}/cancel), a second cancel is refused as final;
3. modify a limit: another stop-limit's trigger and limit price (POST /options/orders/{id}/modify);
4. close one short position mid-day (POST /options/positions/{id}/close): its stop cancelled first,
   the closing order filled, recorded as a manual close;
5. the demo's exit closes the rest; GET /options/reports/daily then shows gross, charges and net
   per account equal to a hand computation from the stored fills (the same 2026 rates written out
   as in the analytics test).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from decimal import Decimal

import pytest

from local.aws import free_port
from shared_utils.models.execution import OrderRecord
from tests.functional.analytics.test_analytics_api import hand_computation
from tests.integration.test_local_platform import _start, _stop, _token, _wait_for

pytestmark = pytest.mark.slow


def _call(port: int, method: str, path: str, token: str, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _live_with_stops(port: int, token: str, timeout: float = 90) -> dict:
    """GET /options/positions/live until the entry's 8 legs are open and each has its stop."""
    deadline = time.monotonic() + timeout
    live: dict = {}
    while time.monotonic() < deadline:
        status, live = _call(port, "GET", "/options/positions/live", token)
        if status == 200 and len(live["items"]) == 8 and all(i["stop"] for i in live["items"]):
            return live
        time.sleep(1)
    raise AssertionError(f"the entry's positions and stops did not appear: {live}")


def test_actions_after_the_demo_morning_then_the_daily_report_equals_a_hand_computation(tmp_path):
    port = free_port()
    log: list[str] = []
    proc = _start(tmp_path, port, "--at", "2026-08-17T09:29:40+05:30", "--lookahead", "1", "--exit-after", "3")
    try:
        _wait_for(proc, "REST API on", 120, log)
        token = None
        deadline = time.monotonic() + 60
        while token is None and time.monotonic() < deadline:
            try:
                token = _token(tmp_path)
            except AssertionError:
                time.sleep(1)
        live = _live_with_stops(port, token)
        strategy_id = live["items"][0]["strategy_id"]
        for item in live["items"]:
            assert item["ltp_source"] == "market" and item["stop"]["source"] == "broker", item
            assert item["stop"]["quantity"] == abs(item["quantity"])

        def leg(client_id: str, leg_no: int) -> dict:
            return next(i for i in live["items"] if i["client_id"] == client_id and i["leg_no"] == leg_no)

        # 2. cancel a resting stop
        stop = leg("ANGELONE456", 1)["stop"]
        status, body = _call(port, "POST", f"/options/orders/{stop['order_id']}/cancel", token)
        assert status == 200 and body["status"] == "CANCELLED", body
        status, body = _call(port, "POST", f"/options/orders/{stop['order_id']}/cancel", token)
        assert status == 409 and "final" in body["message"], body

        # 3. modify a limit: tighten another stop-limit (trigger and limit, one rupee each)
        stop = leg("ZERODHA123", 3)["stop"]
        trigger, price = Decimal(stop["trigger_price"]) - 1, Decimal(stop["price"]) - 1
        status, body = _call(port, "POST", f"/options/orders/{stop['order_id']}/modify", token,
                             {"trigger_price": float(trigger), "price": float(price)})
        assert status == 200 and Decimal(body["trigger_price"]) == trigger and Decimal(body["price"]) == price, body
        status, body = _call(port, "GET", f"/options/orders/{stop['order_id']}", token)
        assert status == 200 and Decimal(body["order"]["trigger_price"]) == trigger

        # 4. close one short position mid-day
        short = leg("ZERODHA123", 1)
        status, body = _call(port, "POST", f"/options/positions/{short['position_id']}/close", token)
        assert status == 200, body
        assert body["cancelled_orders"] == [short["stop"]["order_id"]]
        assert body["quantity_after"] == 0 and [o["status"] for o in body["orders"]] == ["FILLED"], body

        # 5. the demo's exit closes the rest; then the day's report
        _wait_for(proc, "demo complete", 300, log)
        status, positions = _call(port, "GET", f"/options/positions?strategy_id={strategy_id}", token)
        assert status == 200 and all(p["quantity"] == 0 for p in positions["items"]), positions
        orders: list[OrderRecord] = []
        cursor = None
        while True:
            query = "from_date=2026-08-17&to_date=2026-08-17&limit=200" + (f"&cursor={cursor}" if cursor else "")
            status, page = _call(port, "GET", f"/options/orders?{query}", token)
            assert status == 200, page
            orders += [OrderRecord.model_validate(item["order"]) for item in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        manual = [o for o in orders if "MANUAL_CLOSE" in o.flags]
        assert len(manual) == 1 and manual[0].filled_quantity == -short["quantity"]
        expected = hand_computation(orders)
        status, report = _call(port, "GET", "/options/reports/daily?date=2026-08-17", token)
        assert status == 200, report
        assert sorted(a["client_id"] for a in report["accounts"]) == ["ANGELONE456", "ZERODHA123"]
        for row in report["accounts"]:
            hand = expected[row["client_id"]]
            assert Decimal(row["gross"]) == hand["gross"], (row, hand)
            assert {k: Decimal(v) for k, v in row["charges"].items()} == hand["charges"], (row, hand)
            assert Decimal(row["net"]) == hand["net"], (row, hand)
        assert Decimal(report["total"]["net"]) == sum(h["net"] for h in expected.values())
    finally:
        _stop(proc, log)
