"""Stop-loss price arithmetic and the reconciliation classification, without AWS or brokers."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from shared_utils.brokers.models import OrderReport
from shared_utils.execution.duplicate_checker import classify
from shared_utils.execution.risk_monitor import mtm_breach, target_hit
from shared_utils.execution.stops import StopPriceError, stop_prices
from shared_utils.models.enums import OrderStatus, OrderType, TransactionType
from shared_utils.models.execution import OrderRecord
from shared_utils.models.strategy import StrategyRisk

D = Decimal
T = D("0.05")
NOW = datetime(2026, 8, 17, 5, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("side,fill,sl,kind,slip,order_type,expected", [
    # short premium: BUY stop above the fill, both prices rounded UP to the tick
    ("SELL", "24.35", "50", "PERCENTAGE", "5", "SL", ("BUY", "36.55", "38.40")),
    ("SELL", "100", "50", "PERCENTAGE", "0", "SL", ("BUY", "150.00", "150.00")),
    ("SELL", "100.10", "20", "POINTS", "5", "SL", ("BUY", "120.10", "126.15")),
    ("SELL", "24.35", "50", "PERCENTAGE", "5", "SL-M", ("BUY", "36.55", None)),
    # long premium: SELL stop below the fill, rounded DOWN, never below one tick
    ("BUY", "3.65", "25", "PERCENTAGE", "3", "SL", ("SELL", "2.70", "2.60")),
    ("BUY", "0.10", "50", "PERCENTAGE", "90", "SL", ("SELL", "0.05", "0.05")),
    ("BUY", "50", "10", "POINTS", "2", "SL", ("SELL", "40.00", "39.20")),
])
def test_stop_prices(side, fill, sl, kind, slip, order_type, expected):
    got = stop_prices(side, D(fill), D(sl), kind, D(slip), T, order_type)
    want_side, want_trigger, want_limit = expected
    assert got.side is TransactionType(want_side)
    assert got.trigger == D(want_trigger) and got.limit == (D(want_limit) if want_limit else None)
    assert got.order_type is OrderType(order_type)
    assert (got.trigger / T) % 1 == 0 and (got.limit is None or (got.limit / T) % 1 == 0)


def test_a_long_stop_at_zero_cannot_be_priced():
    with pytest.raises(StopPriceError):
        stop_prices("BUY", D("10"), D("100"), "PERCENTAGE", D("0"), T)


def test_target_and_mtm_limits():
    assert target_hit(-65, D("20"), D("10"), D("50"), "PERCENTAGE")
    assert not target_hit(-65, D("20"), D("10.05"), D("50"), "PERCENTAGE")
    assert target_hit(65, D("20"), D("25"), D("5"), "POINTS")
    risk = StrategyRisk(mtm_stop_loss=D("5000"), mtm_target=D("8000"))
    assert mtm_breach(D("-5000"), risk) and mtm_breach(D("8000.5"), risk)
    assert mtm_breach(D("-4999.95"), risk) is None


def _record(tag, status, intent_age_s=120, key=None):
    return OrderRecord(order_key=key or f"ORDER#x#{tag}", execution_id="s.20260817.E", user_id="u", strategy_id="s",
                       client_id="C1", broker="zerodha", leg_no=1, tag=tag, exchange="NFO", tradingsymbol="X",
                       transaction_type="SELL", lots=1, lot_size=65, quantity=65, product="NRML", order_type="LIMIT",
                       price=D("10"), status=status, intent_at=NOW - timedelta(seconds=intent_age_s))


def _report(order_id, tag, status=OrderStatus.OPEN):
    return OrderReport(order_id=order_id, tag=tag, status=status, quantity=65, filled_quantity=0, pending_quantity=65,
                       average_price=None, price=D("10"), trigger_price=None, tradingsymbol="X", exchange="NFO",
                       transaction_type=TransactionType.SELL, product="NRML", order_type=OrderType.LIMIT)


def test_reconciliation_classification():
    records = [
        _record("QOK", OrderStatus.OPEN),                       # healthy: nothing
        _record("QLOST", OrderStatus.SENT),                     # not at the broker after 2 minutes
        _record("QYOUNG", OrderStatus.PENDING, intent_age_s=5),  # within the grace period: nothing yet
        _record("QUNK", OrderStatus.UNKNOWN),                   # found by tag: recovered
        _record("QTWICE", OrderStatus.OPEN),                    # two broker orders with one tag
    ]
    book = [_report("1", "QOK"), _report("2", "QUNK"), _report("3", "QTWICE"), _report("4", "QTWICE"),
            _report("5", "QSTRAY"), _report("6", "MANUAL"), _report("7", None)]
    found = {(f.kind, f.tag) for f in classify(records, book, NOW)}
    assert found == {("MISSING_AT_BROKER", "QLOST"), ("RECOVERED", "QUNK"), ("DUPLICATE_TAG", "QTWICE"),
                     ("UNRECORDED", "QSTRAY")}
