"""The broker fakes fill asynchronously, as the brokers do (issue 21 item 3): the answer to a
placement carries the order id while the order is still on its way to the exchange (Kite's order
history: PUT ORDER REQ RECEIVED -> VALIDATION PENDING -> OPEN PENDING -> OPEN -> COMPLETE,
broker-samples/kite/order_info.json; Noren's SingleOrdHist newest first: Fill, New, PendingNew,
NewAck, noren/single_order_history_response.json), and their HTTP answers are not held ~40 ms
by Nagle's algorithm against the client's delayed ACK."""

from __future__ import annotations

import json
import time
import urllib.request
from decimal import Decimal

import pytest

from local.fakes.core import OrderEngine
from local.fakes.noren import FakeNorenServer
from local.fakes.smartapi import FakeSmartApiServer

SYM = "NIFTY2681825000CE"
ROWS = [("NFO", SYM, "1001", 65, "0.05")]


def _engine(latency: float) -> OrderEngine:
    engine = OrderEngine(ROWS, exchange_latency_s=latency)
    engine.set_price("NFO", SYM, "100")
    return engine


def _market(engine: OrderEngine, side: str = "BUY"):
    return engine.place(exchange="NFO", tradingsymbol=SYM, side=side, quantity=65, product="NRML",
                        order_type="MARKET", price=Decimal("0"), trigger_price=Decimal("0"), tag="t1")


def test_an_order_is_pending_until_it_reaches_the_exchange_then_fills():
    engine = _engine(0.02)
    order = _market(engine)
    engine.match()
    assert order.status == "PENDING" and order.filled == 0 and not engine.trades
    assert engine.positions() == []  # nothing traded yet
    time.sleep(0.03)
    engine.match()
    assert order.status == "COMPLETE" and order.filled == 65
    assert [s for s, _ in order.history] == ["PENDING", "OPEN", "COMPLETE"]
    assert engine.positions()[0]["qty"] == 65


def test_a_stop_goes_from_pending_to_trigger_pending():
    engine = _engine(0.0)
    stop = engine.place(exchange="NFO", tradingsymbol=SYM, side="BUY", quantity=65, product="NRML", order_type="SL",
                        price=Decimal("121"), trigger_price=Decimal("120"), tag="s1")
    assert stop.status == "TRIGGER_PENDING" and [s for s, _ in stop.history] == ["PENDING", "TRIGGER_PENDING"]


def test_a_pending_order_can_be_cancelled_and_never_fills():
    engine = _engine(0.02)
    order = _market(engine)
    engine.cancel(order.order_id)
    time.sleep(0.03)
    engine.match()
    assert order.status == "CANCELLED" and order.filled == 0 and not engine.trades


def test_zero_latency_is_the_synchronous_exchange_of_shape_tests():
    engine = _engine(0.0)
    assert _market(engine).status == "COMPLETE"


def _noren_post(fake: FakeNorenServer, route: str, body: dict) -> object:
    request = urllib.request.Request(f"{fake.url}/NorenWClientAPI/{route}", data=("jData=" + json.dumps(body)).encode(),
                                     method="POST", headers={"Authorization": f"Bearer {fake.access_token}"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())


def test_noren_single_order_history_walks_newest_first():
    with FakeNorenServer(ROWS, exchange_latency_s=0.01) as fake:
        fake.engine.set_price("NFO", SYM, "100")
        placed = _noren_post(fake, "PlaceOrder", {"uid": fake.uid, "actid": fake.uid, "exch": "NFO", "tsym": SYM,
                                                  "qty": "65", "prc": "105", "prd": "M", "trantype": "B",
                                                  "prctyp": "LMT", "ret": "DAY", "remarks": "n1"})
        early = _noren_post(fake, "SingleOrdHist", {"uid": fake.uid, "norenordno": placed["norenordno"]})
        assert [(r["status"], r["rpt"]) for r in early] == [("PENDING", "PendingNew"), ("PENDING", "NewAck")]
        time.sleep(0.02)
        rows = _noren_post(fake, "SingleOrdHist", {"uid": fake.uid, "norenordno": placed["norenordno"]})
        assert [(r["status"], r["rpt"]) for r in rows] == [("COMPLETE", "Fill"), ("OPEN", "New"),
                                                           ("PENDING", "PendingNew"), ("PENDING", "NewAck")]
        assert rows[0]["fillshares"] == "65" and rows[1]["fillshares"] == "0"


def test_angel_order_details_answers_one_order_or_ab1013():
    with FakeSmartApiServer(ROWS, api_key="ak", exchange_latency_s=0.0) as fake:
        fake.engine.set_price("NFO", SYM, "100")
        order = _market(fake.engine)
        headers = {"X-PrivateKey": "ak", "Authorization": f"Bearer {fake.jwt}", "Content-Type": "application/json"}
        base = f"{fake.url}/rest/secure/angelbroking/order/v1/details/"
        with urllib.request.urlopen(urllib.request.Request(base + "u-" + order.order_id, headers=headers)) as answer:
            body = json.loads(answer.read())
        assert body["status"] is True and body["data"]["orderid"] == order.order_id
        assert body["data"]["status"] == "complete" and body["data"]["filledshares"] == "65"
        with urllib.request.urlopen(urllib.request.Request(base + "u-999", headers=headers)) as answer:
            missing = json.loads(answer.read())
        assert missing["status"] is False and missing["errorcode"] == "AB1013"


@pytest.mark.parametrize("rounds", [20])
def test_kept_alive_requests_answer_in_milliseconds(rounds):
    """The fakes' answers left as two writes (headers, body); with Nagle on, the second waited
    for the client's delayed ACK: ~44 ms per request after the first on one connection."""
    import requests

    with FakeNorenServer(ROWS) as fake, requests.Session() as session:
        took = []
        for _ in range(rounds):
            started = time.perf_counter()
            session.post(f"{fake.url}/NorenWClientAPI/OrderBook", data="jData=" + json.dumps({"uid": fake.uid}),
                         headers={"Authorization": f"Bearer {fake.access_token}"}, timeout=5)
            took.append((time.perf_counter() - started) * 1000)
        assert sorted(took)[len(took) // 2] < 20, took
