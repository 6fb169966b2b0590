"""NorenClient (Shoonya and Zebu) over requests against FakeNorenServer on 127.0.0.1."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from local.fakes.noren import FakeNorenServer
from shared_utils.brokers.base import BrokerCredentials, BrokerSession
from shared_utils.brokers.errors import (
    BrokerUnavailable, OrderRejected, OutcomeUnknown, RateLimited, SessionExpired,
)
from shared_utils.brokers.models import InstrumentRef, ModifyRequest, OrderRequest
from shared_utils.brokers.noren import NorenClient
from shared_utils.models.enums import Exchange, OrderStatus, OrderType, Product, TransactionType
from shared_utils.persistence.keys import order_tag

from .conftest import CE, INSTRUMENTS, max_in_window, set_prices

CREDS = BrokerCredentials(user_id="FA1234", api_key="FA1234_U", api_secret="secret")


@pytest.fixture(params=["finvasia", "zebu"])
def env(request):
    with FakeNorenServer(INSTRUMENTS, exchange_latency_s=0) as server:
        set_prices(server.engine, {CE: "120.50"})
        yield request.param, server


def client(env, timeout=2.0):
    broker, fake = env
    return NorenClient(broker, CREDS, BrokerSession(access_token=fake.access_token), host=fake.url + "/NorenWClientAPI",
                       timeout=timeout)


def req(ot=OrderType.MARKET, price=None, trig=None, qty=65, key="n1"):
    return OrderRequest(Exchange.NFO, CE, TransactionType.BUY, qty, Product.MIS, ot, price=price, trigger_price=trig,
                        tag=order_tag(key), symboltoken="43650")


def test_oauth_login_code_checksum_bearer(env):
    """Issue 15: QuickAuth/jKey are retired; the code from the authorize redirect is exchanged at
    GenAcsTok (checksum sha256(client_id + secret + code)) and calls carry Bearer access_token."""
    broker, fake = env
    page = NorenClient(broker, CREDS, host=fake.url).authorize_url(state="st")
    answer = requests.get(page, allow_redirects=False, timeout=2)
    assert answer.status_code == 302 and "state=st" in answer.headers["Location"]
    code = answer.headers["Location"].split("code=")[1].split("&")[0]
    c = NorenClient(broker, BrokerCredentials(user_id="FA1234", api_key="FA1234_U", api_secret="secret",
                                              request_token=code), host=fake.url)
    session = c.login()
    assert session.access_token == fake.access_token != fake.susertoken
    assert c.order_book() == []
    with pytest.raises(OrderRejected, match="Invalid code"):  # a code works once
        c.login()
    wrong = NorenClient(broker, BrokerCredentials(user_id="FA1234", api_key="FA1234_U", api_secret="bad",
                                                  request_token=fake.authorize("FA1234_U")), host=fake.url)
    with pytest.raises(OrderRejected, match="checksum"):
        wrong.login()
    # the susertoken (myntapi's choice) is refused: the fake takes only what the adapter sends
    with pytest.raises(SessionExpired):
        NorenClient(broker, CREDS, BrokerSession(access_token=fake.susertoken), host=fake.url).order_book()
    legacy = requests.post(f"{fake.url}/NorenWClientAPI/OrderBook", timeout=2,
                           data='jData={"uid":"FA1234"}&jKey=' + fake.access_token)
    assert (legacy.json()["stat"], legacy.json()["emsg"]) == ("Not_Ok", "Session Expired : Invalid Session Key")


def test_place_modify_cancel_book_positions_ltp(env):
    _, fake = env
    c = client(env)
    assert c.order_book() == [] and c.positions() == []
    ack = c.place_order(req())
    rep = c.order_status(ack.order_id)
    assert rep.status is OrderStatus.FILLED and rep.average_price == Decimal("120.50") and rep.tag == order_tag("n1")
    lim = c.place_order(req(ot=OrderType.LIMIT, price=Decimal("100.00"), key="n2"))
    c.modify_order(ModifyRequest(lim.order_id, price=Decimal("101.00")))
    assert c.order_status(lim.order_id).price == Decimal("101.00")
    c.cancel_order(lim.order_id)
    assert c.order_status(lim.order_id).status is OrderStatus.CANCELLED
    [pos] = c.positions()
    assert (pos.quantity, pos.product, pos.average_price) == (65, Product.MIS, Decimal("120.50"))
    assert c.ltp([InstrumentRef(Exchange.NFO, CE, "43650")]) == {f"NFO:{CE}": Decimal("120.50")}


def test_validation_and_faults(env):
    _, fake = env
    c = client(env)
    with pytest.raises(OrderRejected, match="lot size"):
        c.place_order(req(qty=1))
    fake.faults.fail_next(429, path_contains="PlaceOrder")
    with pytest.raises(RateLimited):
        c.place_order(req())
    fake.faults.fail_next(503, path_contains="PlaceOrder")
    with pytest.raises(BrokerUnavailable):
        c.place_order(req())
    fake.faults.fail_next(500, path_contains="PlaceOrder")
    with pytest.raises(OutcomeUnknown):
        c.place_order(req())
    assert fake.engine.orders == {}
    fake.expire_session()
    with pytest.raises(SessionExpired) as info:
        c.order_book()
    assert "Session Expired" in info.value.broker_message


def test_timeout_after_acceptance_reconciles_by_tag(env):
    _, fake = env
    c = client(env, timeout=0.5)
    fake.faults.stall_after_accept(1.5)
    with pytest.raises(OutcomeUnknown):
        c.place_order(req(key="noren-entry"))
    found = c.find_order_by_tag(order_tag("noren-entry"))
    assert found is not None and found.status is OrderStatus.FILLED
    assert len(fake.engine.orders) == 1


@pytest.mark.slow
def test_rate_limit_measured_at_the_fake(env):
    _, fake = env
    c = client(env)
    for i in range(15):
        c.place_order(req(key=f"r{i}"))
    assert max_in_window(fake.request_times("POST", "PlaceOrder")) <= 10
