"""Issue 13 item 11 (invariant I5): expired contracts were never settled (an exit or risk
check after expiry raised ContractNotFoundError and aborted that exit for every account), and a
NRML strategy whose exit day is a holiday was never exited (NIFTY weekly expiring Mon 9 Nov
2026, Tue 10 Nov a holiday)."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from shared_utils.clock import IST
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.risk_monitor import run_stop_loss_checker
from shared_utils.execution.runner import run_state_machine
from shared_utils.execution.settlement import SETTLEMENT_ATTEMPT, exit_due_on, intrinsic
from shared_utils.market.calendar import default_calendar
from shared_utils.models.enums import ExecutionType, OrderPurpose, OrderStatus, Weekday
from tests.functional.engine.conftest import due_event

pytestmark = pytest.mark.slow


def test_a_holiday_exit_day_exits_on_the_previous_trading_day():
    calendar = default_calendar()
    assert not calendar.is_trading_day(date(2026, 11, 10))  # Tue 10 Nov 2026: exchange holiday
    assert exit_due_on(calendar, [Weekday.TUESDAY], date(2026, 11, 9))
    assert not exit_due_on(calendar, [Weekday.TUESDAY], date(2026, 11, 6))
    assert exit_due_on(calendar, [Weekday.TUESDAY], date(2026, 11, 17))
    assert exit_due_on(calendar, [Weekday.SATURDAY], date(2026, 11, 13))  # Saturday: Friday's exit


def test_intrinsic_value():
    assert intrinsic("CE", Decimal("24800"), Decimal("24851.37")) == Decimal("51.35")
    assert intrinsic("PE", Decimal("24800"), Decimal("24851.37")) == Decimal("0.00")
    assert intrinsic("PE", Decimal("24900"), Decimal("24851.37")) == Decimal("48.65")


def test_the_strategy_detail_says_when_an_exit_moves(api, seed_strategy, engine):
    user_id, strategy_id = seed_strategy
    assert api("PUT", f"/options/strategies/{strategy_id}", {"exit_days": ["TUESDAY"]})[0] == 200
    from shared_utils.services.options import OptionsService

    service = OptionsService(api.repos, engine.env, clock=engine.clock)
    engine.clock.set(datetime(2026, 11, 2, 9, 0, tzinfo=IST))
    detail = service.strategy_detail(user_id, strategy_id)
    assert any("Tue 10 Nov 2026" in w and "Mon 09 Nov 2026" in w for w in detail["warnings"]), detail["warnings"]


def test_expired_positions_settle_and_never_block_the_exit(engine, api, seed_strategy):
    user_id, strategy_id = seed_strategy
    # NRML, exit on Wednesdays: the 18 Aug weekly expires on the Tuesday in between
    assert api("PUT", f"/options/strategies/{strategy_id}", {"exit_days": ["WEDNESDAY"]})[0] == 200
    (event,) = due_event(engine)
    assert run_state_machine(event, engine)["results"][0]["status"] == "COMPLETED"
    run_order_poller(engine)
    held = {(p.client_id, p.tradingsymbol): p.quantity for p in engine.repos.positions.list(user_id, strategy_id)}
    assert all(held.values())
    # Wednesday 19 Aug: the contracts are gone from the day's master
    engine.clock.set(datetime(2026, 8, 19, 9, 20, 0, tzinfo=IST))
    result = run_stop_loss_checker(engine)
    assert not any("error" in r for r in result["strategies"]), result
    positions = engine.repos.positions.list(user_id, strategy_id)
    assert all(p.quantity == 0 for p in positions), [(p.tradingsymbol, p.quantity) for p in positions]
    settlements = [o for o in engine.repos.orders.list_for_execution(user_id, positions[0].entry_execution_id)
                   if o.purpose is OrderPurpose.EXIT and o.attempt == SETTLEMENT_ATTEMPT]
    assert len(settlements) == 8 and all(o.status is OrderStatus.FILLED for o in settlements)
    spot = engine.simulator.spot("NIFTY", datetime(2026, 8, 18, 15, 30, tzinfo=IST))
    for order in settlements:
        strike, kind = Decimal(order.tradingsymbol[-7:-2]), order.tradingsymbol[-2:]
        assert order.average_price == intrinsic(kind, strike, spot), order.tradingsymbol
        assert "intrinsic value" in order.broker_message and "NIFTY close 2026-08-18" in order.broker_message
    # the scheduled exit that day finds nothing to close and does not fail
    engine.clock.set(datetime(2026, 8, 19, 15, 18, 5, tzinfo=IST))
    exits = due_event(engine, slot="15:20", execution_type=ExecutionType.EXIT)
    for exit_event in exits:
        (summary,) = run_state_machine(exit_event, engine)["results"]
        assert summary["status"] in ("SKIPPED", "COMPLETED"), summary


def test_an_exit_after_expiry_settles_instead_of_failing(engine, api, seed_strategy):
    user_id, strategy_id = seed_strategy
    assert api("PUT", f"/options/strategies/{strategy_id}", {"exit_days": ["WEDNESDAY"]})[0] == 200
    (event,) = due_event(engine)
    run_state_machine(event, engine)
    run_order_poller(engine)
    engine.clock.set(datetime(2026, 8, 19, 15, 18, 5, tzinfo=IST))  # no stop-loss check ran since Monday
    (exit_event,) = due_event(engine, slot="15:20", execution_type=ExecutionType.EXIT)
    (summary,) = run_state_machine(exit_event, engine)["results"]
    assert summary["status"] != "FAILED", summary["reasons"]
    assert any("settled at expiry 2026-08-18" in r for r in summary["reasons"]), summary["reasons"]
    assert all(p.quantity == 0 for p in engine.repos.positions.list(user_id, strategy_id))
