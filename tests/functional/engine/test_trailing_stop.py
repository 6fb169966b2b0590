"""A short leg in profit: the per-minute check moves its broker-side stop down (only down)."""

from datetime import datetime
from decimal import Decimal

from shared_utils.clock import IST
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.risk_monitor import run_stop_loss_checker
from shared_utils.execution.runner import run_state_machine
from shared_utils.market.strikes import OptionQuote
from shared_utils.models.enums import OrderPurpose
from tests.functional.engine.conftest import due_event


def test_trailing_stop_follows_a_short_leg_down(engine, seed_strategy, api):
    user_id, strategy_id = seed_strategy
    status, _ = api("PUT", f"/options/strategies/{strategy_id}/legs/1",
                    {"trailing_stop": {"activate_after": 30, "trail_by": 20}})
    assert status == 200
    (event,) = due_event(engine)
    run_state_machine(event, engine)
    run_order_poller(engine)
    event_id = f"{strategy_id}.20260817.E"
    entry = next(o for o in engine.repos.orders.list_for_execution(user_id, event_id, "ZERODHA123")
                 if o.leg_no == 1 and o.purpose is OrderPurpose.ENTRY)
    stops = {o.client_id: o for o in engine.repos.orders.list_for_execution(user_id, event_id)
             if o.purpose is OrderPurpose.STOP_LOSS and o.leg_no == 1}
    assert set(stops) == {"ZERODHA123", "ANGELONE456"}
    fill = entry.average_price
    assert stops["ZERODHA123"].trigger_price == ((fill * Decimal("1.5")) / Decimal("0.05")).to_integral_value(
        rounding="ROUND_CEILING") * Decimal("0.05")

    real_quote = engine.simulator.quote
    level = {"ltp": (fill * Decimal("0.6")).quantize(Decimal("0.05"))}

    def quote(contract, at=None):
        if contract.tradingsymbol == entry.tradingsymbol:
            return OptionQuote(ltp=level["ltp"])
        return real_quote(contract, at)

    engine.simulator.quote = quote
    engine.clock.set(datetime(2026, 8, 17, 9, 45, tzinfo=IST))
    run_stop_loss_checker(engine)
    expected = ((level["ltp"] + fill * Decimal("0.2")) / Decimal("0.05")).to_integral_value(rounding="ROUND_CEILING") \
        * Decimal("0.05")
    moved = {o.client_id: o for o in engine.repos.orders.list_for_execution(user_id, event_id)
             if o.purpose is OrderPurpose.STOP_LOSS and o.leg_no == 1}
    for client_id, stop in moved.items():
        assert stop.trigger_price == expected, (client_id, stop.trigger_price, expected)
        at_broker = next(r for r in engine.paper.brokers()[client_id].order_book() if r.order_id == stop.broker_order_id)
        assert at_broker.trigger_price == expected
    level["ltp"] = (fill * Decimal("0.7")).quantize(Decimal("0.05"))  # a bounce: the stop must not loosen
    run_stop_loss_checker(engine)
    again = {o.client_id: o.trigger_price for o in engine.repos.orders.list_for_execution(user_id, event_id)
             if o.purpose is OrderPurpose.STOP_LOSS and o.leg_no == 1}
    assert set(again.values()) == {expected}
