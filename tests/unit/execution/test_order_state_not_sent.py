"""Order state: an order the broker never saw (MISSING_AT_BROKER) can be settled NOT_SENT from
SENT or UNKNOWN (issue 13 item 6); NOT_SENT is final; a report applied twice changes nothing."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from shared_utils.execution.order_state import IllegalTransition, apply_report
from shared_utils.models.enums import OrderStatus
from shared_utils.models.execution import OrderRecord

NOW = datetime(2026, 8, 17, 10, 0, tzinfo=timezone.utc)


def _order(status):
    return OrderRecord(order_key="ORDER#k", execution_id="s.20260817.X", user_id="u", strategy_id="s", client_id="C1",
                       broker="paper", leg_no=1, tag="QTAG", exchange="NFO", tradingsymbol="X", transaction_type="BUY",
                       lots=1, lot_size=65, quantity=65, product="NRML", order_type="LIMIT", price=Decimal("10"),
                       status=status)


@pytest.mark.parametrize("status", [OrderStatus.PENDING, OrderStatus.SENT, OrderStatus.UNKNOWN])
def test_an_unsent_order_can_be_settled_not_sent(status):
    updated, delta = apply_report(_order(status), OrderStatus.NOT_SENT, 0, None, "never reached the broker", NOW)
    assert updated.status is OrderStatus.NOT_SENT and delta is None


def test_not_sent_is_final_and_reports_are_idempotent():
    with pytest.raises(IllegalTransition):
        apply_report(_order(OrderStatus.NOT_SENT), OrderStatus.OPEN, 0, None, None, NOW)
    once, delta = apply_report(_order(OrderStatus.OPEN), OrderStatus.FILLED, 65, Decimal("10.5"), None, NOW)
    assert delta.quantity == 65
    twice, again = apply_report(once, OrderStatus.FILLED, 65, Decimal("10.5"), None, NOW)
    assert again is None and twice == once
