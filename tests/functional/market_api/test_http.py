"""The market, calculator and preview routes over HTTP on the local platform (moto server, Cognito
tokens verified by the local API server) with the 2026-08-18 master and the engine's context."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from shared_utils.clock import IST, FixedClock
from shared_utils.models.broker_account import BrokerAccount
from tests.functional.api.journey import complete_legs, run_journey
from tests.integration.conftest import local_stack  # noqa: F401 - fixture

pytestmark = pytest.mark.slow


@pytest.fixture
def engine(local_stack):  # noqa: F811
    from shared_utils.execution.clients import PaperClientProvider, RoutingClientProvider
    from shared_utils.execution.context import EngineContext, SimulatorMarketData
    from shared_utils.execution.events import InMemoryPublisher
    from shared_utils.market.calendar import default_calendar
    from shared_utils.market.simulator import MarketSimulator
    from shared_utils.persistence.repositories import Repositories
    from shared_utils.services import market_status
    from shared_utils.services.market_data import instrument_master

    clock = FixedClock(datetime(2026, 8, 17, 9, 28, 5, tzinfo=IST))
    master = instrument_master()
    simulator = MarketSimulator(master, seed=17, spots={"NIFTY": Decimal("24850")}, clock=clock)
    market = SimulatorMarketData(simulator)
    ctx = EngineContext(repos=Repositories.for_environment(local_stack.env), env=local_stack.env, clock=clock,
                        calendar=default_calendar(), master=master, market=market,
                        clients=RoutingClientProvider(PaperClientProvider(market.ltp, master, now=clock.now)),
                        publisher=InMemoryPublisher())
    market_status.set_api_context(ctx)
    yield ctx
    market_status.set_api_context(None)


def test_market_routes_over_http(local_stack, engine):
    http = local_stack.http
    token = local_stack.token("chain@example.com")
    assert http("GET", "/options/option-chain/NIFTY/2026-08-18")[0] == 401
    status, chain = http("GET", "/options/option-chain/NIFTY/2026-08-18", token=token)
    assert status == 200, chain
    strikes = [Decimal(r["strike"]) for r in chain["rows"]]
    assert {b - a for a, b in zip(strikes, strikes[1:])} == {Decimal(50)}
    (atm,) = [r for r in chain["rows"] if r["atm"]]
    assert abs(Decimal(atm["strike"]) - Decimal(chain["spot"])) <= 25
    assert chain["quote"]["kind"] == "simulator" and chain["quote"]["stale"] is False
    status, bad = http("GET", "/options/option-chain/NIFTY/2026-08-20", token=token)
    assert status == 422 and bad["detail"][0]["loc"] == ["path", "expiry"]
    legs = [{"side": s, "lots": 1, "underlying": "NIFTY", "expiry": "2026-08-18", "strike": k, "option_type": t, "premium": p}
            for s, k, t, p in (("SELL", 24700, "PE", 40), ("BUY", 24500, "PE", 15), ("SELL", 25300, "CE", 35),
                               ("BUY", 25500, "CE", 10))]
    status, calc = http("POST", "/options/calculator/breakeven", {"legs": legs}, token=token)
    assert status == 200 and calc["breakevens"] == [24650.0, 25350.0] and calc["max_loss"] == "9750.00"
    status, bad = http("POST", "/options/calculator/greeks", {"legs": [{**legs[0], "lots": 0}]}, token=token)
    assert status == 422 and bad["detail"][0]["loc"] == ["body", "legs", 0, "lots"]
    for path in ("/options/market/status", "/options/market/holidays", "/options/expiry-calendar/NIFTY",
                 "/options/market-data/NIFTY", "/options/strikes/NIFTY", "/options/volatility/NIFTY"):
        assert http("GET", path, token=token)[0] == 200, path


def test_preview_over_http_matches_the_entry(local_stack, engine):
    from shared_utils.execution.emitter import run_emitter
    from shared_utils.execution.events import EXECUTION_DUE
    from shared_utils.execution.runner import run_state_machine
    from shared_utils.models.enums import ExecutionType
    from shared_utils.persistence import keys

    email = "preview@example.com"
    token, user_id = local_stack.token(email), local_stack.sub(email)
    for client_id, broker in (("ZERODHA123", "zerodha"), ("ANGELONE456", "angel")):
        if engine.repos.accounts.find(user_id, client_id) is None:
            engine.repos.accounts.create(BrokerAccount(user_id=user_id, client_id=client_id, broker=broker))

    def call(method, path, body, user):
        return local_stack.http(method, path, body, token=token)

    _, strategy_id = run_journey(call)
    complete_legs(call, strategy_id)
    assert call("PUT", f"/options/strategies/{strategy_id}", {"entry_time": "09:30", "exit_time": "15:20"}, None)[0] == 200
    status, preview = local_stack.http("GET", f"/options/strategies/{strategy_id}/preview", token=token,
                                       query="date=2026-08-17&time=09:30")
    assert status == 200 and preview["executable"] is True, preview
    other = local_stack.token("someone-else@example.com")
    assert local_stack.http("GET", f"/options/strategies/{strategy_id}/preview", token=other)[0] == 404

    run_emitter(engine)
    events = [d for _, _, d in engine.publisher.drain(EXECUTION_DUE) if d["execution_type"] == "ENTRY"]
    event = next(e for e in events if {"user_id": user_id, "strategy_id": strategy_id} in e["strategies"])
    event = {**event, "strategies": [{"user_id": user_id, "strategy_id": strategy_id}]}
    (summary,) = run_state_machine(event, engine)["results"]
    assert summary["status"] == "COMPLETED", summary
    orders = engine.repos.orders.list_for_execution(user_id, keys.execution_id(strategy_id, ExecutionType.ENTRY, date(2026, 8, 17)))
    assert {o.leg_no: o.tradingsymbol for o in orders} == {l["leg_no"]: l["tradingsymbol"] for l in preview["legs"]}
