"""The seed's journey 1 strategy due at 09:30 on Monday 17 Aug 2026 produces exactly the
expected orders at both paper accounts, hedges first, none before the target second."""

from datetime import date
from decimal import Decimal

from shared_utils.clock import parse_instant
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import ExecutionStatus, ExecutionType
from shared_utils.persistence import keys
from tests.functional.engine.conftest import due_event

EXPECTED_LOTS = {"ZERODHA123": {1: 3, 2: 3, 3: 1, 4: 1}, "ANGELONE456": {1: 1, 2: 1, 3: 4, 4: 4}}


def test_emitter_announces_the_slot_two_minutes_ahead(engine, seed_strategy):
    (event,) = due_event(engine)
    assert event["slot"] == "09:30" and event["execute_at"] == "2026-08-17T04:00:00.000Z"
    assert event["wait_until"] == "2026-08-17T03:59:58.000Z"
    assert event["strategies"] == [{"user_id": "user-a", "strategy_id": seed_strategy[1]}]


def test_seed_iron_condor_entry(engine, seed_strategy):
    user_id, strategy_id = seed_strategy
    (event,) = due_event(engine)
    result = run_state_machine(event, engine)
    (summary,) = result["results"]
    assert summary["status"] == "COMPLETED", summary

    execution_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, date(2026, 8, 17))
    orders = engine.repos.orders.list_for_execution(user_id, execution_id)
    assert len(orders) == 8
    execute_at = parse_instant(event["execute_at"])
    for order in orders:
        assert order.lot_size == 65 and order.quantity == EXPECTED_LOTS[order.client_id][order.leg_no] * 65
        assert order.tradingsymbol.startswith("NIFTY26818"), order.tradingsymbol  # weekly of Tue 18 Aug 2026
        assert order.sent_at >= execute_at, f"{order.order_key} sent {order.lag_ms} ms early"
        assert order.status.value in ("OPEN", "FILLED")
        assert order.price is not None and (order.price / Decimal("0.05")) % 1 == 0
    execution = engine.repos.executions.get_by_id(user_id, execution_id)
    by_leg = {leg.leg_no: leg for leg in execution.resolved_legs}
    assert by_leg[1].option_type == "PE" and by_leg[2].option_type == "PE"
    assert by_leg[2].strike == by_leg[1].strike - 400 or by_leg[2].strike < by_leg[1].strike
    assert by_leg[4].strike > by_leg[3].strike > by_leg[1].strike
    for client_id in EXPECTED_LOTS:
        # the paper broker numbers orders as it receives them
        sent = sorted((o for o in orders if o.client_id == client_id), key=lambda o: o.broker_order_id)
        sides = [o.transaction_type.value for o in sent]
        assert sides == ["BUY", "BUY", "SELL", "SELL"], (client_id, sides)
    # the same contract for every account
    assert len({(o.leg_no, o.tradingsymbol) for o in orders}) == 4
    assert execution.status is ExecutionStatus.COMPLETED and execution.total_lots == 18


def test_rejected_hedge_holds_back_the_shorts(engine, seed_strategy):
    user_id, strategy_id = seed_strategy
    (event,) = due_event(engine)
    broker = engine.paper.client_for(engine.repos.accounts.get(user_id, "ANGELONE456"))
    original = broker.place_order
    from shared_utils.brokers.errors import OrderRejected

    def reject_buys(request):
        if request.transaction_type.value == "BUY":
            raise OrderRejected("RMS", broker="paper", broker_message="Insufficient funds for hedge")
        return original(request)

    broker.place_order = reject_buys
    result = run_state_machine(event, engine)
    (summary,) = result["results"]
    assert summary["status"] == "PARTIAL"
    orders = engine.repos.orders.list_for_execution(user_id, summary["execution_id"], "ANGELONE456")
    assert {o.status.value for o in orders if o.transaction_type.value == "BUY"} == {"REJECTED"}
    # the shorts never reached the broker: NOT_SENT (final) with the reason (contract C2)
    assert {o.status.value for o in orders if o.transaction_type.value == "SELL"} == {"NOT_SENT"}
    assert all("unhedged short" in (o.broker_message or "") for o in orders if o.transaction_type.value == "SELL")
    assert any("Insufficient funds for hedge" in r for r in summary["reasons"])
    assert len(broker.order_book()) == 0
