"""ZerodhaClient through the real kiteconnect SDK against FakeKiteServer on 127.0.0.1."""

from __future__ import annotations

from decimal import Decimal

import pytest

from local.fakes.kite import FakeKiteServer
from shared_utils.brokers.base import BrokerCredentials, BrokerSession
from shared_utils.brokers.errors import (
    BrokerUnavailable, OrderRejected, OutcomeUnknown, RateLimited, SessionExpired,
)
from shared_utils.brokers.models import InstrumentRef, ModifyRequest, OrderRequest
from shared_utils.brokers.zerodha import ZerodhaClient
from shared_utils.models.enums import Exchange, OrderStatus, OrderType, Product, TransactionType
from shared_utils.persistence.keys import order_tag

from .conftest import CE, INSTRUMENTS, PE, max_in_window, set_prices


@pytest.fixture
def fake():
    with FakeKiteServer(INSTRUMENTS, api_key="k1", api_secret="s1", request_token="rt1", exchange_latency_s=0) as server:
        set_prices(server.engine, {CE: "120.50", PE: "98.00"})
        yield server


def client(fake, timeout=2.0):
    return ZerodhaClient(BrokerCredentials(api_key="k1", api_secret="s1", request_token="rt1"),
                         BrokerSession(access_token=fake.access_token), root=fake.url, timeout=timeout)


def req(sym=CE, side=TransactionType.BUY, qty=65, ot=OrderType.MARKET, price=None, trig=None, key="o1"):
    return OrderRequest(Exchange.NFO, sym, side, qty, Product.NRML, ot, price=price, trigger_price=trig,
                        tag=order_tag(key))


def test_login_checksum_then_trade(fake):
    c = ZerodhaClient(BrokerCredentials(api_key="k1", api_secret="s1", request_token="rt1"), root=fake.url)
    session = c.login()
    assert session.access_token == fake.access_token
    assert "access_token" not in repr(session) or fake.access_token not in repr(session)
    bad = ZerodhaClient(BrokerCredentials(api_key="k1", api_secret="wrong", request_token="rt1"), root=fake.url)
    with pytest.raises(SessionExpired):
        bad.login()


def test_place_modify_cancel_book_positions_ltp(fake):
    c = client(fake)
    ack = c.place_order(req())
    filled = c.order_status(ack.order_id)
    assert filled.status is OrderStatus.FILLED and filled.average_price == Decimal("120.5")
    assert filled.tag == order_tag("o1") and filled.placed_at.utcoffset().total_seconds() == 19800
    resting = c.place_order(req(ot=OrderType.LIMIT, price=Decimal("100.05"), key="o2"))
    assert c.order_status(resting.order_id).status is OrderStatus.OPEN
    c.modify_order(ModifyRequest(resting.order_id, price=Decimal("101.00")))
    assert c.order_status(resting.order_id).price == Decimal("101")
    c.cancel_order(resting.order_id)
    assert c.order_status(resting.order_id).status is OrderStatus.CANCELLED
    assert len(c.order_book()) == 2
    [pos] = c.positions()
    assert (pos.tradingsymbol, pos.quantity, pos.average_price) == (CE, 65, Decimal("120.5"))
    fake.engine.set_price("NFO", CE, Decimal("125.50"))
    [pos] = c.positions()
    assert pos.unrealised_pnl == Decimal("325")  # (125.50 - 120.50) x 65 units
    assert c.ltp([InstrumentRef(Exchange.NFO, CE)]) == {f"NFO:{CE}": Decimal("125.5")}
    q = c.quotes([InstrumentRef(Exchange.NFO, PE)])[f"NFO:{PE}"]
    assert (q.bid, q.ask) == (Decimal("97.95"), Decimal("98.05"))
    assert {i.tradingsymbol: i.lot_size for i in c.instruments("NFO")}[CE] == 65


def test_validation_rejections(fake):
    c = client(fake)
    with pytest.raises(OrderRejected, match="lot size"):
        c.place_order(req(qty=50))
    with pytest.raises(OrderRejected, match="tick"):
        c.place_order(req(ot=OrderType.LIMIT, price=Decimal("100.03")))
    with pytest.raises(OrderRejected) as info:
        c.place_order(req(sym="NIFTY26AUG99999CE"))
    assert info.value.broker == "zerodha" and info.value.code == "InputException"
    assert fake.engine.orders == {}


@pytest.mark.parametrize("status,error", [(429, RateLimited), (503, BrokerUnavailable), (500, OutcomeUnknown), (502, OutcomeUnknown)])
def test_http_faults_on_place(fake, status, error):
    fake.faults.fail_next(status, path_contains="/orders")
    with pytest.raises(error) as info:
        client(fake).place_order(req())
    assert info.value.http_status == status
    assert fake.engine.orders == {}


def test_5xx_on_read_is_unavailable(fake):
    fake.faults.fail_next(500, path_contains="/orders")
    with pytest.raises(BrokerUnavailable):
        client(fake).order_book()


def test_expired_session(fake):
    fake.expire_session()
    with pytest.raises(SessionExpired) as info:
        client(fake).place_order(req())
    assert info.value.http_status == 403 and "expired" in info.value.broker_message


def test_connection_refused_is_unavailable(fake):
    url = fake.url
    fake.stop()
    c = ZerodhaClient(BrokerCredentials(api_key="k1"), BrokerSession(access_token="x"), root=url, timeout=1)
    with pytest.raises(BrokerUnavailable):
        c.place_order(req())


def test_timeout_after_acceptance_reconciles_by_tag(fake):
    c = client(fake, timeout=0.5)
    fake.faults.stall_after_accept(1.5)
    tag = order_tag("entry-leg-1")
    with pytest.raises(OutcomeUnknown) as info:
        c.place_order(req(key="entry-leg-1"))
    assert info.value.tag == tag
    found = c.find_order_by_tag(tag)
    assert found is not None and found.status is OrderStatus.FILLED
    assert len(fake.engine.orders) == 1  # reconciled, never re-sent
    assert c.find_order_by_tag(order_tag("never-sent")) is None


@pytest.mark.slow
def test_rate_limit_measured_at_the_fake(fake):
    c = client(fake)
    for i in range(25):
        c.place_order(req(key=f"burst{i}"))
    times = fake.request_times("POST", "/orders/")
    assert len(times) == 25
    assert max_in_window(times, 1.0) <= 10
    assert times[-1] - times[0] < 3.0  # and it does not crawl
