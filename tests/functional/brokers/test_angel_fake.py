"""AngelClient through the real smartapi-python SDK against FakeSmartApiServer on 127.0.0.1."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import pyotp
import pytest

from local.fakes.smartapi import FakeSmartApiServer
from shared_utils.brokers.angel import AngelClient
from shared_utils.brokers.base import BrokerCredentials, BrokerSession
from shared_utils.brokers.errors import (
    BrokerUnavailable, OrderRejected, OutcomeUnknown, RateLimited, SessionExpired,
)
from shared_utils.brokers.models import InstrumentRef, ModifyRequest, OrderRequest
from shared_utils.models.enums import Exchange, OrderStatus, OrderType, Product, TransactionType
from shared_utils.persistence.keys import order_tag

from .conftest import CE, INSTRUMENTS, PE, max_in_window, set_prices

REPO = Path(__file__).resolve().parents[3]
SECRET = pyotp.random_base32()
CREDS = BrokerCredentials(api_key="ak", client_code="A123", password="9999", totp_secret=SECRET)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the SDK would write logs/<date>/app.log here
    with FakeSmartApiServer(INSTRUMENTS, api_key="ak", client_code="A123", password="9999", totp_secret=SECRET, exchange_latency_s=0) as server:
        set_prices(server.engine, {CE: "120.50", PE: "98.00"})
        yield server
    assert not (tmp_path / "logs").exists(), "SmartAPI SDK wrote a log directory into the CWD"


def client(fake, timeout=2.0):
    return AngelClient(CREDS, BrokerSession(access_token=fake.jwt, refresh_token=fake.refresh_token), root=fake.url, timeout=timeout)


def req(ot=OrderType.MARKET, price=None, trig=None, qty=65, key="a1", side=TransactionType.BUY, token="43650"):
    return OrderRequest(Exchange.NFO, CE, side, qty, Product.NRML, ot, price=price, trigger_price=trig,
                        tag=order_tag(key), symboltoken=token)


def test_import_does_not_reach_the_network():
    """Fresh interpreter: any non-loopback connect or DNS lookup during import is recorded."""
    code = textwrap.dedent("""
        import socket, sys
        attempts = []
        real_connect, real_gai = socket.socket.connect, socket.getaddrinfo
        def connect(self, addr):
            attempts.append(addr); raise OSError("blocked")
        def gai(host, *a, **k):
            attempts.append(host); raise OSError("blocked")
        socket.socket.connect = connect
        socket.getaddrinfo = gai
        socket.gethostbyname = lambda h: attempts.append(h) or "0.0.0.0"
        from shared_utils.brokers import _smartapi_loader as L
        SC = L.load_smartconnect()
        assert attempts == [], attempts
        assert L.IMPORT_TIME_LOOKUPS_BLOCKED == ["https://api.ipify.org"], L.IMPORT_TIME_LOOKUPS_BLOCKED
        assert SC.clientPublicIp == "106.193.147.98"
        print("OK")
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "OK"


def test_login_with_totp_and_wrong_totp(fake):
    c = AngelClient(CREDS, root=fake.url)
    session = c.login()
    assert session.access_token == fake.jwt and session.user_id == "A123"
    bad = AngelClient(BrokerCredentials(api_key="ak", client_code="A123", password="9999",
                                        totp_secret=pyotp.random_base32()), root=fake.url)
    with pytest.raises(OrderRejected) as info:
        bad.login()
    assert info.value.code == "AB1050"


def test_place_modify_cancel_book_positions_ltp(fake):
    c = client(fake)
    ack = c.place_order(req())
    rep = c.order_status(ack.order_id)
    assert rep.status is OrderStatus.FILLED and rep.average_price == Decimal("120.5") and rep.tag == order_tag("a1")
    sl = c.place_order(req(ot=OrderType.SL, price=Decimal("110.00"), trig=Decimal("110.50"), side=TransactionType.SELL, key="a2"))
    assert c.order_status(sl.order_id).status is OrderStatus.TRIGGER_PENDING
    assert fake.engine.orders[sl.order_id].variety == "STOPLOSS"
    c.modify_order(ModifyRequest(sl.order_id, trigger_price=Decimal("111.00"), price=Decimal("110.50")))
    assert c.order_status(sl.order_id).trigger_price == Decimal("111")
    c.cancel_order(sl.order_id)
    assert c.order_status(sl.order_id).status is OrderStatus.CANCELLED
    [pos] = c.positions()
    assert (pos.quantity, pos.average_price, pos.product) == (65, Decimal("120.50"), Product.NRML)
    assert c.ltp([InstrumentRef(Exchange.NFO, PE, "43651")]) == {f"NFO:{PE}": Decimal("98.0")}
    q = c.quotes([InstrumentRef(Exchange.NFO, CE, "43650")])[f"NFO:{CE}"]
    assert q.ltp == Decimal("120.5") and q.bid == Decimal("120.45")


def test_validation_rejections(fake):
    """Request errors answer Angel's codes (AB1009 symbol not found); RMS refusals (lot size,
    tick) are booked as rejected orders with the reason, as Angel reports them."""
    c = client(fake)
    with pytest.raises(OrderRejected, match="Symbol not found") as info:
        c.place_order(req(token="999"))
    assert info.value.code == "AB1009"
    assert fake.engine.orders == {}
    lot = c.order_status(c.place_order(req(qty=64)).order_id)
    assert lot.status is OrderStatus.REJECTED and "lot size" in lot.message
    tick = c.order_status(c.place_order(req(ot=OrderType.LIMIT, price=Decimal("100.01"), key="a9")).order_id)
    assert tick.status is OrderStatus.REJECTED and "tick" in tick.message


@pytest.mark.parametrize("shape,code", [("gateway", "AG8001"), ("envelope", "AB1010")])
def test_expired_session_both_shapes(fake, shape, code):
    fake.expire_session(shape)
    with pytest.raises(SessionExpired) as info:
        client(fake).place_order(req())
    assert info.value.code == code and info.value.broker == "angel"


@pytest.mark.parametrize("status,error", [(429, RateLimited), (503, BrokerUnavailable), (502, OutcomeUnknown), (500, OutcomeUnknown)])
def test_http_faults_on_place(fake, status, error, caplog):
    fake.faults.fail_next(status, path_contains="placeOrder")
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(error):
            client(fake).place_order(req())
    assert fake.engine.orders == {}
    assert fake.jwt not in caplog.text and "ak" not in caplog.text.split()


def test_sdk_error_logs_carry_no_credentials(fake, caplog):
    c = client(fake)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(OrderRejected):
            c.place_order(req(token="999"))  # SDK logs "API request failed ... Headers ..."
        with pytest.raises(OrderRejected):
            AngelClient(BrokerCredentials(api_key="ak", client_code="A123", password="9999",
                                          totp_secret=pyotp.random_base32()), root=fake.url).login()
    text = caplog.text
    assert fake.jwt not in text and "9999" not in text and "X-PrivateKey" not in text


def test_timeout_after_acceptance_reconciles_by_tag(fake):
    c = client(fake, timeout=0.5)
    fake.faults.stall_after_accept(1.5)
    tag = order_tag("angel-entry")
    with pytest.raises(OutcomeUnknown) as info:
        c.place_order(req(key="angel-entry"))
    assert info.value.tag == tag
    found = c.find_order_by_tag(tag)
    assert found is not None and found.tag == tag
    assert len(fake.engine.orders) == 1


@pytest.mark.slow
def test_rate_limit_measured_at_the_fake(fake):
    c = client(fake)
    for i in range(22):
        c.place_order(req(key=f"b{i}"))
    times = fake.request_times("POST", "placeOrder")
    assert len(times) == 22 and max_in_window(times) <= 10
