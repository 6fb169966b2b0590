"""Paper broker: fills, slippage on the tick, resting orders, stops, positions and P&L."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from shared_utils.brokers import create_broker_client
from shared_utils.brokers.errors import OrderRejected
from shared_utils.brokers.models import ModifyRequest, OrderRequest
from shared_utils.brokers.paper import PaperBroker
from shared_utils.models.enums import Exchange, OrderStatus, OrderType, Product, TransactionType
from shared_utils.persistence.keys import order_tag

CE = "NIFTY2681825000CE"


class Prices:
    def __init__(self):
        self.px = {("NFO", CE): Decimal("120.50")}

    def ltp(self, exchange, tradingsymbol):
        return self.px[(exchange, tradingsymbol)]


def lookup(exchange, symbol):
    if (exchange, symbol) != ("NFO", CE):
        raise KeyError(symbol)
    return 65, Decimal("0.05")


def req(side=TransactionType.BUY, qty=130, ot=OrderType.MARKET, price=None, trig=None, key="p"):
    return OrderRequest(Exchange.NFO, CE, side, qty, Product.NRML, ot, price=price, trigger_price=trig, tag=order_tag(key))


def test_round_trip_pnl_in_rupees():
    md = Prices()
    pb = PaperBroker(md, lookup, slippage_bps=10)
    buy = pb.place_order(req(key="in"))
    rep = pb.order_status(buy.order_id)
    # 120.50 x 1.001 = 120.6205 -> up to the tick: 120.65
    assert rep.status is OrderStatus.FILLED and rep.average_price == Decimal("120.65")
    md.px[("NFO", CE)] = Decimal("130.00")
    [pos] = pb.positions()
    assert pos.quantity == 130 and pos.unrealised_pnl == Decimal("1215.50")  # (130.00 - 120.65) x 130
    sell = pb.place_order(req(side=TransactionType.SELL, key="out"))
    # 130.00 x 0.999 = 129.87 -> down to the tick: 129.85
    assert pb.order_status(sell.order_id).average_price == Decimal("129.85")
    [pos] = pb.positions()
    assert pos.quantity == 0 and pos.realised_pnl == Decimal("1196.00")  # (129.85 - 120.65) x 130
    assert pos.unrealised_pnl == 0
    assert pb.find_order_by_tag(order_tag("out")).order_id == sell.order_id


def test_short_round_trip_with_pct_slippage():
    md = Prices()
    pb = PaperBroker(md, lookup, slippage_pct="0.5")
    pb.place_order(req(side=TransactionType.SELL, qty=65))  # 120.50 x 0.995 = 119.8975 -> 119.85
    md.px[("NFO", CE)] = Decimal("100.00")
    pb.place_order(req(side=TransactionType.BUY, qty=65))   # 100 x 1.005 = 100.50
    [pos] = pb.positions()
    assert pos.realised_pnl == Decimal("1257.75")  # (119.85 - 100.50) x 65


def test_limit_rests_then_fills_on_poll_never_worse_than_limit():
    md = Prices()
    pb = PaperBroker(md, lookup, slippage_bps=10)
    ack = pb.place_order(req(ot=OrderType.LIMIT, price=Decimal("118.00")))
    assert pb.order_status(ack.order_id).status is OrderStatus.OPEN
    assert pb.poll() == []
    md.px[("NFO", CE)] = Decimal("117.95")
    [changed] = pb.on_tick("NFO", CE)
    assert changed.status is OrderStatus.FILLED and changed.average_price == Decimal("118.00")


def test_stop_loss_triggers_and_modify_cancel():
    md = Prices()
    pb = PaperBroker(md, lookup)
    pb.place_order(req(qty=65))
    sl = pb.place_order(req(side=TransactionType.SELL, qty=65, ot=OrderType.SL_M, trig=Decimal("110.00"), key="sl"))
    assert pb.order_status(sl.order_id).status is OrderStatus.TRIGGER_PENDING
    pb.modify_order(ModifyRequest(sl.order_id, trigger_price=Decimal("115.00")))
    md.px[("NFO", CE)] = Decimal("114.90")
    pb.poll()
    rep = pb.order_status(sl.order_id)
    assert rep.status is OrderStatus.FILLED and rep.average_price == Decimal("114.90")
    other = pb.place_order(req(ot=OrderType.LIMIT, price=Decimal("90.00"), key="x"))
    pb.cancel_order(other.order_id)
    assert pb.order_status(other.order_id).status is OrderStatus.CANCELLED
    with pytest.raises(OrderRejected):
        pb.cancel_order(other.order_id)


@pytest.mark.parametrize("kwargs,code", [({"qty": 100}, "LOT"), ({"ot": OrderType.LIMIT, "price": Decimal("120.03")}, "TICK")])
def test_lot_and_tick_rejections(kwargs, code):
    pb = PaperBroker(Prices(), lookup)
    with pytest.raises(OrderRejected) as info:
        pb.place_order(req(**kwargs))
    assert info.value.code == code and pb.order_book() == []


def test_unknown_contract_rejected():
    pb = PaperBroker(Prices(), lookup)
    with pytest.raises(OrderRejected):
        pb.place_order(OrderRequest(Exchange.NFO, "NIFTYX", TransactionType.BUY, 65, Product.NRML, OrderType.MARKET))


def test_thread_safe_positions_and_simulated_latency():
    slept = []
    pb = create_broker_client("paper", market_data=Prices(), contract_lookup=lookup, latency_s=0.03, sleep=slept.append)
    threads = [threading.Thread(target=lambda i=i: pb.place_order(req(qty=65, key=f"t{i}"))) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    [pos] = pb.positions()
    assert pos.quantity == 8 * 65 and len(pb.order_book()) == 8
    assert slept.count(0.03) >= 8
