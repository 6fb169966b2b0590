"""Issue 14 item 9 "request diet": DynamoDB requests per entry execution, per strategy-account,
counted by botocore's ``before-call.dynamodb`` event through the real ASL runner."""

from __future__ import annotations

from shared_utils.execution.asl_runner import run_events
from tests.functional.asl.ddb_count import install
from tests.functional.engine.conftest import due_event

#: the target: at most a third of the 55.5 measured before the diet
MAX_REQUESTS_PER_STRATEGY_ACCOUNT = 18


def test_entry_requests_per_strategy_account_and_none_during_sends(engine, seed_strategy, monkeypatch):
    (event,) = due_event(engine)
    log = install(monkeypatch, engine)
    run = run_events(event, engine, run_id="sfn-diet")
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    (result,) = run.output["results"]
    assert result["status"] == "COMPLETED"
    accounts = 2
    by_step = log.by_step()
    total = sum(by_step.values())
    print("by step", dict(by_step), "per strategy-account", total / accounts)
    for step in by_step:
        print(step, dict(log.operations(step)))
    assert None not in by_step, "a request outside any step"
    assert total / accounts <= MAX_REQUESTS_PER_STRATEGY_ACCOUNT, dict(by_step)
    # nothing but sends inside an account's bursts of sends; between the hedges (confirmed
    # FILLED) and the shorts exactly one request: the kill-switch re-read (I7, README Safety)
    assert log.during_sends() == {"ZERODHA123": 0, "ANGELONE456": 0}
    assert log.between_hedges_and_shorts() == {"ZERODHA123": ["BatchGetItem"], "ANGELONE456": ["BatchGetItem"]}


def test_entry_is_resolved_before_the_wait_and_the_map_starts_a_lead_ahead(engine, seed_strategy):
    """Issue 14 item 6: the contracts, quantities, slices and intents exist before the Wait (they
    are resolved in Prepare, ~2 min ahead); the Map's PlaceOrders start ``send_lead_seconds``
    before execute_at (their cold start happens before the second), and the orders still leave
    on the second with the limit prices refreshed."""
    from datetime import timedelta

    from shared_utils.clock import parse_instant

    (event,) = due_event(engine)
    execute_at = parse_instant(event["execute_at"])
    lead = timedelta(seconds=engine.env.settings.execution_engine.send_lead_seconds)
    assert lead >= timedelta(seconds=2)
    started: list = []

    def note_start(module, payload):
        if module == "place_orders":
            started.append(engine.clock.now())
        return None

    run = run_events(event, engine, run_id="sfn-lead", inject=note_start)
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    (result,) = run.output["results"]
    assert result["status"] == "COMPLETED"
    orders = engine.repos.orders.list_for_execution(result["user_id"], result["execution_id"])
    assert len(orders) == 8
    # resolved ~2 minutes ahead, long before the Wait ended
    assert all(o.intent_at <= execute_at - timedelta(seconds=60) for o in orders), [o.intent_at for o in orders]
    # the branches started a lead ahead (the Wait truncates to the second: up to 1 s earlier;
    # the test's one fixed clock is moved by whichever branch sleeps first, so only the first
    # start is read off it)
    assert len(started) == 2
    assert execute_at - lead - timedelta(seconds=1) <= min(started) <= execute_at - lead, started
    # and sent on the second, at a refreshed limit price
    assert all(o.sent_at is not None and o.sent_at >= execute_at for o in orders)
    assert all(o.lag_ms is not None and o.lag_ms < 1000 for o in orders)


def test_requests_do_not_grow_with_legs_and_accounts(engine, monkeypatch):
    """At the most legs and accounts the API allows for one strategy (10 legs x 8 accounts, 80
    orders) the requests per strategy-account stay within the budget: nothing is written per
    order (the plan and the bookings are batched) and nothing is read per order."""
    from tests.functional.asl.test_state_machine import _largest_config

    (strategy_id,) = _largest_config(engine, strategies=1)
    (event,) = due_event(engine)
    log = install(monkeypatch, engine)
    run = run_events(event, engine, run_id="sfn-diet-max")
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    (result,) = run.output["results"]
    assert result["status"] == "COMPLETED", result.get("reasons")
    accounts = len({i.client_id for i in run.invocations if i.module == "place_orders"})
    by_step = log.by_step()
    print("by step", dict(by_step), "accounts", accounts, "per strategy-account", sum(by_step.values()) / accounts)
    for step in by_step:
        print(step, dict(log.operations(step)))
    assert sum(by_step.values()) / accounts <= MAX_REQUESTS_PER_STRATEGY_ACCOUNT, dict(by_step)
    assert set(log.during_sends().values()) == {0}


def test_batched_booking_falls_back_when_another_writer_got_there_first(repos):
    """The post-send bookings are one transaction; a postback that booked one of the orders
    meanwhile makes DynamoDB refuse it, and each order is then booked on a fresh read: every
    fill lands once in its order and its position (I4), nothing is lost."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from shared_utils.execution.booking import save_report, save_reports
    from shared_utils.models.enums import OrderStatus
    from shared_utils.models.execution import OrderRecord

    at = datetime(2026, 8, 17, 4, 0, tzinfo=UTC)

    def intent(leg_no: int, side: str) -> OrderRecord:
        return OrderRecord(
            order_key=f"ORDER#E1#C1#{leg_no:02d}#01", execution_id="E1", user_id="u1", strategy_id="s1", client_id="C1",
            broker="paper", leg_no=leg_no, slice_no=1, attempt=0, purpose="ENTRY", tag=f"tag{leg_no}", exchange="NFO",
            tradingsymbol=f"NIFTY26818250{leg_no}0CE", transaction_type=side, lots=1, lot_size=65, quantity=65,
            product="NRML", order_type="MARKET", execute_at=at, intent_at=at)

    hedge, short = intent(1, "BUY"), intent(2, "SELL")
    for record in (hedge, short):
        assert repos.orders.record_intent(record)[1]
    # a postback books the hedge's fill before PlaceOrders saves (PlaceOrders holds version 1)
    save_report(repos, hedge, OrderStatus.FILLED, 65, Decimal("10"), None, at, "B1")
    filled = {"status": OrderStatus.FILLED, "filled": 65, "average": Decimal("10"), "broker_order_id": "B1"}
    saved = save_reports(repos, [(hedge, filled), (short, {**filled, "average": Decimal("30"), "broker_order_id": "B2"})], at)
    assert [s.status for s in saved] == [OrderStatus.FILLED, OrderStatus.FILLED]
    stored = {o.leg_no: o for o in repos.orders.list_for_execution("u1", "E1")}
    assert stored[1].filled_quantity == 65 and len(stored[1].fills) == 1  # booked once
    positions = {p.tradingsymbol: p.quantity for p in repos.positions.list("u1", "s1")}
    assert positions == {hedge.tradingsymbol: 65, short.tradingsymbol: -65}
