"""Orders, P&L, performance, reports and the dashboard over HTTP (the real handlers over moto
tables) after a trading morning on paper: the seed's iron condor entered at 09:30 and exited at
15:20 through the engine, then every figure checked against a hand computation."""

import csv
import io
import json
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest

from local.apigw import build_event, invoke
from shared_utils.clock import IST, default_clock, set_default_clock
from shared_utils.execution.events import set_default_publisher
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import ExecutionType
from tests.functional.engine.conftest import due_event

DAY = date(2026, 8, 17)
ROUTES = ["/options/orders", "/options/orders/live", "/options/orders/QABCDEFGHIJKLMNOPQRS", "/options/pnl",
          "/options/pnl/stg_x", "/options/performance", "/options/performance/strategies/stg_x",
          "/options/performance/baskets/bsk_x", "/options/reports/daily", "/options/reports/monthly",
          "/options/executions/dashboard"]


@pytest.fixture
def morning(engine, seed_strategy, api):
    """Entry at 09:30 and exit at 15:20 on Monday 17 Aug 2026, paper brokers. Returns
    (user_id, strategy_id, basket_id)."""
    previous = default_clock()
    set_default_clock(engine.clock)
    set_default_publisher(engine.publisher)
    user_id, strategy_id = seed_strategy
    assert api("PUT", f"/options/strategies/{strategy_id}", {"exit_days": ["MONDAY"]})[0] == 200
    (entry,) = due_event(engine)
    assert run_state_machine(entry, engine)["results"][0]["status"] == "COMPLETED"
    engine.clock.set(datetime(2026, 8, 17, 15, 18, 5, tzinfo=IST))
    (exit_,) = due_event(engine, slot="15:20", execution_type=ExecutionType.EXIT)
    assert run_state_machine(exit_, engine)["results"][0]["status"] == "COMPLETED"
    engine.clock.set(datetime(2026, 8, 17, 16, 0, tzinfo=IST))
    basket_id = engine.repos.strategies.get(user_id, strategy_id).basket_id
    yield user_id, strategy_id, basket_id
    set_default_clock(previous)
    set_default_publisher(None)


def _paisa(value: Decimal, quantum: str = "0.01") -> Decimal:
    return value.quantize(Decimal(quantum), rounding=ROUND_HALF_UP)


def hand_computation(orders) -> dict[str, dict[str, Decimal]]:
    """Per account, from the stored fills, with the 2026 rates written out (not read from the
    config): gross = sells - buys (every position is flat after the exit); one contract note
    (NFO) per account: each component summed, rounded half-up once; STT to the rupee."""
    out = {}
    for client in sorted({o.client_id for o in orders}):
        mine = [o for o in orders if o.client_id == client and o.filled_quantity > 0]
        value = {o.order_key: sum(Decimal(f.quantity) * f.price for f in o.fills) for o in mine}
        sells = sum(value[o.order_key] for o in mine if o.transaction_type.value == "SELL")
        buys = sum(value[o.order_key] for o in mine if o.transaction_type.value == "BUY")
        turnover = sells + buys
        if client == "ZERODHA123":  # Zerodha: flat Rs 20 per executed order
            brokerage = Decimal(20) * len(mine)
        else:  # Angel One: Rs 20 or 0.25% of the order's premium, whichever is lower
            brokerage = sum(min(Decimal(20), value[o.order_key] * Decimal("0.0025")) for o in mine)
        exchange = turnover * Decimal("35.03") / Decimal(100000)  # NSE Rs 35.03 per lakh
        sebi = turnover * Decimal(10) / Decimal(10**7)  # Rs 10 per crore
        gst = Decimal("0.18") * (brokerage + exchange + sebi)
        note = {
            "brokerage": _paisa(brokerage), "stt": _paisa(sells * Decimal("0.001"), "1"),
            "exchange_txn": _paisa(exchange), "ipft": _paisa(turnover * Decimal("0.50") / Decimal(100000)),
            "sebi": _paisa(sebi), "stamp_duty": _paisa(buys * Decimal(300) / Decimal(10**7)), "gst": _paisa(gst),
        }
        note["total"] = sum(note.values())
        out[client] = {"gross": sells - buys, "charges": note, "net": sells - buys - note["total"], "turnover": turnover}
    return out


def test_daily_report_after_a_trading_morning_equals_the_hand_computation(morning, api, engine):
    user_id, strategy_id, _ = morning
    orders = [o for o in (engine.repos.orders.get(user_id, i["order_key"])
                          for i in engine.repos.orders.table.query_all(user_id, "ORDER#"))]
    assert len(orders) == 16 and all(o.filled_quantity == o.quantity for o in orders)
    expected = hand_computation(orders)
    # the seeded market's fills (seed 17): iron condor, 1/1/4/4 lots at Angel, 3/3/1/1 at Zerodha
    assert expected["ANGELONE456"]["gross"] == Decimal("2281.50")
    assert expected["ZERODHA123"]["gross"] == Decimal("910.00")
    assert expected["ZERODHA123"]["charges"]["total"] == Decimal("201.65")

    status, report = api("GET", "/options/reports/daily", query={"date": "2026-08-17"})
    assert status == 200, report
    assert [a["client_id"] for a in report["accounts"]] == ["ANGELONE456", "ZERODHA123"]
    for row in report["accounts"]:
        hand = expected[row["client_id"]]
        assert Decimal(row["gross"]) == hand["gross"]
        assert {k: Decimal(v) for k, v in row["charges"].items()} == hand["charges"]
        assert Decimal(row["net"]) == hand["net"]
        assert Decimal(row["turnover"]) == hand["turnover"]
        assert row["executed_orders"] == 8 and row["warnings"] == []
    assert report["accounts"][0]["broker"] == "angel" and report["accounts"][1]["broker"] == "zerodha"
    total_net = sum(h["net"] for h in expected.values())
    assert Decimal(report["total"]["net"]) == total_net == Decimal("2922.30")
    assert {e["status"] for e in report["executions"]} == {"COMPLETED"} and len(report["executions"]) == 2

    # the same day through P&L, performance and the month
    status, pnl = api("GET", "/options/pnl", query={"from_date": "2026-08-17", "to_date": "2026-08-17"})
    assert status == 200 and Decimal(pnl["total"]["net"]) == total_net and pnl["open_positions"] == 0
    assert [d["date"] for d in pnl["days"]] == ["2026-08-17"]
    status, perf = api("GET", "/options/performance", query={"from_date": "2026-08-01"})
    assert status == 200 and Decimal(perf["total_net"]) == total_net and perf["win_rate"] == "1.0000"
    assert {a["client_id"]: Decimal(a["total_net"]) for a in perf["accounts"]} == \
        {c: h["net"] for c, h in expected.items()}
    status, month = api("GET", "/options/reports/monthly", query={"month": "2026-08"})
    assert status == 200 and Decimal(month["total"]["net"]) == total_net and len(month["rows"]) == 2


def test_reports_as_csv(morning, engine):
    user_id, _, _ = morning

    def get_csv(path, query):
        event = build_event("GET", path, query=query, headers={"Accept": "text/csv"},
                            claims={"sub": user_id, "cognito:username": user_id})
        response = invoke(event)
        assert response["statusCode"] == 200, response
        headers = {k.lower(): (v[-1] if isinstance(v, list) else v)
                   for k, v in {**response.get("multiValueHeaders", {}), **(response.get("headers") or {})}.items()}
        assert headers["content-type"].startswith("text/csv")
        assert "attachment" in headers["content-disposition"]
        return list(csv.DictReader(io.StringIO(response["body"])))

    rows = get_csv("/options/reports/daily", {"date": "2026-08-17"})
    assert [r["client_id"] for r in rows] == ["ANGELONE456", "ZERODHA123", "TOTAL"]
    zerodha = rows[1]
    assert (zerodha["gross"], zerodha["charges_total"], zerodha["net"]) == ("910.00", "201.65", "708.35")
    assert zerodha["charges_brokerage"] == "160.00" and zerodha["charges_stt"] == "7.00"
    assert rows[2]["net"] == "2922.30"
    monthly = get_csv("/options/reports/monthly", {"month": "2026-08"})
    assert [(r["date"], r["client_id"]) for r in monthly] == [("2026-08-17", "ANGELONE456"), ("2026-08-17", "ZERODHA123"),
                                                               ("2026-08", "TOTAL")]
    # without the header the same route answers JSON
    response = invoke(build_event("GET", "/options/reports/daily", query={"date": "2026-08-17"},
                                  claims={"sub": user_id}))
    assert json.loads(response["body"])["date"] == "2026-08-17"


def test_orders_list_filters_and_cursor(morning, api):
    user_id, strategy_id, _ = morning
    seen, cursor, pages = [], None, 0
    while True:
        query = {"from_date": "2026-08-17", "to_date": "2026-08-17", "limit": "5"}
        if cursor:
            query["cursor"] = cursor
        status, page = api("GET", "/options/orders", query=query)
        assert status == 200, page
        seen += [item["order_id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert pages == 4 and len(seen) == len(set(seen)) == 16
    # filters: one account's orders, status, strategy
    status, page = api("GET", "/options/orders", query={"from_date": "2026-08-17", "client_id": "ZERODHA123"})
    assert status == 200 and len(page["items"]) == 8 and {i["order"]["client_id"] for i in page["items"]} == {"ZERODHA123"}
    assert all(i["charges"]["brokerage"] == "20.00" for i in page["items"])
    status, page = api("GET", "/options/orders", query={"from_date": "2026-08-17", "status": "REJECTED"})
    assert status == 200 and page["items"] == []
    status, page = api("GET", "/options/orders", query={"from_date": "2026-08-17", "status": "NOPE"})
    assert status == 422
    status, page = api("GET", "/options/orders", query={"strategy_id": strategy_id, "from_date": "2026-08-10"})
    assert len(page["items"]) == 16
    # a cursor is bound to its filters; garbage is refused
    status, first = api("GET", "/options/orders", query={"from_date": "2026-08-17", "limit": "5"})
    status, body = api("GET", "/options/orders", query={"from_date": "2026-08-16", "limit": "5", "cursor": first["next_cursor"]})
    assert status == 422 and body["detail"][0]["loc"][-1] == "cursor"
    assert api("GET", "/options/orders", query={"cursor": "not-a-cursor"})[0] == 422
    assert api("GET", "/options/orders", query={"from_date": "2026-08-18", "to_date": "2026-08-17"})[0] == 422


def test_order_detail_with_history_and_fills_and_live_orders(morning, api):
    status, page = api("GET", "/options/orders", query={"from_date": "2026-08-17", "limit": "1"})
    order_id = page["items"][0]["order_id"]
    status, detail = api("GET", f"/options/orders/{order_id}")
    assert status == 200, detail
    order = detail["order"]
    assert order["status"] == "FILLED" and order["status_history"] and order["fills"]
    assert sum(f["quantity"] for f in order["fills"]) == order["filled_quantity"]
    assert detail["charges"] is not None and detail["trade_date"] == "2026-08-17"
    status, live = api("GET", "/options/orders/live")
    assert status == 200 and live["items"] == []  # everything filled and exited


def test_strategy_and_basket_scopes(morning, api):
    user_id, strategy_id, basket_id = morning
    status, pnl = api("GET", f"/options/pnl/{strategy_id}", query={"from_date": "2026-08-17"})
    assert status == 200 and pnl["strategy_id"] == strategy_id
    assert Decimal(pnl["total"]["gross"]) == Decimal("3191.50")
    status, perf = api("GET", f"/options/performance/strategies/{strategy_id}", query={"from_date": "2026-08-17"})
    assert status == 200 and Decimal(perf["total_gross"]) == Decimal("3191.50") and perf["days_traded"] == 1
    status, perf_b = api("GET", f"/options/performance/baskets/{basket_id}", query={"from_date": "2026-08-17"})
    assert status == 200 and perf_b["total_net"] == perf["total_net"]


def test_dashboard_of_the_day(morning, api):
    status, board = api("GET", "/options/executions/dashboard")
    assert status == 200, board
    assert board["date"] == "2026-08-17"
    assert sorted(e["execution_type"] for e in board["completed"]) == ["ENTRY", "EXIT"]
    assert board["due"] == [] and board["failed"] == [] and board["open_positions"] == [] and board["mtm"] == "0.00"


def test_tenant_isolation(morning, api):
    user_id, strategy_id, basket_id = morning
    status, page = api("GET", "/options/orders", query={"from_date": "2026-08-17"})
    order_id = page["items"][0]["order_id"]
    assert api("GET", f"/options/orders/{order_id}", user="user-b")[0] == 404
    assert api("GET", "/options/orders", query={"from_date": "2026-08-17"}, user="user-b")[1]["items"] == []
    assert api("GET", f"/options/pnl/{strategy_id}", user="user-b")[0] == 404
    assert api("GET", f"/options/performance/strategies/{strategy_id}", user="user-b")[0] == 404
    assert api("GET", f"/options/performance/baskets/{basket_id}", user="user-b")[0] == 404
    status, report = api("GET", "/options/reports/daily", query={"date": "2026-08-17"}, user="user-b")
    assert status == 200 and report["accounts"] == [] and report["total"]["net"] == "0.00"
    status, board = api("GET", "/options/executions/dashboard", user="user-b")
    assert status == 200 and board["completed"] == []


@pytest.mark.parametrize("path", ROUTES)
def test_every_route_needs_an_authenticated_user(repos, api, path):
    status, body = api("GET", path, user=None)
    assert status == 401, (path, body)
