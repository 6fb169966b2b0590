"""Actions on orders, executions and positions over the real handlers (moto tables, paper brokers,
the seeded market) after the seed's iron condor entered at 09:30 on Mon 17 Aug 2026 and its
stops were placed at the broker (issue 18): cancel a resting stop, modify another, refusals with
their reasons, the kill switch, close one position mid-day through the exit path, cancel pending
executions, then the day's report equal to a hand computation."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from shared_utils.clock import IST, default_clock, set_default_clock
from shared_utils.execution.events import set_default_publisher
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import ExecutionType, OrderPurpose, OrderStatus
from shared_utils.services.market_status import set_api_context
from tests.functional.engine.conftest import due_event, engine, seed_strategy  # noqa: F401


@pytest.fixture
def wired(engine, api):  # noqa: F811
    """The API answers from the engine's context (clock, market, paper brokers)."""
    previous = default_clock()
    set_default_clock(engine.clock)
    set_default_publisher(engine.publisher)
    set_api_context(engine)
    yield engine
    set_api_context(None)
    set_default_clock(previous)
    set_default_publisher(None)


@pytest.fixture
def morning(wired, seed_strategy, api):  # noqa: F811
    """Entry at 09:30, then the poller places the stops; the clock at 10:00. Returns
    (user_id, strategy_id)."""
    engine = wired
    user_id, strategy_id = seed_strategy
    assert api("PUT", f"/options/strategies/{strategy_id}", {"exit_days": ["MONDAY"]})[0] == 200
    (entry,) = due_event(engine)
    assert run_state_machine(entry, engine)["results"][0]["status"] == "COMPLETED"
    engine.clock.set(datetime(2026, 8, 17, 9, 31, tzinfo=IST))
    run_order_poller(engine)
    engine.clock.set(datetime(2026, 8, 17, 10, 0, tzinfo=IST))
    return user_id, strategy_id


def _orders(engine, user_id, purpose=None):
    items = engine.repos.orders.table.query_all(user_id, "ORDER#")
    orders = [engine.repos.orders.get(user_id, i["sort_key"]) for i in items]
    return [o for o in orders if purpose is None or o.purpose is purpose]


def _stop(engine, user_id, client_id, leg_no):
    return next(o for o in _orders(engine, user_id, OrderPurpose.STOP_LOSS)
                if o.client_id == client_id and o.leg_no == leg_no)


def test_live_positions_show_ltp_mtm_and_the_stop_at_the_broker(morning, api, wired):
    user_id, strategy_id = morning
    status, live = api("GET", "/options/positions/live", query={"strategy_id": strategy_id})
    assert status == 200, live
    assert len(live["items"]) == 8 and live["warnings"] == []
    for item in live["items"]:
        assert item["ltp_source"] == "market" and item["ltp"] is not None
        expected = (Decimal(item["ltp"]) - Decimal(item["average_price"])) * item["quantity"]
        assert Decimal(item["unrealised_pnl"]) == expected
        assert item["stop"] is not None and item["stop"]["source"] == "broker"
        assert item["stop"]["status"] in ("OPEN", "TRIGGER_PENDING")  # paper reports a resting SL as OPEN
        assert item["stop"]["quantity"] == abs(item["quantity"])
        assert item["position_id"] == f"{strategy_id}~{item['client_id']}~{item['tradingsymbol']}"
    assert Decimal(live["total_mtm"]) == sum(Decimal(i["mtm"]) for i in live["items"])
    # the plain list carries the same ids, filtered by strategy
    status, listed = api("GET", "/options/positions", query={"strategy_id": strategy_id})
    assert status == 200 and {p["position_id"] for p in listed["items"]} == {i["position_id"] for i in live["items"]}
    assert api("GET", "/options/positions", query={"strategy_id": "stg_other"})[1]["items"] == []


def test_cancel_a_resting_stop_then_a_second_cancel_is_refused_as_final(morning, api, wired):
    user_id, _ = morning
    stop = _stop(wired, user_id, "ZERODHA123", 1)
    assert stop.status is OrderStatus.TRIGGER_PENDING
    status, body = api("POST", f"/options/orders/{stop.tag}/cancel")
    assert status == 200, body
    assert body["status"] == "CANCELLED" and body["action"] == "CANCEL" and body["purpose"] == "STOP_LOSS"
    assert body["warnings"] == [f"ZERODHA123 leg 1 {stop.tradingsymbol} has no stop at the broker now; "
                                "the platform does not place it again"]
    stored = wired.repos.orders.get(user_id, stop.order_key)
    assert stored.status is OrderStatus.CANCELLED
    assert stored.status_history[-1]["action"] == "CANCEL" and stored.status_history[-1]["by"]
    at_broker = wired.clients.client_for(wired.repos.accounts.get(user_id, "ZERODHA123")).order_status(
        stop.broker_order_id)
    assert at_broker.status is OrderStatus.CANCELLED
    status, again = api("POST", f"/options/orders/{stop.tag}/cancel")
    assert status == 409 and "final order cannot be cancelled" in again["message"], again
    # the poller does not put the cancelled stop back
    wired.clock.advance(timedelta(minutes=1))
    run_order_poller(wired)
    assert wired.repos.orders.get(user_id, stop.order_key).status is OrderStatus.CANCELLED
    status, trail = api("GET", "/options/audit")
    assert status == 200, trail
    assert [(i["action"], i["target"], i["outcome"]) for i in trail["items"]] == [("CANCEL_ORDER", stop.tag, "CANCELLED")]
    assert trail["items"][0]["actor"] == "user-a" and trail["items"][0]["at"].startswith("2026-08-17T")
    assert api("GET", "/options/audit", user="user-b")[1]["items"] == []


def test_modify_a_stop_within_the_broker_rules(morning, api, wired):
    user_id, _ = morning
    stop = _stop(wired, user_id, "ANGELONE456", 3)  # a BUY stop-limit protecting the short call
    assert stop.order_type.value == "SL" and stop.transaction_type.value == "BUY"
    tighter_trigger = stop.trigger_price - Decimal("1.00")
    tighter_price = stop.price - Decimal("1.00")
    status, body = api("POST", f"/options/orders/{stop.tag}/modify",
                       {"trigger_price": float(tighter_trigger), "price": float(tighter_price)})
    assert status == 200, body
    assert Decimal(body["trigger_price"]) == tighter_trigger and Decimal(body["price"]) == tighter_price
    report = wired.clients.client_for(wired.repos.accounts.get(user_id, "ANGELONE456")).order_status(
        stop.broker_order_id)
    assert report.trigger_price == tighter_trigger and report.price == tighter_price
    stored = wired.repos.orders.get(user_id, stop.order_key)
    assert stored.trigger_price == tighter_trigger and "modified by" in stored.status_history[-1]["message"]

    # the broker's rules, each refused with its reason before anything is sent
    status, off_tick = api("POST", f"/options/orders/{stop.tag}/modify", {"price": float(tighter_price + Decimal("0.03"))})
    assert status == 409 and any("tick size 0.05" in r for r in off_tick["reasons"]), off_tick
    status, wrong_side = api("POST", f"/options/orders/{stop.tag}/modify",
                             {"trigger_price": float(tighter_price + Decimal("1.00"))})
    assert status == 409 and any("trigger_price <= price" in r for r in wrong_side["reasons"]), wrong_side
    status, lots = api("POST", f"/options/orders/{stop.tag}/modify", {"quantity": stop.quantity + 1})
    assert status == 409 and any("lot size 65" in r for r in lots["reasons"]), lots
    status, more = api("POST", f"/options/orders/{stop.tag}/modify", {"quantity": stop.quantity + 65})
    assert status == 409 and any("would close more than" in r for r in more["reasons"]), more
    status, nothing = api("POST", f"/options/orders/{stop.tag}/modify", {})
    assert status == 422
    status, text = api("POST", f"/options/orders/{stop.tag}/modify", {"price": "12.50"})
    assert status == 422  # a price is a JSON number
    # an entry order that filled is final
    entry = next(o for o in _orders(wired, user_id, OrderPurpose.ENTRY) if o.client_id == "ANGELONE456")
    status, final = api("POST", f"/options/orders/{entry.tag}/modify", {"price": 10.0})
    assert status == 409 and "final order cannot be modified" in final["message"]


def test_kill_switch_refuses_a_riskier_modify_but_not_a_cancel(morning, api, wired):
    user_id, _ = morning
    assert api("PUT", "/options/kill-switch", {"on": True, "reason": "stop everything"})[0] == 200
    stop = _stop(wired, user_id, "ZERODHA123", 3)
    away = stop.trigger_price + Decimal("5.00")
    status, body = api("POST", f"/options/orders/{stop.tag}/modify",
                       {"trigger_price": float(away), "price": float(stop.price + Decimal("5.00"))})
    assert status == 409 and "kill switch" in body["message"], body
    assert any("moved away from the market" in r for r in body["reasons"])
    assert wired.repos.orders.get(user_id, stop.order_key).trigger_price == stop.trigger_price
    closer = stop.trigger_price - Decimal("0.50")
    status, body = api("POST", f"/options/orders/{stop.tag}/modify", {"trigger_price": float(closer)})
    assert status == 200 and Decimal(body["trigger_price"]) == closer, body  # tightening a stop reduces risk
    status, body = api("POST", f"/options/orders/{stop.tag}/cancel")
    assert status == 200 and body["status"] == "CANCELLED"


def test_orders_and_positions_of_a_running_exit_are_refused_with_the_reason(morning, api, wired):
    from shared_utils.execution.steps import prepare

    user_id, strategy_id = morning
    wired.clock.set(datetime(2026, 8, 17, 15, 18, 5, tzinfo=IST))
    (exit_,) = due_event(wired, slot="15:20", execution_type=ExecutionType.EXIT)
    prepare(exit_, wired)  # the exit is claimed: it cancels the stops and closes the legs itself
    stop = _stop(wired, user_id, "ZERODHA123", 1)
    status, body = api("POST", f"/options/orders/{stop.tag}/modify", {"trigger_price": float(stop.trigger_price - 1)})
    assert status == 409 and "exit" in body["message"] and "is running (CLAIMED)" in body["message"], body
    status, body = api("POST", f"/options/orders/{stop.tag}/cancel")
    assert status == 409 and "is running" in body["message"], body
    short = next(p for p in wired.repos.positions.list(user_id, strategy_id, "ZERODHA123") if p.leg_no == 1)
    status, body = api("POST", f"/options/positions/{strategy_id}~ZERODHA123~{short.tradingsymbol}/close")
    assert status == 409 and "is running (CLAIMED)" in body["message"], body
    assert wired.repos.orders.get(user_id, stop.order_key).status is OrderStatus.TRIGGER_PENDING


def test_close_one_position_mid_day_through_the_exit_path(morning, api, wired):
    user_id, strategy_id = morning
    short = next(p for p in wired.repos.positions.list(user_id, strategy_id, "ZERODHA123") if p.leg_no == 1)
    long_ = next(p for p in wired.repos.positions.list(user_id, strategy_id, "ZERODHA123") if p.leg_no == 2)
    assert short.quantity < 0 < long_.quantity
    # the long hedges the short: never sold alone (no naked short)
    status, body = api("POST", f"/options/positions/{strategy_id}~ZERODHA123~{long_.tradingsymbol}/close")
    assert status == 409 and "close the short first" in body["message"], body
    stop = _stop(wired, user_id, "ZERODHA123", 1)
    status, body = api("POST", f"/options/positions/{strategy_id}~ZERODHA123~{short.tradingsymbol}/close")
    assert status == 200, body
    assert body["quantity_before"] == short.quantity and body["quantity_after"] == 0
    assert body["cancelled_orders"] == [stop.tag]  # its stop first
    (closing,) = body["orders"]
    assert closing["transaction_type"] == "BUY" and closing["quantity"] == -short.quantity
    assert closing["status"] == "FILLED"
    stored = [o for o in _orders(wired, user_id, OrderPurpose.EXIT)]
    assert len(stored) == 1 and stored[0].attempt == 10 and "MANUAL_CLOSE" in stored[0].flags
    assert stored[0].execution_id == short.entry_execution_id
    entry = wired.repos.executions.get_by_id(user_id, short.entry_execution_id)
    assert any(r.startswith("manual close by") for r in entry.reasons)
    # now the long may go
    status, body = api("POST", f"/options/positions/{strategy_id}~ZERODHA123~{long_.tradingsymbol}/close")
    assert status == 200 and body["quantity_after"] == 0, body
    status, body = api("POST", f"/options/positions/{strategy_id}~ZERODHA123~{long_.tradingsymbol}/close")
    assert status == 409 and "already flat" in body["message"]
    # closing is allowed under a kill switch
    assert api("PUT", "/options/kill-switch", {"on": True, "reason": "risk off"})[0] == 200
    short_b = next(p for p in wired.repos.positions.list(user_id, strategy_id, "ANGELONE456") if p.leg_no == 1)
    status, body = api("POST", f"/options/positions/{strategy_id}~ANGELONE456~{short_b.tradingsymbol}/close")
    assert status == 200 and body["quantity_after"] == 0, body


def test_the_day_after_the_actions_reports_gross_charges_net_per_account_as_computed_by_hand(morning, api, wired):
    from tests.functional.analytics.test_analytics_api import hand_computation

    user_id, strategy_id = morning
    cancel = _stop(wired, user_id, "ANGELONE456", 1)
    assert api("POST", f"/options/orders/{cancel.tag}/cancel")[0] == 200
    modify = _stop(wired, user_id, "ZERODHA123", 3)
    assert api("POST", f"/options/orders/{modify.tag}/modify",
               {"trigger_price": float(modify.trigger_price - Decimal("1.00"))})[0] == 200
    short = next(p for p in wired.repos.positions.list(user_id, strategy_id, "ZERODHA123") if p.leg_no == 3)
    assert api("POST", f"/options/positions/{strategy_id}~ZERODHA123~{short.tradingsymbol}/close")[0] == 200
    wired.clock.set(datetime(2026, 8, 17, 15, 18, 5, tzinfo=IST))
    (exit_,) = due_event(wired, slot="15:20", execution_type=ExecutionType.EXIT)
    assert run_state_machine(exit_, wired)["results"][0]["status"] == "COMPLETED"
    wired.clock.set(datetime(2026, 8, 17, 16, 0, tzinfo=IST))
    assert all(p.quantity == 0 for p in wired.repos.positions.list(user_id, strategy_id))
    orders = _orders(wired, user_id)
    executed = [o for o in orders if o.filled_quantity]
    assert len(executed) == 16  # 8 entries, the manual close, 7 closing orders of the exit
    expected = hand_computation(orders)
    status, report = api("GET", "/options/reports/daily", query={"date": "2026-08-17"})
    assert status == 200, report
    for row in report["accounts"]:
        hand = expected[row["client_id"]]
        assert Decimal(row["gross"]) == hand["gross"]
        assert {k: Decimal(v) for k, v in row["charges"].items()} == hand["charges"]
        assert Decimal(row["net"]) == hand["net"]
    assert Decimal(report["total"]["net"]) == sum(h["net"] for h in expected.values())


# ---- cancelling executions ------------------------------------------------------------------

def test_cancel_an_execution_before_it_is_claimed(wired, seed_strategy, api):  # noqa: F811
    user_id, strategy_id = seed_strategy
    execution_id = f"{strategy_id}.20260817.E"
    status, body = api("POST", f"/options/executions/{execution_id}/cancel")
    assert status == 200 and body["status"] == "CANCELLED" and body["previous_status"] == "SCHEDULED", body
    (entry,) = due_event(wired)
    run_state_machine(entry, wired)
    assert _orders(wired, user_id) == []
    stored = wired.repos.executions.get_by_id(user_id, execution_id)
    assert stored.status.value == "CANCELLED" and "cancelled by" in stored.reasons[0]
    status, again = api("POST", f"/options/executions/{execution_id}/cancel")
    assert status == 409 and "already cancelled" in again["message"]
    assert api("POST", "/options/executions/stg_nope.20260817.E/cancel")[0] == 404
    assert api("POST", f"/options/executions/{execution_id}/cancel", user="user-b")[0] == 404


def test_an_exit_is_never_cancelled(wired, seed_strategy, api):  # noqa: F811
    user_id, strategy_id = seed_strategy
    status, body = api("POST", f"/options/executions/{strategy_id}.20260817.X/cancel")
    assert status == 409 and "exits are never cancelled" in body["message"], body
    assert wired.repos.executions.get(user_id, strategy_id, ExecutionType.EXIT,
                                      datetime(2026, 8, 17).date()) is None


def test_a_cancelled_entry_is_never_planned_again(wired, seed_strategy, api):  # noqa: F811
    """Since issue 14 an entry is resolved inside Prepare (intents exist before the Wait), so a
    trader's cancel finds it IN_PROGRESS and takes the placement claims; a Resolve that runs
    for it afterwards (a retried state) may re-plan, but no PlaceOrders sends anything, and
    Finalize reports CANCELLED."""
    from shared_utils.execution.placer import place_orders
    from shared_utils.execution.steps import finalize, prepare, resolve

    user_id, strategy_id = seed_strategy
    (entry,) = due_event(wired)
    state = prepare(entry, wired)
    assert len(state["work_items"]) == 2, "resolved in Prepare"
    execution_id = state["executions"][0]["execution_id"]
    status, body = api("POST", f"/options/executions/{execution_id}/cancel")
    assert status == 200 and body["previous_status"] == "IN_PROGRESS" and body["orders_not_sent"] == 8, body
    again = resolve({k: v for k, v in state.items() if k != "work_items"}, wired)
    placements = [place_orders(item, wired) for item in again["work_items"]]
    assert all(p["sent"] == 0 for p in placements), placements
    orders = _orders(wired, user_id)
    assert len(orders) == 8 and {o.status for o in orders} == {OrderStatus.NOT_SENT}
    result = finalize({**again, "placements": placements}, wired)
    assert result["results"][0]["status"] == "CANCELLED"


def test_cancel_after_planning_takes_the_placement_claims_and_409_once_sending_started(wired, seed_strategy, api):  # noqa: F811
    from shared_utils.execution.placer import place_orders
    from shared_utils.execution.steps import finalize, prepare, resolve

    user_id, strategy_id = seed_strategy
    (entry,) = due_event(wired)
    state = resolve(prepare(entry, wired), wired)
    execution_id = state["executions"][0]["execution_id"]
    assert len(state["work_items"]) == 2
    status, body = api("POST", f"/options/executions/{execution_id}/cancel")
    assert status == 200 and body["previous_status"] == "IN_PROGRESS", body
    assert body["orders_not_sent"] == 8 and body["accounts"] == ["ANGELONE456", "ZERODHA123"]
    placements = [place_orders(item, wired) for item in state["work_items"]]
    assert all(p["sent"] == 0 for p in placements)
    orders = _orders(wired, user_id)
    assert len(orders) == 8 and {o.status for o in orders} == {OrderStatus.NOT_SENT}
    assert all("cancelled by" in o.broker_message for o in orders)
    for client_id in ("ZERODHA123", "ANGELONE456"):
        client = wired.clients.client_for(wired.repos.accounts.get(user_id, client_id))
        assert client.order_book() == []
    result = finalize({**state, "placements": placements}, wired)
    assert result["results"][0]["status"] == "CANCELLED"


def test_cancel_refused_once_sending_started(wired, seed_strategy, api):  # noqa: F811
    user_id, strategy_id = seed_strategy
    (entry,) = due_event(wired)
    run_state_machine(entry, wired)
    execution_id = f"{strategy_id}.20260817.E"
    status, body = api("POST", f"/options/executions/{execution_id}/cancel")
    assert status == 409 and "already ended (COMPLETED)" in body["message"], body


def test_actions_are_tenant_isolated(morning, api, wired):
    user_id, strategy_id = morning
    stop = _stop(wired, user_id, "ZERODHA123", 1)
    position = next(p for p in wired.repos.positions.list(user_id, strategy_id) if p.quantity < 0)
    other = "user-b"
    assert api("POST", f"/options/orders/{stop.tag}/cancel", user=other)[0] == 404
    assert api("POST", f"/options/orders/{stop.tag}/modify", {"price": 1.0}, user=other)[0] == 404
    assert api("POST", f"/options/positions/{strategy_id}~{position.client_id}~{position.tradingsymbol}/close",
               user=other)[0] == 404
    assert api("POST", f"/options/executions/{strategy_id}.20260817.X/cancel", user=other)[0] == 404
    status, live = api("GET", "/options/positions/live", user=other)
    assert status == 200 and live["items"] == []
    assert wired.repos.orders.get(user_id, stop.order_key).status is OrderStatus.TRIGGER_PENDING


def test_what_increases_risk():
    """Entries open risk (more quantity, a more marketable price); closing orders remove it (less
    quantity, a trigger moved away, a less marketable limit leave more on)."""
    from shared_utils.models.enums import OrderType, Product, TransactionType
    from shared_utils.models.execution import OrderRecord
    from shared_utils.services.order_actions import ModifyChange, OrderActions

    def order(purpose, side, **kw):
        return OrderRecord(order_key="k", execution_id="s.20260817.E", user_id="u", strategy_id="s", client_id="c",
                           broker="paper", leg_no=1, purpose=purpose, tag="QX", exchange="NFO",
                           tradingsymbol="NIFTY2681824000PE", transaction_type=side, lots=2, lot_size=65,
                           quantity=130, product=Product.MIS, order_type=kw.pop("order_type", OrderType.LIMIT), **kw)

    risk = OrderActions.increases_risk
    sell_entry = order(OrderPurpose.ENTRY, TransactionType.SELL, price=Decimal("100"))
    assert risk(sell_entry, ModifyChange(quantity=195)) and risk(sell_entry, ModifyChange(price=Decimal("99")))
    assert not risk(sell_entry, ModifyChange(quantity=65)) and not risk(sell_entry, ModifyChange(price=Decimal("101")))
    buy_stop = order(OrderPurpose.STOP_LOSS, TransactionType.BUY, order_type=OrderType.SL, price=Decimal("157.5"),
                     trigger_price=Decimal("150"))
    assert risk(buy_stop, ModifyChange(trigger_price=Decimal("160"))) and risk(buy_stop, ModifyChange(quantity=65))
    assert risk(buy_stop, ModifyChange(price=Decimal("155")))  # a narrower buffer above the trigger
    assert not risk(buy_stop, ModifyChange(trigger_price=Decimal("140"), price=Decimal("147")))
    sell_stop = order(OrderPurpose.STOP_LOSS, TransactionType.SELL, order_type=OrderType.SL, price=Decimal("47.5"),
                      trigger_price=Decimal("50"))
    assert risk(sell_stop, ModifyChange(trigger_price=Decimal("45"))) and not risk(sell_stop, ModifyChange(
        trigger_price=Decimal("55"), price=Decimal("52.25")))
    exit_limit = order(OrderPurpose.EXIT, TransactionType.BUY, price=Decimal("120"))
    assert risk(exit_limit, ModifyChange(price=Decimal("110"))) and not risk(exit_limit, ModifyChange(price=Decimal("125")))
