"""Issue 20 "Done when", over HTTP on the local platform (moto server, the API server verifying
Cognito tokens, the engine the local platform runs: emitter + state machine on paper brokers):
an ADMIN publishes a basket, three traders subscribe with different accounts and multipliers,
one pauses; at the entry second exactly the two active subscribers' orders go out, each in
their own accounts with their own quantities; tenant isolation holds."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest

from shared_utils.clock import IST, FixedClock
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.enums import ExecutionType
from shared_utils.persistence import keys
from shared_utils.persistence.repositories import Repositories
from tests.functional.api.journey import complete_legs, run_journey

pytestmark = pytest.mark.slow

MONDAY_0928 = datetime(2026, 8, 17, 9, 28, 5, tzinfo=IST)
ADMIN = "admin@marketplace.example"
TRADERS = {"t1@marketplace.example": ["T1ZERODHA"], "t2@marketplace.example": ["T2ZERODHA", "T2ANGEL"],
           "t3@marketplace.example": ["T3ZERODHA"]}


def _engine(stack):
    """The local platform's engine over the stack's tables (LocalPlatform._build_engine, paper)."""
    from shared_utils.execution.clients import PaperClientProvider, RoutingClientProvider
    from shared_utils.execution.context import EngineContext, SimulatorMarketData
    from shared_utils.execution.events import InMemoryPublisher
    from shared_utils.market.calendar import default_calendar
    from shared_utils.market.simulator import MarketSimulator
    from shared_utils.services.market_data import instrument_master

    clock = FixedClock(MONDAY_0928)
    master = instrument_master()
    simulator = MarketSimulator(master, seed=17, clock=clock, spots={"NIFTY": Decimal("24850")})
    market = SimulatorMarketData(simulator)
    paper = PaperClientProvider(market.ltp, master, now=clock.now)
    return EngineContext(repos=Repositories.for_environment(stack.env), env=stack.env, clock=clock,
                         calendar=default_calendar(), master=master, market=market,
                         clients=RoutingClientProvider(paper, None), publisher=InMemoryPublisher())


def test_admin_basket_three_subscribers_one_paused(local_stack):
    http = local_stack.http
    repos = Repositories.for_environment(local_stack.env)
    local_stack.aws.ensure_user(local_stack.identity, ADMIN, "ADMIN")
    admin = local_stack.token(ADMIN)
    admin_sub = local_stack.sub(ADMIN)
    for client_id, broker in (("ZERODHA123", "zerodha"), ("ANGELONE456", "angel")):
        repos.accounts.create(BrokerAccount(user_id=admin_sub, client_id=client_id, broker=broker))
    tokens, subs = {}, {}
    for email, accounts in TRADERS.items():
        tokens[email], subs[email] = local_stack.token(email), local_stack.sub(email)
        for client_id in accounts:
            repos.accounts.create(BrokerAccount(user_id=subs[email], client_id=client_id, broker="zerodha"))

    def as_admin(method, path, body, user=None):
        return http(method, path, body, token=admin)

    basket_id, strategy_id = run_journey(as_admin)
    complete_legs(as_admin, strategy_id)
    assert as_admin("PUT", f"/options/strategies/{strategy_id}", {"entry_time": "09:30", "exit_time": "15:20"})[0] == 200
    # a trader may not publish; the admin may
    listing = {"basket_id": basket_id, "visibility": "PUBLIC", "category": "HEDGED", "risk_level": "MEDIUM",
               "subscription_config": {"min_capital": 200000, "max_subscribers": 3}}
    assert http("POST", "/options/marketplace/baskets", listing, token=tokens["t1@marketplace.example"])[0] == 403
    status, published = as_admin("POST", "/options/marketplace/baskets", listing)
    assert status == 201, published

    status, browse = http("GET", "/options/marketplace", token=tokens["t1@marketplace.example"], query="category=HEDGED")
    assert status == 200 and [c["basket_id"] for c in browse["items"]] == [basket_id]
    multipliers = {"T1ZERODHA": 1, "T2ZERODHA": 2, "T2ANGEL": 3, "T3ZERODHA": 4}
    subscriptions = {}
    for email, accounts in TRADERS.items():
        body = {"allocations": [{"client_id": c, "lot_multiplier": multipliers[c]} for c in accounts],
                "capital": 500000}
        status, subscription = http("POST", f"/options/baskets/{basket_id}/subscribe", body, token=tokens[email])
        assert status == 201, subscription
        subscriptions[email] = subscription["subscription_id"]
    status, paused = http("POST", f"/options/subscriptions/{subscriptions['t3@marketplace.example']}/pause", None,
                          token=tokens["t3@marketplace.example"])
    assert status == 200 and paused["status"] == "PAUSED"

    # the local platform's scheduler: the emitter two minutes ahead, then the state machine
    from shared_utils.execution.emitter import run_emitter
    from shared_utils.execution.events import EXECUTION_DUE
    from shared_utils.execution.runner import run_state_machine

    engine = _engine(local_stack)
    run_emitter(engine)
    events = [d for _, t, d in engine.publisher.drain(EXECUTION_DUE) if d["execution_type"] == "ENTRY"]
    for event in events:
        run_state_machine(event, engine)
    execution_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, date(2026, 8, 17))
    t1, t2, t3 = (subs[e] for e in TRADERS)
    orders = {u: engine.repos.orders.list_for_execution(u, execution_id) for u in (t1, t2, t3)}
    assert orders[t3] == [], "the paused subscriber sent nothing"
    assert {o.client_id for o in orders[t1]} == {"T1ZERODHA"} and len(orders[t1]) == 4
    assert {o.client_id for o in orders[t2]} == {"T2ZERODHA", "T2ANGEL"} and len(orders[t2]) == 8
    execute_at = datetime(2026, 8, 17, 9, 30, tzinfo=IST)
    for order in orders[t1] + orders[t2]:
        assert order.quantity == 2 * multipliers[order.client_id] * 65
        assert order.sent_at >= execute_at and order.status.value in ("OPEN", "FILLED")

    # over HTTP each trader sees their own execution and orders only
    for email, user in (("t1@marketplace.example", t1), ("t2@marketplace.example", t2)):
        status, answer = http("GET", f"/options/executions/{execution_id}", token=tokens[email])
        assert status == 200 and answer["execution"]["status"] == "COMPLETED", answer
        assert answer["execution"]["user_id"] == user, "each trader sees their own execution"
    status, answer = http("GET", f"/options/executions/{execution_id}", token=tokens["t3@marketplace.example"])
    assert status == 404
    # tenant isolation: the basket's definition is visible; no account but the caller's own
    t2_token = tokens["t2@marketplace.example"]
    for path in (f"/options/marketplace/baskets/{basket_id}", "/options/subscriptions",
                 f"/options/subscriptions/{subscriptions['t2@marketplace.example']}",
                 f"/options/executions/{execution_id}"):
        status, answer = http("GET", path, token=t2_token)
        assert status == 200, (path, answer)
        text = json.dumps(answer)
        for foreign in ("ZERODHA123", "ANGELONE456", "T1ZERODHA", "T3ZERODHA", admin_sub, t1, t3):
            assert foreign not in text, (path, foreign, text[max(0, text.find(foreign) - 300):text.find(foreign) + 100])
    assert http("GET", f"/options/subscriptions/{subscriptions['t1@marketplace.example']}", token=t2_token)[0] == 404
    status, detail = http("GET", f"/options/marketplace/baskets/{basket_id}", token=t2_token)
    assert detail["basket"]["subscriber_count"] == 3 and len(detail["strategies"][0]["legs"]) == 4
