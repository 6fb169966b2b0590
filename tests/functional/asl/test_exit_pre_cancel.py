"""An EXIT through the synthesized ASL: Prepare sets ``cancel_at``, the Choice ExitPreCancel takes
the Wait WaitUntilCancel (TimestampPath ``$.cancel_at``) and the Task PreCancel, which cancels the
resting stop-loss orders AHEAD of the exit second; then WaitUntil, Resolve, the Map and Finalize.
The closing orders leave within 50 ms of the second (issue 21 item 3), measured on a real (offset)
clock with the protocol fakes. An ENTRY has no ``cancel_at`` and skips both states."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from shared_utils.clock import IST, OffsetClock, utc_iso_ms
from shared_utils.execution.asl_runner import run_events
from shared_utils.execution.exits import EXIT_CANCEL_LEAD_S
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.order_state import ACCEPTED
from shared_utils.models.enums import ExecutionType, OrderPurpose, OrderStatus
from shared_utils.persistence import keys
from tests.functional.engine.conftest import due_event
from tests.functional.engine_ii.conftest import exchange_latency_s, fakes, live, overrides  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow


def _states(run) -> set[str]:
    return {name for name, _, _ in run.sizes}


def test_exit_runs_through_wait_until_cancel_and_pre_cancel(engine, live, fakes, monkeypatch):
    user_id, strategy_id, kite, angel = live
    (event,) = due_event(engine)
    entry = run_events(event, engine, run_id="sfn-entry")
    assert entry.status == "SUCCEEDED", (entry.error, entry.cause)
    # an entry has no cancel_at: it goes straight to WaitUntil
    assert "WaitUntilCancel" not in _states(entry) and "PreCancel" not in _states(entry)
    assert "pre_cancel" not in {i.module for i in entry.invocations}
    run_order_poller(engine)  # fills learnt, stops resting at both brokers
    entry_id = keys.execution_id(strategy_id, ExecutionType.ENTRY, date(2026, 8, 17))
    stops = [o for o in engine.repos.orders.list_for_execution(user_id, entry_id) if o.purpose is OrderPurpose.STOP_LOSS]
    assert len(stops) == 8 and {o.status for o in stops} == {OrderStatus.TRIGGER_PENDING}

    # the real clock, a little more than the cancel lead before the exit's second
    start = datetime(2026, 8, 17, 15, 19, 59, tzinfo=IST) - timedelta(seconds=EXIT_CANCEL_LEAD_S)
    engine.clock = OffsetClock(start)
    engine.simulator.clock = engine.clock  # the fakes price from the simulator: one clock for both
    execute_at = datetime(2026, 8, 17, 15, 20, 0, tzinfo=IST)
    cancels: list[datetime] = []
    for client in (kite, angel):
        original = client.cancel_order

        def cancel(order_id, _original=original):
            cancels.append(engine.clock.now())
            return _original(order_id)

        monkeypatch.setattr(client, "cancel_order", cancel)
    exit_event = {"batch_id": "asl-exit", "execution_type": "EXIT", "trade_date": "2026-08-17", "slot": "15:20",
                  "execute_at": utc_iso_ms(execute_at), "wait_until": utc_iso_ms(execute_at - timedelta(seconds=2)),
                  "trigger": "MANUAL", "strategies": [{"user_id": user_id, "strategy_id": strategy_id}]}
    run = run_events(exit_event, engine, run_id="sfn-exit")
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert {"ExitPreCancel", "WaitUntilCancel", "PreCancel", "WaitUntil", "Resolve", "PlacePerAccount",
            "Finalize"} <= _states(run)
    modules = [i.module for i in run.invocations]
    assert modules[:3] == ["prepare", "pre_cancel", "resolve"] and modules[-1] == "finalize", modules
    assert Counter(modules)["pre_cancel"] == 1
    (summary,) = run.output["results"]
    assert summary["status"] == "COMPLETED", summary["reasons"]

    # the resting stops were cancelled ahead of the exit second, by PreCancel
    stops = [o for o in engine.repos.orders.list_for_execution(user_id, entry_id) if o.purpose is OrderPurpose.STOP_LOSS]
    assert {o.status for o in stops} == {OrderStatus.CANCELLED}
    assert len(cancels) >= 8 and max(cancels) < execute_at, cancels
    # and the exit's orders left within 50 ms of it
    exit_orders = engine.repos.orders.list_for_execution(user_id, summary["execution_id"])
    assert len(exit_orders) == 8 and all(o.status in ACCEPTED for o in exit_orders)
    lag = {o.order_key: (o.sent_at - execute_at).total_seconds() * 1000 for o in exit_orders}
    assert min(lag.values()) >= 0, "an exit order left before its second"
    buy_backs = [o for o in exit_orders if o.transaction_type.value == "BUY"]
    assert buy_backs and max(lag[o.order_key] for o in buy_backs) < 50, lag
