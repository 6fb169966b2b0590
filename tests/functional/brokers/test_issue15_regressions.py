"""Issue 15 findings, each a regression test against the fakes (real SDKs on 127.0.0.1)."""

from __future__ import annotations

from decimal import Decimal

import pyotp
import pytest

from local.fakes.kite import FakeKiteServer
from local.fakes.noren import FakeNorenServer
from local.fakes.smartapi import FakeSmartApiServer
from shared_utils.brokers.angel import AngelClient
from shared_utils.brokers.base import BrokerCredentials, BrokerSession
from shared_utils.brokers.errors import OutcomeUnknown, RateLimited
from shared_utils.brokers.models import OrderRequest
from shared_utils.brokers.noren import NorenClient
from shared_utils.brokers.zerodha import ZerodhaClient
from shared_utils.models.enums import Exchange, OrderStatus, OrderType, Product, TransactionType
from shared_utils.persistence.keys import order_tag

from .conftest import CE, INSTRUMENTS, set_prices

SECRET = pyotp.random_base32()


@pytest.fixture
def alerts():
    from shared_utils.brokers import alerts as module

    seen: list = []
    remove = module.add_sink(seen.append)
    yield seen
    remove()


def limit(key, price="100.00", side=TransactionType.BUY, token="43650"):
    return OrderRequest(Exchange.NFO, CE, side, 65, Product.NRML, OrderType.LIMIT, price=Decimal(price),
                        tag=order_tag(key), symboltoken=token)


# ---- unknown broker answers never break a read ----------------------------------------------
def test_kite_unknown_status_reads_as_unknown_with_an_alert_and_reconciliation_still_works(alerts, monkeypatch):
    with FakeKiteServer(INSTRUMENTS, api_key="k", exchange_latency_s=0) as fake:
        set_prices(fake.engine, {CE: "120.50"})
        c = ZerodhaClient(BrokerCredentials(api_key="k"), BrokerSession(access_token=fake.access_token), root=fake.url)
        first = c.place_order(limit("u1"))
        c.place_order(limit("u2"))
        from local.fakes import kite as kite_module

        monkeypatch.setitem(kite_module._STATUS, "OPEN", "AWAITING EXCHANGE SLOT")  # a status Kite adds one day
        book = c.order_book()  # used to raise UnmappedValue: the whole book unreadable
        assert {r.status for r in book} == {OrderStatus.UNKNOWN}
        assert c.find_order_by_tag(order_tag("u1")).order_id == first.order_id
        assert alerts and alerts[0].raw == "AWAITING EXCHANGE SLOT" and alerts[0].broker == "zerodha"
        assert "AWAITING EXCHANGE SLOT" in alerts[0].message


@pytest.mark.parametrize("raw,expected", [("Open", OrderStatus.OPEN), ("REJECT", OrderStatus.REJECTED),
                                          ("CANCELED", OrderStatus.CANCELLED), ("TRIGGER_PENDING", OrderStatus.TRIGGER_PENDING),
                                          ("PENDING", OrderStatus.OPEN), ("SOMETHING_NEW", OrderStatus.UNKNOWN)])
def test_noren_status_spellings(raw, expected, alerts, monkeypatch):
    with FakeNorenServer(INSTRUMENTS, exchange_latency_s=0) as fake:
        set_prices(fake.engine, {CE: "120.50"})
        c = NorenClient("zebu", BrokerCredentials(user_id="FA1234"), BrokerSession(access_token=fake.access_token),
                        host=fake.url)
        ack = c.place_order(limit("n1"))
        from local.fakes import noren as noren_module

        monkeypatch.setitem(noren_module._STATUS_BOOK, "OPEN", raw)
        assert c.order_status(ack.order_id).status is expected
        assert bool(alerts) is (expected is OrderStatus.UNKNOWN)


# ---- Angel --------------------------------------------------------------------------------------
@pytest.fixture
def angel():
    with FakeSmartApiServer(INSTRUMENTS, api_key="ak", client_code="A123", password="1234", totp_secret=SECRET, exchange_latency_s=0) as fake:
        set_prices(fake.engine, {CE: "120.50"})
        yield fake, AngelClient(BrokerCredentials(api_key="ak", client_code="A123", password="1234", totp_secret=SECRET),
                                BrokerSession(access_token=fake.jwt, refresh_token=fake.refresh_token), root=fake.url)


def test_angel_ab2001_in_http_200_is_outcome_unknown_and_reconciled(angel):
    fake, c = angel
    fake.internal_error_after_accept()
    with pytest.raises(OutcomeUnknown) as info:
        c.place_order(limit("ab2001"))
    assert info.value.code == "AB2001" and info.value.tag == order_tag("ab2001")
    found = c.find_order_by_tag(order_tag("ab2001"))  # the order exists: never re-send
    assert found is not None and len(fake.engine.orders) == 1


def test_angel_plain_text_403_rate_limit_is_rate_limited(angel):
    fake, c = angel
    fake.faults.fail_next(429, path_contains="getOrderBook")  # the fake answers 403 text/plain
    with pytest.raises(RateLimited):
        c.order_book()
    fake.faults.fail_next(429, path_contains="placeOrder")
    with pytest.raises(RateLimited):
        c.place_order(limit("rl"))
    assert fake.engine.orders == {}


def test_angel_refresh_token_refused_logs_in_again_with_mpin(angel):
    fake, c = angel
    c.api.refresh_token = "stale"  # generateTokens answers AB8051: not a session error
    session = c.refresh()
    assert session.access_token == fake.jwt


def test_angel_login_needs_the_4_digit_mpin(angel):
    fake, _ = angel
    c = AngelClient(BrokerCredentials(api_key="ak", client_code="A123", password="trading-password", totp_secret=SECRET),
                    root=fake.url)
    with pytest.raises(ValueError, match="4-digit MPIN"):
        c.login()
    assert not any("loginByPassword" in path for _, _, path in fake.requests_log)


def test_angel_stop_market_goes_as_stop_limit(angel):
    fake, c = angel
    stop = OrderRequest(Exchange.NFO, CE, TransactionType.SELL, 65, Product.NRML, OrderType.SL_M,
                        trigger_price=Decimal("100.00"), tag=order_tag("st"), symboltoken="43650")
    order = fake.engine.orders[c.place_order(stop).order_id]
    assert (order.order_type, order.variety, order.price, order.status) == ("SL", "STOPLOSS", Decimal("98.00"), "TRIGGER_PENDING")
