"""Issue 13 item 4 (invariant I4): an order's fill and its position change are ONE write.

Before: ``save_report`` wrote the order, then ``book_fill`` wrote the position in a separate
write; a crash between the two lost the fill for good (re-applying the report found no new
filled quantity), the records said the leg was still open, and the exit retry bought it back a
second time (the broker ended +195 while the records said flat)."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from shared_utils.clock import IST
from shared_utils.execution.booking import save_report
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.risk_monitor import run_stop_loss_checker
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import ExecutionType, OrderPurpose, OrderStatus
from shared_utils.models.execution import OrderRecord
from shared_utils.persistence import keys
from tests.functional.engine.conftest import due_event
from tests.functional.engine_ii.faults import Crash, crash_on_write

AT = datetime(2026, 8, 17, 4, 0, 1, tzinfo=IST)


def _order(repos, quantity=195):
    key = keys.order_sk("stg_abc.20260817.ENTRY", "C1", 1, 1, OrderPurpose.ENTRY)
    record = OrderRecord(order_key=key, execution_id="stg_abc.20260817.ENTRY", user_id="u1", strategy_id="stg_abc",
                         client_id="C1", broker="paper", leg_no=1, tag=keys.order_tag(key), exchange="NFO",
                         tradingsymbol="NIFTY26AUG24800PE", transaction_type="SELL", lots=3, lot_size=65,
                         quantity=quantity, product="NRML", order_type="LIMIT", price=Decimal("24.00"),
                         status=OrderStatus.OPEN)
    stored, _ = repos.orders.record_intent(record)
    return stored


def _is_position(sort_key: str) -> bool:
    return sort_key.startswith("POSITION#")


def test_a_crash_between_the_order_and_the_position_write_loses_no_fill(repos, monkeypatch):
    order = _order(repos)
    crash_on_write(monkeypatch, repos.table, _is_position)
    with pytest.raises(Crash):
        save_report(repos, order, OrderStatus.FILLED, 195, Decimal("24.35"), None, AT, "B1")
    monkeypatch.undo()
    stored = repos.orders.get("u1", order.order_key)
    assert stored.status is OrderStatus.OPEN and stored.filled_quantity == 0, "the order moved without its position"
    # the same report again (poller, postback, retry): the fill is booked exactly once
    save_report(repos, stored, OrderStatus.FILLED, 195, Decimal("24.35"), None, AT, "B1")
    position = repos.positions.get("u1", "stg_abc", "C1", "NIFTY26AUG24800PE")
    assert position is not None and position.quantity == -195 and position.average_price == Decimal("24.35")
    stored = repos.orders.get("u1", order.order_key)
    assert stored.status is OrderStatus.FILLED and len(stored.fills) == 1


def test_applying_a_report_twice_changes_nothing(repos):
    order = _order(repos)
    first = save_report(repos, order, OrderStatus.PARTIALLY_FILLED, 65, Decimal("24.35"), None, AT, "B1")
    again = save_report(repos, order, OrderStatus.PARTIALLY_FILLED, 65, Decimal("24.35"), None, AT, "B1")
    assert again.version == first.version
    position = repos.positions.get("u1", "stg_abc", "C1", "NIFTY26AUG24800PE")
    assert position.quantity == -65 and position.version == 1
    # a stale copy of the order (read before the first report) must not book it again
    save_report(repos, order, OrderStatus.FILLED, 195, Decimal("24.35"), None, AT, "B1")
    position = repos.positions.get("u1", "stg_abc", "C1", "NIFTY26AUG24800PE")
    assert position.quantity == -195
    assert repos.orders.get("u1", order.order_key).filled_quantity == 195


@pytest.fixture
def monday_exit(api, seed_strategy):
    user_id, strategy_id = seed_strategy
    status, body = api("PUT", f"/options/strategies/{strategy_id}", {"exit_days": ["MONDAY"]})
    assert status == 200, body
    return user_id, strategy_id


def test_exit_retry_after_a_crash_in_the_booking_does_not_over_buy(engine, monday_exit, monkeypatch):
    user_id, strategy_id = monday_exit
    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    assert summary["status"] == "COMPLETED", summary["reasons"]
    run_order_poller(engine)
    engine.clock.set(datetime(2026, 8, 17, 15, 18, 5, tzinfo=IST))
    (exit_event,) = due_event(engine, slot="15:20", execution_type=ExecutionType.EXIT)
    # the exit's first fill is learnt, and the process dies while booking it
    crash_on_write(monkeypatch, engine.repos.table, _is_position)
    run_state_machine(exit_event, engine)
    monkeypatch.undo()
    # the next minutes: the poller learns the truth, the stop-loss checker finishes the exit
    for _ in range(3):
        engine.clock.advance(timedelta(minutes=1))
        run_order_poller(engine)
        run_stop_loss_checker(engine)
    for client_id, broker in engine.paper.brokers().items():
        held = {p.tradingsymbol: p.quantity for p in broker.positions() if p.quantity}
        assert held == {}, f"{client_id} holds {held} at the broker after the exit"
    records = {(p.client_id, p.tradingsymbol): p.quantity for p in engine.repos.positions.list(user_id, strategy_id)}
    assert all(q == 0 for q in records.values()), records


def test_an_exit_retry_reads_the_broker_position_first(engine, monday_exit):
    """Records that say a leg is open while the broker says flat (a fill booked nowhere): the
    retry sends nothing for that leg and alerts the mismatch instead of buying it again."""
    user_id, strategy_id = monday_exit
    (event,) = due_event(engine)
    run_state_machine(event, engine)
    run_order_poller(engine)
    engine.clock.set(datetime(2026, 8, 17, 15, 18, 5, tzinfo=IST))
    (exit_event,) = due_event(engine, slot="15:20", execution_type=ExecutionType.EXIT)
    run_state_machine(exit_event, engine)
    # the records lose one exit fill (as the old two-write booking did after a crash)
    position = next(p for p in engine.repos.positions.list(user_id, strategy_id) if p.leg_no == 1)
    lost = position.model_copy(update={"quantity": -195, "status": "OPEN"})
    engine.repos.positions.save(lost, position.version)
    engine.clock.advance(timedelta(minutes=1))
    run_stop_loss_checker(engine)
    broker = engine.paper.brokers()[position.client_id]
    held = {p.tradingsymbol: p.quantity for p in broker.positions() if p.quantity}
    assert held == {}, f"the retry re-sent an exit the broker did not need: {held}"
    alerts = [d for _, t, d in engine.publisher.published if t == "Order Alert" and d.get("kind") == "POSITION_MISMATCH"]
    assert alerts and position.tradingsymbol in alerts[-1]["message"]
