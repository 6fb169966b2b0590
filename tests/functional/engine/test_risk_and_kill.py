"""Per-allocation risk limits are checked before sending; kill switches stop entries, not exits."""

from datetime import date, datetime

from shared_utils.clock import IST
from shared_utils.execution.emitter import run_emitter
from shared_utils.execution.events import EXECUTION_DUE
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import ExecutionStatus, ExecutionType
from tests.functional.engine.conftest import due_event


def _orders_at(engine, client_id):
    broker = engine.paper.brokers().get(client_id)
    return broker.order_book() if broker else []


def test_position_value_breach_skips_only_that_account(engine, seed_strategy, api):
    user_id, strategy_id = seed_strategy
    status, _ = api("PUT", f"/options/strategies/{strategy_id}/allocations/ANGELONE456",
                    {"risk_limits": {"max_position_value": 1000}})
    assert status == 200
    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    assert summary["status"] == "COMPLETED" and summary["orders"] == 4
    assert len(_orders_at(engine, "ZERODHA123")) == 4 and _orders_at(engine, "ANGELONE456") == []
    execution = engine.repos.executions.get(user_id, strategy_id, ExecutionType.ENTRY, date(2026, 8, 17))
    assert any("ANGELONE456: position value Rs" in r and "max_position_value Rs 1,000.00" in r for r in execution.reasons)


def test_daily_trades_limit(engine, seed_strategy, api):
    user_id, strategy_id = seed_strategy
    api("PUT", f"/options/strategies/{strategy_id}/allocations/ZERODHA123", {"risk_limits": {"max_daily_trades": 3}})
    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    assert _orders_at(engine, "ZERODHA123") == []
    assert any("ZERODHA123: 0 orders today + 4 planned exceed max_daily_trades 3" in r for r in summary["reasons"])


def test_global_kill_switch_stops_entries_but_not_exits(engine, seed_strategy, api):
    user_id, strategy_id = seed_strategy
    (event,) = due_event(engine)
    run_state_machine(event, engine)
    assert len(_orders_at(engine, "ZERODHA123")) == 4
    engine.repos.controls.set_kill_switch(True, "exchange glitch")
    # the exit at 09:35 the same day still runs; a new entry would not
    api("PUT", f"/options/strategies/{strategy_id}", {"exit_time": "09:35", "exit_days": ["MONDAY"]})
    engine.clock.set(datetime(2026, 8, 17, 9, 33, 1, tzinfo=IST))
    run_emitter(engine)
    (exit_event,) = [d for _, t, d in engine.publisher.drain(EXECUTION_DUE) if d["execution_type"] == "EXIT"]
    (summary,) = run_state_machine(exit_event, engine)["results"]
    assert summary["status"] == "COMPLETED" and summary["orders"] == 8
    assert all(p.quantity == 0 for p in engine.repos.positions.list(user_id, strategy_id))
    manual = dict(event, execute_at="2026-08-18T04:10:00.000Z", wait_until="2026-08-18T04:09:58.000Z",
                  trade_date="2026-08-18", trigger="MANUAL")
    result = run_state_machine(manual, engine)
    assert result["results"] == []
    skipped = engine.repos.executions.get(user_id, strategy_id, ExecutionType.ENTRY, date(2026, 8, 18))
    assert skipped.status is ExecutionStatus.SKIPPED
    assert any("platform kill switch is on: exchange glitch" in r for r in skipped.reasons)
