"""The fakes refuse what the real brokers refuse, in the real error shape; our adapters never
send what is refused (issue 15)."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
import requests

from local.fakes.kite import FakeKiteServer
from local.fakes.noren import FakeNorenServer
from local.fakes.smartapi import FakeSmartApiServer
from shared_utils.brokers.angel import AngelClient
from shared_utils.brokers.base import BrokerCredentials, BrokerSession
from shared_utils.brokers.models import OrderRequest
from shared_utils.brokers.noren import NorenClient
from shared_utils.brokers.zerodha import ZerodhaClient
from shared_utils.clock import IST
from shared_utils.models.enums import Exchange, OrderStatus, OrderType, Product, TransactionType

from .conftest import sample
from .shapes import shape_problems

CE = "NIFTY2681825000CE"
INSTRUMENTS = [("NFO", CE, "43650", 65, "0.05")]
SUNDAY = datetime(2026, 8, 16, 11, 0, tzinfo=IST)
AFTER_CLOSE = datetime(2026, 8, 18, 15, 45, tzinfo=IST)  # a Tuesday; NSE F&O closes 15:40 from 2026-08-03
BEFORE_NEW_CLOSE = datetime(2026, 8, 18, 15, 35, tzinfo=IST)


def kite_post(fake, **form):
    base = {"exchange": "NFO", "tradingsymbol": CE, "transaction_type": "SELL", "quantity": 65, "product": "NRML"}
    return requests.post(fake.url + "/orders/regular", data={**base, **form}, timeout=3,
                         headers={"X-Kite-Version": "3", "Authorization": f"token k:{fake.access_token}"})


@pytest.fixture
def kite():
    with FakeKiteServer(INSTRUMENTS, api_key="k", exchange_latency_s=0) as fake:
        fake.engine.set_price("NFO", CE, Decimal("100.00"))
        yield fake


@pytest.mark.parametrize("form,words", [
    ({"order_type": "MARKET"}, "market protection"),
    ({"order_type": "MARKET", "market_protection": "0"}, "market protection"),
    ({"order_type": "SL-M", "trigger_price": "90"}, "market protection"),
    ({"order_type": "SL-M", "trigger_price": "90", "market_protection": "-1"}, "16052"),
    ({"order_type": "LIMIT", "price": "150.00"}, "price band"),
    ({"order_type": "SL", "trigger_price": "90.00", "price": "60.00"}, "too far"),
    ({"order_type": "LIMIT", "price": "100.00", "tag": "T" * 21}, "Tag length"),
])
def test_kite_fake_refuses_like_kite(kite, form, words):
    answer = kite_post(kite, **form)
    assert answer.status_code == 400 and words in answer.json()["message"]
    assert shape_problems(sample("kite/errors.json")["error_envelope"]["body"], answer.json()) == []
    assert answer.json()["error_type"] == "InputException" and kite.engine.orders == {}


@pytest.mark.parametrize("now", [SUNDAY, AFTER_CLOSE])
def test_kite_fake_refuses_a_closed_market(now):
    with FakeKiteServer(INSTRUMENTS, api_key="k", clock=lambda: now) as fake:
        answer = kite_post(fake, order_type="LIMIT", price="100.00")
        assert answer.status_code == 400 and "closed" in answer.json()["message"]
    with FakeKiteServer(INSTRUMENTS, api_key="k", clock=lambda: BEFORE_NEW_CLOSE) as fake:
        assert kite_post(fake, order_type="LIMIT", price="100.00").status_code == 200  # 15:35 < 15:40


def test_kite_adapter_sends_only_what_kite_takes(kite):
    client = ZerodhaClient(BrokerCredentials(api_key="k"), BrokerSession(access_token=kite.access_token), root=kite.url)
    market = client.place_order(OrderRequest(Exchange.NFO, CE, TransactionType.BUY, 65, Product.NRML, OrderType.MARKET, tag="M1"))
    assert client.order_status(market.order_id).status is OrderStatus.FILLED
    stop = client.place_order(OrderRequest(Exchange.NFO, CE, TransactionType.SELL, 65, Product.NRML, OrderType.SL_M,
                                           trigger_price=Decimal("90.00"), tag="S1"))
    report = client.order_status(stop.order_id)
    assert report.status is OrderStatus.TRIGGER_PENDING and report.order_type is OrderType.SL
    assert report.price == Decimal("87.3")  # 3 % below the trigger (slab for 10-100), inside the band


# ---------------------------------------------------------------- Noren
def noren_post(fake, **j):
    order = {"uid": "FA1234", "actid": "FA1234", "exch": "NFO", "tsym": CE, "qty": "65", "prc": "0", "prd": "M",
             "trantype": "S", "prctyp": "LMT", "ret": "DAY", **j}
    return requests.post(f"{fake.url}/NorenWClientAPI/PlaceOrder", data="jData=" + json.dumps(order), timeout=3,
                         headers={"Authorization": f"Bearer {fake.access_token}"}).json()


@pytest.mark.parametrize("j,words", [
    ({"prctyp": "MKT"}, "MKT orders are not allowed"),
    ({"prctyp": "SL-MKT", "trgprc": "90.00"}, "SL-MKT orders are not allowed"),
    ({"prctyp": "LMT", "prc": "150.00"}, "price band"),
])
def test_noren_fake_refuses_like_noren(j, words):
    with FakeNorenServer(INSTRUMENTS, exchange_latency_s=0) as fake:
        fake.engine.set_price("NFO", CE, Decimal("100.00"))
        answer = noren_post(fake, **j)
        assert answer["stat"] == "Not_Ok" and words in answer["emsg"] and fake.engine.orders == {}
        assert shape_problems(sample("noren/place_order_response_error.json"), answer) == []


def test_noren_fake_refuses_a_closed_market_and_adapter_sends_lmt():
    with FakeNorenServer(INSTRUMENTS, clock=lambda: SUNDAY) as fake:
        assert "closed" in noren_post(fake, prc="100.00")["emsg"]
    with FakeNorenServer(INSTRUMENTS, exchange_latency_s=0) as fake:
        fake.engine.set_price("NFO", CE, Decimal("100.00"))
        client = NorenClient("finvasia", BrokerCredentials(user_id="FA1234"), BrokerSession(access_token=fake.access_token),
                             host=fake.url + "/NorenWClientAPI")
        ack = client.place_order(OrderRequest(Exchange.NFO, CE, TransactionType.BUY, 65, Product.MIS, OrderType.MARKET,
                                              tag="M1", symboltoken="43650"))
        report = client.order_status(ack.order_id)
        assert (report.status, report.order_type, report.price) == (OrderStatus.FILLED, OrderType.LIMIT, Decimal("102.00"))
        stop = client.place_order(OrderRequest(Exchange.NFO, CE, TransactionType.SELL, 65, Product.MIS, OrderType.SL_M,
                                               trigger_price=Decimal("90.00"), tag="S1", symboltoken="43650"))
        assert client.order_status(stop.order_id).order_type is OrderType.SL


# ---------------------------------------------------------------- SmartAPI
def test_smartapi_fake_refuses_with_angels_codes_and_books_rms_rejections():
    with FakeSmartApiServer(INSTRUMENTS, api_key="ak", clock=lambda: SUNDAY) as fake:
        fake.engine.set_price("NFO", CE, Decimal("100.00"))
        url = fake.url + "/rest/secure/angelbroking/order/v1/placeOrder"
        headers = {"X-PrivateKey": "ak", "Authorization": f"Bearer {fake.jwt}"}
        order = {"variety": "NORMAL", "tradingsymbol": CE, "symboltoken": "43650", "transactiontype": "BUY",
                 "exchange": "NFO", "ordertype": "LIMIT", "producttype": "CARRYFORWARD", "duration": "DAY",
                 "price": "100.00", "quantity": "65", "ordertag": "T1"}
        for change, code in (({"ordertag": "T" * 21}, "AB4008"), ({"producttype": "NRML"}, "AB1012"),
                             ({"variety": "STOPLOSS"}, "AB1008"), ({"symboltoken": "1"}, "AB1009")):
            answer = requests.post(url, json={**order, **change}, headers=headers, timeout=3).json()
            assert (answer["status"], answer["errorcode"]) == (False, code), change
        placed = requests.post(url, json=order, headers=headers, timeout=3).json()  # market closed
        assert fake.engine.orders[placed["data"]["orderid"]].status == "REJECTED"
        assert "closed" in fake.engine.orders[placed["data"]["orderid"]].message


def test_angel_adapter_sends_protected_limit_for_market():
    with FakeSmartApiServer(INSTRUMENTS, api_key="ak", exchange_latency_s=0) as fake:
        fake.engine.set_price("NFO", CE, Decimal("100.00"))
        client = AngelClient(BrokerCredentials(api_key="ak"), BrokerSession(access_token=fake.jwt), root=fake.url)
        ack = client.place_order(OrderRequest(Exchange.NFO, CE, TransactionType.SELL, 65, Product.NRML, OrderType.MARKET,
                                              tag="M1", symboltoken="43650"))
        order = fake.engine.orders[ack.order_id]
        assert (order.order_type, order.price, order.status) == ("LIMIT", Decimal("98.00"), "COMPLETE")
