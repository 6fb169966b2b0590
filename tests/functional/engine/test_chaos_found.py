"""Issue 13 regressions found by ``make chaos`` (tests/chaos/) after the engine-safety work was
merged: each test replays the fault schedule the harness shrank to, on the seed's iron condor
(two paper accounts, two BUY hedges and two SELL shorts each), and fails on the code before
its fix.

- I4/I5 (items 4, 6; chaos seed 55 ``broker@place#3(2),broker@book#2(1)``): a lost answer
  reconciled by tag while the order-book read that follows fails was saved with the broker's
  status but not its filled quantity (FILLED 0): the position was never booked, never exited.
"""

from datetime import datetime

from shared_utils.brokers.errors import BrokerUnavailable, OutcomeUnknown
from shared_utils.clock import IST
from shared_utils.execution.booking import save_report
from shared_utils.execution.order_poller import run_order_poller
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import OrderPurpose, OrderStatus, TransactionType
from tests.functional.engine.conftest import due_event


def _paper(engine, user_id, client_id):
    return engine.paper.client_for(engine.repos.accounts.get(user_id, client_id))


def _orders(engine, user_id, execution_id, client_id=None):
    return engine.repos.orders.list_for_execution(user_id, execution_id, client_id)


def _positions(engine, user_id, strategy_id, client_id):
    return {p.tradingsymbol: p.quantity for p in engine.repos.positions.list(user_id, strategy_id, client_id)}


# ------------------------------------------------------- I4: a reconciled report is booked in full

def test_lost_answer_reconciled_while_the_book_read_fails_books_the_fill(engine, seed_strategy):
    """The first short's answer is lost after the broker filled it; reconciliation by tag finds
    it FILLED; then the order-book read PlaceOrders does before saving fails (503). The record
    must hold the broker's filled quantity and the position must hold the fill (it used to be
    FILLED 0 with no position: the exit never bought the short back)."""
    user_id, strategy_id = seed_strategy
    broker = _paper(engine, user_id, "ZERODHA123")
    real_place, real_book = broker.place_order, broker.order_book
    lost: list[str] = []
    book_failures: list[int] = []

    def answer_lost_after_the_fill(request):
        ack = real_place(request)
        if request.transaction_type is TransactionType.SELL and not lost:
            lost.append(request.tag)
            raise OutcomeUnknown("read timeout after sending", broker="paper", tag=request.tag)
        return ack

    def book_fails_once_after_the_loss():
        if lost and not book_failures:
            book_failures.append(1)
            raise BrokerUnavailable("order book 503", broker="paper", http_status=503)
        return real_book()

    broker.place_order = answer_lost_after_the_fill
    broker.order_book = book_fails_once_after_the_loss
    # reconciliation by tag still works (it is the order book the placer reads afterwards that fails)
    broker.find_order_by_tag = lambda tag: next((r for r in real_book() if r.tag == tag), None)
    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    assert lost and book_failures, "the fault schedule fired"

    truth = {r.tag: r for r in real_book()}
    orders = _orders(engine, user_id, summary["execution_id"], "ZERODHA123")
    reconciled = next(o for o in orders if o.tag == lost[0])
    assert truth[lost[0]].status is OrderStatus.FILLED
    assert (reconciled.status, reconciled.filled_quantity) == (OrderStatus.FILLED, truth[lost[0]].filled_quantity)
    assert reconciled.broker_order_id == truth[lost[0]].order_id
    # the fill is in the position (one unit of work) ...
    positions = _positions(engine, user_id, strategy_id, "ZERODHA123")
    assert positions[reconciled.tradingsymbol] == -reconciled.quantity
    # ... and once the poller has read the book (the other short was only acknowledged OPEN when
    # the read failed) the books agree with the broker's
    run_order_poller(engine)
    positions = _positions(engine, user_id, strategy_id, "ZERODHA123")
    at_broker = {p.tradingsymbol: p.quantity for p in broker.positions() if p.quantity}
    assert {s: q for s, q in positions.items() if q} == at_broker
    for order in orders:
        assert order.status is not OrderStatus.FILLED or order.filled_quantity == order.quantity, order


def test_a_filled_report_without_its_quantity_never_makes_a_filled_0_record(engine, seed_strategy):
    """A report that says FILLED but carries no filled quantity (a status read alone) must not
    leave a FILLED record short of its quantity (FILLED is final: no later report could book the
    fill). The record stays working until the full report arrives, which books the position."""
    user_id, strategy_id = seed_strategy
    broker = _paper(engine, user_id, "ZERODHA123")
    real_place = broker.place_order
    broker.place_order = lambda request: (_ for _ in ()).throw(OutcomeUnknown("reset", broker="paper"))
    (event,) = due_event(engine)
    (summary,) = run_state_machine(event, engine)["results"]
    hedge = next(o for o in _orders(engine, user_id, summary["execution_id"], "ZERODHA123")
                 if o.purpose is OrderPurpose.ENTRY and o.transaction_type is TransactionType.BUY)
    assert hedge.status is OrderStatus.UNKNOWN
    broker.place_order = real_place
    at = datetime(2026, 8, 17, 9, 31, tzinfo=IST)

    saved = save_report(engine.repos, hedge, OrderStatus.FILLED, 0, None, None, at, "ORD-1")
    assert saved.status is not OrderStatus.FILLED and saved.filled_quantity == 0
    assert saved.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
    # a fill quantity without its price cannot be booked: not taken from the report either
    saved = save_report(engine.repos, saved, OrderStatus.FILLED, saved.quantity, None, None, at, "ORD-1")
    assert saved.status is not OrderStatus.FILLED and saved.filled_quantity == 0
    # the full report books the fill and the position in one write
    from decimal import Decimal

    saved = save_report(engine.repos, saved, OrderStatus.FILLED, saved.quantity, Decimal("12.35"), None, at, "ORD-1")
    assert (saved.status, saved.filled_quantity) == (OrderStatus.FILLED, saved.quantity)
    assert _positions(engine, user_id, strategy_id, "ZERODHA123")[saved.tradingsymbol] == saved.quantity
