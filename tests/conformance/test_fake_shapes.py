"""Every response our fakes produce has the official sample's fields and JSON types (issue 15).

A field the sample has and the fake lacks, or a field of another JSON kind, fails naming the
field (``shapes.shape_problems``). Int and float are one JSON kind (number); a sample ``null``
accepts any kind; extra fields are allowed.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest
import requests

from local.fakes.kite import FakeKiteServer
from local.fakes.noren import FakeNorenServer
from local.fakes.smartapi import FakeSmartApiServer

from .conftest import sample
from .shapes import shape_problems

CE, PE = "NIFTY2681825000CE", "NIFTY2681825000PE"
INSTRUMENTS = [("NFO", CE, "43650", 65, "0.05"), ("NFO", PE, "43651", 65, "0.05")]


def test_shape_checker_names_missing_and_mistyped_fields():
    assert shape_problems({"a": 1, "b": "x"}, {"a": 2.5, "b": "y", "c": 1}) == []
    assert shape_problems({"a": 1, "b": "x"}, {"a": "1"}) == [
        "$.a: is string, the sample has number (1)", "$.b: missing (the sample has string 'x')"]
    assert shape_problems([{"id": "1", "t": None}, {"id": "2", "t": "x"}], [{"id": 3}]) == [
        "$[0].id: is number, the sample has ['string']", "$[0].t: missing (every sample row has it)"]


# ---------------------------------------------------------------- Kite
@pytest.fixture
def kite():
    with FakeKiteServer(INSTRUMENTS, api_key="k", api_secret="s", request_token="rt", exchange_latency_s=0) as fake:
        fake.engine.set_price("NFO", CE, Decimal("120.50"))
        fake.engine.set_price("NFO", PE, Decimal("98.00"))
        headers = {"X-Kite-Version": "3", "Authorization": f"token k:{fake.access_token}"}

        def call(method, path, **kw):
            return requests.request(method, fake.url + path, headers=headers, timeout=3, **kw)

        yield fake, call


def test_kite_fake_responses_match_the_mocks(kite):
    fake, call = kite
    placed = call("POST", "/orders/regular", data={"exchange": "NFO", "tradingsymbol": CE, "transaction_type": "BUY",
                                                   "quantity": 65, "product": "NRML", "order_type": "MARKET",
                                                   "market_protection": -1, "tag": "T1"}).json()
    assert shape_problems(sample("kite/order_response.json"), placed) == []
    oid = placed["data"]["order_id"]
    assert isinstance(oid, str) and len(oid) == 19  # new Kite ids: 19-digit strings
    resting = call("POST", "/orders/regular", data={"exchange": "NFO", "tradingsymbol": PE, "transaction_type": "BUY",
                                                    "quantity": 65, "product": "NRML", "order_type": "LIMIT",
                                                    "price": "97.00", "tag": "T2"}).json()["data"]["order_id"]
    assert shape_problems(sample("kite/order_modify.json"),
                          call("PUT", f"/orders/regular/{resting}", data={"price": "96.50"}).json()) == []
    assert shape_problems(sample("kite/order_cancel.json"), call("DELETE", f"/orders/regular/{resting}").json()) == []
    checks = {
        "kite/orders.json": call("GET", "/orders"),
        "kite/order_info.json": call("GET", f"/orders/{oid}"),
        "kite/trades.json": call("GET", "/trades"),
        "kite/order_trades.json": call("GET", f"/orders/{oid}/trades"),
        "kite/positions.json": call("GET", "/portfolio/positions"),
        "kite/quote.json": call("GET", "/quote", params={"i": f"NFO:{CE}"}),
        "kite/ltp.json": call("GET", "/quote/ltp", params={"i": f"NFO:{CE}"}),
        "kite/ohlc.json": call("GET", "/quote/ohlc", params={"i": f"NFO:{CE}"}),
    }
    for name, answer in checks.items():
        expected, actual = sample(name), answer.json()
        if name in ("kite/quote.json", "kite/ltp.json", "kite/ohlc.json"):  # keyed by instrument
            expected = {"status": expected["status"], "data": next(iter(expected["data"].values()))}
            actual = {"status": actual["status"], "data": next(iter(actual["data"].values()))}
        assert shape_problems(expected, actual) == [], name
    orders = call("GET", "/orders").json()["data"]
    assert orders[0]["market_protection"] == -1 and orders[0]["tags"] == ["T1"]


def test_kite_fake_login_and_error_shapes(kite):
    fake, call = kite
    checksum = hashlib.sha256(b"k" + b"rt" + b"s").hexdigest()
    session = requests.post(fake.url + "/session/token", headers={"X-Kite-Version": "3"}, timeout=3,
                            data={"api_key": "k", "request_token": "rt", "checksum": checksum}).json()
    assert shape_problems(sample("kite/generate_session.json"), session) == []
    refused = requests.get(fake.url + "/orders", headers={"X-Kite-Version": "3", "Authorization": "token k:bad"}, timeout=3)
    assert refused.status_code == 403
    assert shape_problems(sample("kite/errors.json")["error_envelope"]["body"], refused.json()) == []
    assert refused.json()["error_type"] in {e["error_type"] for e in sample("kite/errors.json")["error_types_in_docs"]}


# ---------------------------------------------------------------- Noren
@pytest.fixture
def noren():
    # fills synchronous here: the position book must hold the marketable order's fill when it is
    # read (with the realistic 5 ms exchange latency it raced the reads and answered "no data")
    with FakeNorenServer(INSTRUMENTS, exchange_latency_s=0) as fake:
        fake.engine.set_price("NFO", CE, Decimal("120.50"))

        def call(route, payload):
            return requests.post(f"{fake.url}/NorenWClientAPI/{route}", data="jData=" + json.dumps(payload), timeout=3,
                                 headers={"Authorization": f"Bearer {fake.access_token}"})

        yield fake, call


def test_noren_fake_responses_match_the_readme_samples(noren):
    fake, call = noren
    assert shape_problems(sample("noren/position_book_response_failure.json"), call("PositionBook", {"uid": "FA1234"}).json()) == []
    assert call("OrderBook", {"uid": "FA1234"}).json()["emsg"] == 'Error Occurred : 5 "no data"'
    order = {"uid": "FA1234", "actid": "FA1234", "exch": "NFO", "tsym": CE, "qty": "65", "prc": "121.00",
             "prd": "M", "trantype": "B", "prctyp": "LMT", "ret": "DAY", "remarks": "T1"}
    placed = call("PlaceOrder", order).json()
    assert shape_problems(sample("noren/place_order_response_success.json"), placed) == []
    resting = call("PlaceOrder", {**order, "prc": "110.00", "remarks": "T2"}).json()["norenordno"]
    assert shape_problems(sample("noren/modify_order_response_success.json"),
                          call("ModifyOrder", {"uid": "FA1234", "norenordno": resting, "prc": "110.50"}).json()) == []
    checks = {
        "noren/order_book_response.json": call("OrderBook", {"uid": "FA1234"}).json(),
        "noren/single_order_history_response.json": call("SingleOrdHist", {"uid": "FA1234", "norenordno": placed["norenordno"]}).json(),
        "noren/position_book_response.json": call("PositionBook", {"uid": "FA1234"}).json(),
        "noren/get_quotes_response.json": call("GetQuotes", {"uid": "FA1234", "exch": "NFO", "token": "43650"}).json(),
        "noren/cancel_order_response_success.json": call("CancelOrder", {"uid": "FA1234", "norenordno": resting}).json(),
        "noren/place_order_response_error.json": call("PlaceOrder", {**order, "qty": "1"}).json(),
        "noren/modify_order_response_failure.json": call("ModifyOrder", {"uid": "FA1234", "norenordno": "9"}).json(),
        "noren/cancel_order_response_failure.json": call("CancelOrder", {"uid": "FA1234", "norenordno": "9"}).json(),
        "noren/get_quotes_response_failure.json": call("GetQuotes", {"uid": "FA1234", "exch": "NFO", "token": "9"}).json(),
    }
    for name, actual in checks.items():
        assert shape_problems(sample(name), actual) == [], name
    assert checks["noren/get_quotes_response_failure.json"]["emsg"] == 'Error Occurred : 5 "no data"'
    assert "Order not found" in checks["noren/modify_order_response_failure.json"]["emsg"]


def test_noren_fake_genacstok_answers_the_documented_fields(noren):
    fake, _ = noren
    code = fake.authorize(fake.client_id)
    checksum = hashlib.sha256((fake.client_id + fake.secret_key + code).encode()).hexdigest()
    answer = requests.post(f"{fake.url}/NorenWClientAPI/GenAcsTok", data="jData=" + json.dumps({"code": code, "checksum": checksum}),
                           timeout=3).json()
    documented = sample("noren/oauth_flow.json")["step_3_GenAcsTok"]["response_fields"]
    assert set(documented) <= set(answer) and answer["stat"] == "Ok"


# ---------------------------------------------------------------- SmartAPI
def test_smartapi_fake_responses_match_the_samples():
    with FakeSmartApiServer(INSTRUMENTS, api_key="ak", exchange_latency_s=0) as fake:
        fake.engine.set_price("NFO", CE, Decimal("120.50"))
        base = fake.url + "/rest/secure/angelbroking/order/v1/"
        headers = {"X-PrivateKey": "ak", "Authorization": f"Bearer {fake.jwt}", "Content-Type": "application/json"}
        order = {**sample("smartapi/place_order_request.json"), "exchange": "NFO", "tradingsymbol": CE,
                 "symboltoken": "43650", "quantity": "65", "price": "110.00", "producttype": "CARRYFORWARD", "ordertag": "T1"}
        placed = requests.post(base + "placeOrder", json=order, headers=headers, timeout=3).json()
        assert shape_problems(sample("smartapi/response_envelopes.json")["successful_request"], placed) == []
        oid = placed["data"]["orderid"]
        modified = requests.post(base + "modifyOrder", headers=headers, timeout=3,
                                 json={**order, "orderid": oid, "price": "111.00"}).json()
        assert shape_problems(sample("smartapi/modify_order_response.json"), modified) == []
        book = requests.get(base + "getOrderBook", headers=headers, timeout=3).json()
        assert shape_problems(sample("smartapi/order_book_response_partial.json")["sample_prefix"], book) == []
        failed = requests.post(base + "placeOrder", json={**order, "ordertag": "X" * 21}, headers=headers, timeout=3).json()
        # the docs print "false"/"null" as strings; users quote JSON false/null (SOURCES.md): keys only
        assert set(sample("smartapi/response_envelopes.json")["failed_request"]) == set(failed)
        assert (failed["status"], failed["errorcode"]) == (False, "AB4008")
        fake.faults.fail_next(429, path_contains="getOrderBook")
        throttled = requests.get(base + "getOrderBook", headers=headers, timeout=3)
        text = sample("smartapi/rate_limits.json")["rate_limited_answer"]
        assert (throttled.status_code, throttled.text) == (text["http_status_reported_by_user"], text["body_text"])
