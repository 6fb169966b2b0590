"""The strategy preview resolves the seed's iron condor through the engine's own Resolve code:
the contracts it shows are the ones the entry then trades; per-account quantities and slices,
risk, margin (Kite basket margins for a LIVE Zerodha account, a labelled approximation for
paper); problems listed; another user's strategy is 404."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from decimal import Decimal

from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import ExecutionType
from shared_utils.persistence import keys
from tests.conftest import SHARED
from tests.functional.engine.conftest import due_event
from tests.functional.market_api.test_market_routes import QuotingClient

MONDAY = {"date": "2026-08-17", "time": "09:30"}


def test_preview_shows_the_contracts_the_entry_then_trades(market_api, seed_strategy):
    user_id, strategy_id = seed_strategy
    engine = market_api.engine
    status, preview = market_api("GET", f"/options/strategies/{strategy_id}/preview", query=MONDAY)
    assert status == 200, preview
    assert preview["executable"] is True and preview["problems"] == [], preview["problems"]
    assert preview["execute_at"] == "2026-08-17T04:00:00.000Z" and preview["resolved_at"] == "2026-08-17T03:58:05.000Z"  # now: inside the lookahead, as Prepare
    shown = {leg["leg_no"]: leg["tradingsymbol"] for leg in preview["legs"]}
    assert len(shown) == 4 and all(s.startswith("NIFTY26818") for s in shown.values())
    accounts = {a["client_id"]: a for a in preview["accounts"]}
    assert {no: leg["lots"] for no, leg in ((l["leg_no"], l) for l in accounts["ZERODHA123"]["legs"])} == {1: 3, 2: 3, 3: 1, 4: 1}
    assert accounts["ZERODHA123"]["orders_in_sending_order"][0].startswith("BUY")  # hedges first
    for account in accounts.values():
        assert account["margin"]["source"] == "approximation" and "APPROXIMATION" in account["margin"]["description"]
        assert account["risk"]["max_loss"] != "unlimited" and Decimal(account["risk"]["net_premium"]) != 0
    assert preview["total"]["greeks_units"]["theta"] == "rupees per calendar day"
    assert preview["quote"]["kind"] == "simulator" and preview["quote"]["stale"] is False

    # nothing was written: no execution, no order
    execution_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, date(2026, 8, 17))
    assert engine.repos.orders.list_for_execution(user_id, execution_id) == []

    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    assert summary["status"] == "COMPLETED", summary
    orders = engine.repos.orders.list_for_execution(user_id, execution_id)
    traded = {o.leg_no: o.tradingsymbol for o in orders}
    assert traded == shown
    for order in orders:
        planned = next(l for l in accounts[order.client_id]["legs"] if l["leg_no"] == order.leg_no)
        assert order.quantity == planned["quantity"]
        # the limit price is refreshed 400 ms before the second (one batched LTP call): the same
        # distance from the LTP the preview showed (issue 14 "at the end refresh only prices")
        shown_leg = next(l for l in preview["legs"] if l["leg_no"] == order.leg_no)
        assert Decimal(shown_leg["limit_price"]) == Decimal(planned["limit_price"])
        shown_ratio = Decimal(planned["limit_price"]) / Decimal(shown_leg["ltp"])
        assert abs(order.price - order.ltp_at_decision * shown_ratio) <= order.tick_size, (order.price, shown_leg)
    status, again = market_api("GET", f"/options/strategies/{strategy_id}/preview", query=MONDAY)
    assert status == 200 and again["executable"] is False
    assert any("already claimed" in p and "COMPLETED" in p for p in again["problems"]), again["problems"]
    execution = engine.repos.executions.get_by_id(user_id, execution_id)
    assert {l.leg_no: str(l.ltp) for l in execution.resolved_legs} == {l["leg_no"]: l["ltp"] for l in preview["legs"]}


def test_preview_lists_problems_and_is_tenant_isolated(market_api):
    from tests.functional.api.journey import run_journey

    _, strategy_id = run_journey(market_api, link=market_api.link)  # the seed leaves delta_value out
    status, preview = market_api("GET", f"/options/strategies/{strategy_id}/preview", query=MONDAY)
    assert status == 200 and preview["executable"] is False
    assert any("delta_value" in p for p in preview["problems"])
    status, late = market_api("GET", f"/options/strategies/{strategy_id}/preview", query={"date": "2026-08-15", "time": "10:00"})
    assert status == 200 and any("not a trading day" in p for p in late["problems"])
    assert any("in the past" in p for p in late["problems"])
    assert market_api("GET", f"/options/strategies/{strategy_id}/preview", user="user-b")[0] == 404
    status, bad = market_api("GET", f"/options/strategies/{strategy_id}/preview", query={"date": "2026-08-17", "time": "9h30"})
    assert status == 422 and bad["detail"][0]["loc"] == ["query", "time"]


class KiteSession:
    """The KiteConnect object of a LIVE account: basket margins from Kite's documented sample."""

    def __init__(self):
        self.calls = []

    def basket_order_margins(self, params, consider_positions=True, mode=None):
        self.calls.append((params, consider_positions, mode))
        sample = json.loads((SHARED / "reference/broker-samples/kite/basket_margins.json").read_text())
        return sample["data"]


def test_live_zerodha_margin_comes_from_kite_basket_margins(market_api, seed_strategy):
    from shared_utils.execution.clients import RoutingClientProvider, StaticClientProvider
    from shared_utils.execution.market_data import BrokerMarketData
    from shared_utils.models.enums import TradingMode
    from shared_utils.services import market_status

    user_id, strategy_id = seed_strategy
    engine = market_api.engine
    account = engine.repos.accounts.get(user_id, "ZERODHA123")
    engine.repos.accounts.save(account.model_copy(update={"trading_mode": TradingMode.LIVE}), account.version)
    live = QuotingClient(engine, timedelta(seconds=1))
    live.kite = KiteSession()
    ctx = dataclasses.replace(engine, market=BrokerMarketData(live, engine.master, account="market-data account u/KITE1"),
                              clients=RoutingClientProvider(engine.paper, StaticClientProvider({"ZERODHA123": live})))
    market_status.set_api_context(ctx)
    status, preview = market_api("GET", f"/options/strategies/{strategy_id}/preview", query=MONDAY)
    assert status == 200, preview
    assert preview["quote"]["kind"] == "broker" and preview["quote"]["age_s"] == 1
    assert any("current quotes" in n for n in preview["notes"])
    accounts = {a["client_id"]: a for a in preview["accounts"]}
    margin = accounts["ZERODHA123"]["margin"]
    assert margin == {"source": "broker", "description": "Kite basket margins (consider_positions=true)",
                      "required": "34786.73", "initial": "96504.98", "span": "7788.00", "exposure": "29151.23",
                      "option_premium": "-2152.50"}
    ((params, consider, _),) = live.kite.calls
    assert consider is True and [p["transaction_type"] for p in params] == ["BUY", "BUY", "SELL", "SELL"]
    assert accounts["ANGELONE456"]["margin"]["source"] == "approximation"



def test_preview_names_the_kill_switch(market_api, seed_strategy):
    user_id, strategy_id = seed_strategy
    market_api.repos.controls.set_kill_switch(True, "broker outage drill", user_id=user_id)
    status, preview = market_api("GET", f"/options/strategies/{strategy_id}/preview", query=MONDAY)
    assert status == 200 and preview["executable"] is False
    assert any("kill switch is on: broker outage drill" in p for p in preview["problems"]), preview["problems"]


def test_preview_slices_above_the_freeze_limit_like_the_planner(market_api, seed_strategy):
    user_id, strategy_id = seed_strategy
    overrides = {"1": {"lots": 40, "enabled": True}, "2": {"lots": 40, "enabled": True},
                 "3": {"lots": 1, "enabled": True}, "4": {"lots": 1, "enabled": True}}
    status, body = market_api("PUT", f"/options/strategies/{strategy_id}/allocations/ZERODHA123",
                              {"allocation_config": {"type": "LEG_LEVEL", "leg_overrides": overrides},
                               "risk_limits": {"max_position_value": 5000000}})
    assert status == 200, body
    status, preview = market_api("GET", f"/options/strategies/{strategy_id}/preview", query=MONDAY)
    assert status == 200, preview
    zerodha = next(a for a in preview["accounts"] if a["client_id"] == "ZERODHA123")
    leg1 = next(l for l in zerodha["legs"] if l["leg_no"] == 1)
    # 40 lots x 65 = 2600 units; NIFTY freeze 1800 (config/market/freeze) -> 27 lots + 13 lots
    assert leg1["quantity"] == 2600 and [s["quantity"] for s in leg1["slices"]] == [1755, 845]
    assert [s["lots"] for s in leg1["slices"]] == [27, 13]
    status, body = market_api("PUT", f"/options/strategies/{strategy_id}/allocations/ZERODHA123",
                              {"risk_limits": {"max_position_value": 1000}})
    assert status == 200, body
    preview = market_api("GET", f"/options/strategies/{strategy_id}/preview", query=MONDAY)[1]
    assert preview["executable"] is False
    assert any("ZERODHA123: position value" in p and "max_position_value" in p for p in preview["problems"])
