"""The seed's entry on the REAL clock (an offset clock a few seconds before the slot): every
order leaves at or after execute_at. The lags are printed (run with -s), not asserted: speed is
measured in bench/, not in tests."""

from datetime import datetime

from shared_utils.clock import IST, OffsetClock
from shared_utils.execution.emitter import run_emitter
from shared_utils.execution.events import EXECUTION_DUE
from shared_utils.execution.runner import run_state_machine


def test_orders_never_leave_early_on_the_real_clock(engine, seed_strategy):
    engine.clock = OffsetClock(datetime(2026, 8, 17, 9, 28, 58, 500000, tzinfo=IST))
    run_emitter(engine)
    (event,) = [d for _, t, d in engine.publisher.drain(EXECUTION_DUE) if d["execution_type"] == "ENTRY"]
    # two seconds from now instead of the 09:30 slot, so the test waits ~2.5 s, not 61 s
    event = dict(event, execute_at="2026-08-17T03:59:01.000Z", wait_until="2026-08-17T03:58:59.000Z", trigger="MANUAL")
    result = run_state_machine(event, engine)
    (summary,) = result["results"]
    orders = engine.repos.orders.list_for_execution(*seed_strategy[:1], summary["execution_id"])
    lags = sorted(o.lag_ms for o in orders)
    print(f"\nlag after execute_at (ms): first {lags[0]:.2f}, last {lags[-1]:.2f}, all {[round(l, 2) for l in lags]}")
    assert summary["status"] == "COMPLETED" and len(lags) == 8
    assert lags[0] >= 0, "an order left before the target instant"
