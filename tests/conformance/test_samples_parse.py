"""Every official sample parsed by our adapters into our typed reports (issue 15).

The samples are served byte for byte by a local replay server, so the real SDKs (kiteconnect,
smartapi-python) and our Noren client parse exactly what the brokers documented. Asserted: every
status string in them maps (no UNKNOWN, no alert), ids stay exact strings (19-digit Kite ids
beyond 2^53 included), failures land in the right error class.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from shared_utils.brokers.angel import AngelClient, check_envelope
from shared_utils.brokers.base import BrokerCredentials, BrokerSession
from shared_utils.brokers.errors import (
    OrderNotFound, OrderRejected, OutcomeUnknown, RateLimited, SessionExpired,
)
from shared_utils.brokers.models import InstrumentRef, ModifyRequest, OrderRequest
from shared_utils.brokers.noren import NorenClient
from shared_utils.brokers.zerodha import ZerodhaClient
from shared_utils.models.enums import Exchange, OrderStatus, OrderType, Product, TransactionType

from .conftest import sample, sample_bytes
from .replay import ReplayServer

JSON = "application/json"


def ok(relative: str, status: int = 200) -> tuple[int, bytes, str]:
    return status, sample_bytes(relative), JSON


# ---------------------------------------------------------------- Kite
KITE_ROUTES = {
    ("GET", "/orders"): ok("kite/orders.json"),
    ("GET", "/orders/*"): ok("kite/order_info.json"),
    ("GET", "/portfolio/positions"): ok("kite/positions.json"),
    ("GET", "/quote"): ok("kite/quote.json"),
    ("GET", "/quote/ltp"): ok("kite/ltp.json"),
    ("POST", "/orders/regular"): ok("kite/order_response.json"),
    ("PUT", "/orders/regular/*"): ok("kite/order_modify.json"),
    ("DELETE", "/orders/regular/*"): ok("kite/order_cancel.json"),
    ("POST", "/session/token"): ok("kite/generate_session.json"),
}


@pytest.fixture
def kite():
    with ReplayServer(dict(KITE_ROUTES)) as server:
        yield server, ZerodhaClient(BrokerCredentials(api_key="k", api_secret="s", request_token="rt"),
                                    BrokerSession(access_token="t"), root=server.url)


def test_kite_order_book_sample_every_status_mapped_ids_exact(kite, alerts):
    _, client = kite
    raw = sample("kite/orders.json")["data"]
    reports = client.order_book()
    assert [r.order_id for r in reports] == [row["order_id"] for row in raw]
    assert "1953341975595868160" in {r.order_id for r in reports}  # > 2^53: a float would corrupt it
    assert all(isinstance(r.order_id, str) for r in reports)
    expected = {"COMPLETE": OrderStatus.FILLED, "CANCELLED": OrderStatus.CANCELLED, "REJECTED": OrderStatus.REJECTED}
    assert [r.status for r in reports] == [expected[row["status"]] for row in raw]
    assert alerts == []
    # rows of other segments (MCX, CDS, CNC, MTF) stay readable, with the broker's own codes
    assert {str(r.exchange) for r in reports} >= {"NFO", "MCX"} and "MTF" in {str(r.product) for r in reports}
    # autoslice children carry tag null (tags ["autoslice", ...]): invisible to reconciliation by
    # tag, which is why the adapter never uses autoslice
    autoslice = [r for r in reports if "autoslice" in (r.raw.get("tags") or [])]
    assert autoslice and all(r.tag is None for r in autoslice)


def test_kite_order_history_sample_every_interim_status_mapped(kite, alerts):
    _, client = kite
    rows = sample("kite/order_info.json")["data"]
    statuses = [client._report(row).status for row in rows]
    assert OrderStatus.UNKNOWN not in statuses and alerts == []
    assert client.order_status("151220000000000").status is OrderStatus.OPEN  # the last row


def test_kite_postback_and_status_table(kite, alerts):
    _, client = kite
    postback = sample("kite/postback.json")
    report = client._report(postback)
    assert (report.order_id, report.status) == ("220303000308932", OrderStatus.FILLED)
    table = sample("kite/order_statuses.json")
    names = table["terminal_or_common_in_docs"] + [s["status"] for s in table["interim_statuses_in_docs"]]
    for names_in_mocks in table["statuses_seen_in_mocks"].values():
        names += names_in_mocks
    for name in names:
        assert client._report({**postback, "status": name}).status is not OrderStatus.UNKNOWN, name
    assert alerts == []


def test_kite_positions_quote_ltp_session_and_acks(kite):
    server, client = kite
    net = sample("kite/positions.json")["data"]["net"]
    positions = client.positions()
    assert [p.tradingsymbol for p in positions] == [row["tradingsymbol"] for row in net]
    assert positions[0].average_price == Decimal(str(net[0]["average_price"]))
    assert client.ltp([InstrumentRef(Exchange.NSE, "INFY")]) == {"NSE:INFY": Decimal("1074.35")}
    quote = client.quotes([InstrumentRef(Exchange.NSE, "INFY")])["NSE:INFY"]
    assert (quote.ltp, quote.ask) == (Decimal("1412.95"), Decimal("1412.95"))
    assert client.login().access_token == "XXXXXX"
    limit = OrderRequest(Exchange.NFO, "NIFTY2681825000CE", TransactionType.BUY, 65, Product.NRML, OrderType.LIMIT,
                         price=Decimal("100"), tag="T1")
    assert client.place_order(limit).order_id == "151220000000000"
    assert client.modify_order(ModifyRequest("151220000000000", price=Decimal("101"))).order_id == "151220000000000"
    assert client.cancel_order("151220000000000").order_id == "151220000000000"


def test_kite_market_orders_carry_market_protection_and_stops_are_sl(kite):
    """Issue 15: since 1 Apr 2026 MARKET/SL-M without market_protection are rejected; SL-M on
    index options is refused by NSE (16052)."""
    server, client = kite
    market = OrderRequest(Exchange.NFO, "NIFTY2681825000CE", TransactionType.SELL, 65, Product.NRML, OrderType.MARKET, tag="T2")
    client.place_order(market)
    form = {k: v[-1] for k, v in parse_qs(server.requests[-1][3].decode()).items()}
    assert form["order_type"] == "MARKET" and form["market_protection"] == "-1" and "autoslice" not in form
    stop = OrderRequest(Exchange.NFO, "NIFTY2681825000CE", TransactionType.SELL, 65, Product.NRML, OrderType.SL_M,
                        trigger_price=Decimal("80.00"), tag="T3")
    client.place_order(stop)
    form = {k: v[-1] for k, v in parse_qs(server.requests[-1][3].decode()).items()}
    assert form["order_type"] == "SL" and form["trigger_price"] == "80.00" and Decimal(form["price"]) == Decimal("77.60")
    params = {p["name"] for p in sample("kite/place_order_params.json")["parameters"]}
    assert set(form) - {"variety"} <= params  # nothing the SDK/docs do not know


def test_kite_error_samples_classified():
    envelope = sample("kite/errors.json")
    body = envelope["error_envelope"]["body"]
    import json

    routes = {("POST", "/orders/regular"): (500, json.dumps(body).encode(), JSON),
              ("GET", "/orders"): (500, json.dumps(body).encode(), JSON)}
    child = envelope["error_object_inside_autoslice_children"]["example"]["error"]
    margin = {"status": "error", "message": child["message"], "error_type": child["error_type"]}
    with ReplayServer(routes) as server:
        c = ZerodhaClient(BrokerCredentials(api_key="k"), BrokerSession(access_token="t"), root=server.url)
        req = OrderRequest(Exchange.NFO, "X", TransactionType.BUY, 65, Product.NRML, OrderType.LIMIT, price=Decimal("1"), tag="T")
        with pytest.raises(OutcomeUnknown):
            c.place_order(req)
    with ReplayServer({("POST", "/orders/regular"): (child["code"], json.dumps(margin).encode(), JSON)}) as server:
        c = ZerodhaClient(BrokerCredentials(api_key="k"), BrokerSession(access_token="t"), root=server.url)
        with pytest.raises(OrderRejected, match="Insufficient funds"):
            c.place_order(req)


# ---------------------------------------------------------------- Noren
NOREN_ROUTES = {
    ("POST", "/NorenWClientAPI/OrderBook"): ok("noren/order_book_response.json"),
    ("POST", "/NorenWClientAPI/PositionBook"): ok("noren/position_book_response.json"),
    ("POST", "/NorenWClientAPI/GetQuotes"): ok("noren/get_quotes_response.json"),
    ("POST", "/NorenWClientAPI/PlaceOrder"): ok("noren/place_order_response_success.json"),
    ("POST", "/NorenWClientAPI/ModifyOrder"): ok("noren/modify_order_response_success.json"),
    ("POST", "/NorenWClientAPI/CancelOrder"): ok("noren/cancel_order_response_success.json"),
}


def noren(server, broker="finvasia"):
    return NorenClient(broker, BrokerCredentials(user_id="VIDYA", api_key="C", api_secret="S"),
                       BrokerSession(access_token="tok"), host=server.url + "/NorenWClientAPI")


@pytest.mark.parametrize("broker", ["finvasia", "zebu"])
def test_noren_order_book_sample_open_and_reject_spellings(broker, alerts):
    with ReplayServer(dict(NOREN_ROUTES)) as server:
        reports = noren(server, broker).order_book()
        assert [r.order_id for r in reports] == ["20062500000001223", "20062500000002543"]
        assert [r.status for r in reports] == [OrderStatus.OPEN, OrderStatus.REJECTED]  # "Open", "REJECT"
        assert reports[1].message == "Insufficient funds" and alerts == []
        assert server.requests[-1][2]["Authorization"] == "Bearer tok" and b"jKey" not in server.requests[-1][3]


def test_noren_history_and_state_table_all_mapped(alerts):
    with ReplayServer({}) as server:
        client = noren(server)
    rows = sample("noren/single_order_history_response.json")
    assert [client._report(r).status for r in rows] == [OrderStatus.FILLED, OrderStatus.OPEN, OrderStatus.OPEN, OrderStatus.OPEN]
    states = sample("noren/order_states.json")
    names = [v["status"] for v in states["order_states_listed"]["values"] if v["status"] != "INVALID_STATUS_TYPE"]
    normaliser = states["secondary_normalizer_openalgo"]
    names += normaliser["complete"] + normaliser["rejected"] + normaliser["cancelled"] + normaliser["open"]
    names += ["Open", "REJECT", "CANCELED", "TRIGGER_PENDING", "Trigger_Pending"]
    for name in names:
        assert client._report({**rows[0], "status": name}).status is not OrderStatus.UNKNOWN, name
    assert alerts == []


def test_noren_positions_quotes_acks_and_failures():
    with ReplayServer(dict(NOREN_ROUTES)) as server:
        client = noren(server)
        [pos] = client.positions()
        assert (pos.tradingsymbol, str(pos.product), pos.quantity) == ("ACC-EQ", "C", 0)  # "prarr", not "prd"
        quote = client.quotes([InstrumentRef(Exchange.NSE, "ACC-EQ", "22")])["NSE:ACC-EQ"]
        assert (quote.ltp, quote.bid, quote.bid_qty) == (Decimal("0.00"), Decimal("2000.00"), 2)
        limit = OrderRequest(Exchange.NSE, "ACC-EQ", TransactionType.BUY, 1, Product.MIS, OrderType.LIMIT, price=Decimal("1"), tag="T")
        assert client.place_order(limit).order_id == "20052000000017"
        assert client.modify_order(ModifyRequest("20062500000001223", price=Decimal("2"))).order_id == "20052600000103"
        assert client.cancel_order("20062500000001223").order_id == "20052600000103"
    failures = {
        ("POST", "/NorenWClientAPI/OrderBook"): ok("noren/order_book_response_failure.json"),
        ("POST", "/NorenWClientAPI/PositionBook"): ok("noren/position_book_response_failure.json"),
        ("POST", "/NorenWClientAPI/GetQuotes"): ok("noren/get_quotes_response_failure.json"),
        ("POST", "/NorenWClientAPI/PlaceOrder"): ok("noren/place_order_response_error.json"),
        ("POST", "/NorenWClientAPI/ModifyOrder"): ok("noren/modify_order_response_failure.json"),
        ("POST", "/NorenWClientAPI/CancelOrder"): ok("noren/cancel_order_response_failure.json"),
    }
    with ReplayServer(failures) as server:
        client = noren(server)
        with pytest.raises(SessionExpired):
            client.order_book()
        assert client.positions() == []  # Not_Ok 'Error Occurred : 5 "no data"' = an empty book
        with pytest.raises(OrderRejected, match="invalid input"):
            client.place_order(limit)
        with pytest.raises(OrderNotFound):
            client.cancel_order("1")
        with pytest.raises(OrderRejected, match="no data"):
            client.quotes([InstrumentRef(Exchange.NSE, "ACC-EQ", "22")])


def test_noren_request_fields_are_the_documented_ones():
    import json

    with ReplayServer(dict(NOREN_ROUTES)) as server:
        client = noren(server)
        limit = OrderRequest(Exchange.NFO, "NIFTY18AUG26C25000", TransactionType.BUY, 65, Product.NRML, OrderType.LIMIT,
                             price=Decimal("100.05"), tag="TAG1")
        client.place_order(limit)
        body = server.requests[-1][3].decode()
    assert body.startswith("jData=") and "jKey" not in body
    sent = json.loads(body[len("jData="):])
    spec = sample("noren/place_order_request_fields.json")
    required = {f["name"] for f in spec["fields"] if f.get("required")}
    known = {f["name"] for f in spec["fields"]} | set(spec["secondary_example_keys_sent_by_openalgo_2026"]["keys"])
    assert required <= set(sent) and set(sent) <= known, (required - set(sent), set(sent) - known)
    assert sent["prctyp"] not in sample("noren/api_order_type_restrictions.json")["shoonya"]["blocked_for_api_orders"]


# ---------------------------------------------------------------- SmartAPI
def test_smartapi_envelopes_both_failure_spellings():
    env = sample("smartapi/response_envelopes.json")
    assert check_envelope(env["successful_request"], mutating=False) == {}
    with pytest.raises(OrderRejected) as info:  # "status": "false" as a STRING (docs)
        check_envelope(env["failed_request"], mutating=True)
    assert info.value.code == "AB1007"
    assert check_envelope(sample("smartapi/modify_order_response.json"), mutating=True) == {"orderid": "201020000000080"}


def test_smartapi_rate_limit_plain_text_403_is_rate_limited():
    text = sample("smartapi/rate_limits.json")["rate_limited_answer"]
    routes = {("GET", "/rest/secure/angelbroking/order/v1/getOrderBook"):
              (text["http_status_reported_by_user"], text["body_text"].encode(), "text/plain")}
    with ReplayServer(routes) as server:
        client = AngelClient(BrokerCredentials(api_key="k"), BrokerSession(access_token="jwt"), root=server.url)
        with pytest.raises(RateLimited):
            client.order_book()


def test_smartapi_place_request_has_the_documented_fields():
    import json

    modify = sample_bytes("smartapi/modify_order_response.json")  # no official placeOrder answer exists
    routes = {("POST", "/rest/secure/angelbroking/order/v1/placeOrder"): (200, modify, JSON)}
    with ReplayServer(routes) as server:
        client = AngelClient(BrokerCredentials(api_key="k"), BrokerSession(access_token="jwt"), root=server.url)
        limit = OrderRequest(Exchange.NFO, "NIFTY18AUG2625000CE", TransactionType.BUY, 65, Product.MIS, OrderType.LIMIT,
                             price=Decimal("100.05"), tag="TAG1", symboltoken="43650")
        assert client.place_order(limit).order_id == "201020000000080"
        sent = json.loads(server.requests[-1][3])
    documented = set(sample("smartapi/place_order_request.json"))
    assert documented - {"squareoff", "stoploss"} <= set(sent)
    assert {type(sent[k]) for k in ("price", "quantity", "symboltoken")} == {str}


def test_noren_every_documented_failure_is_classified():
    """noren/errors.json: each README failure body answered to an order request and to a book
    read lands in the right class ("Server Timeout" on an order request is outcome-unknown)."""
    import json

    expected_place = {"Session Expired": SessionExpired, "Server Timeout": OutcomeUnknown, "Rejected : ORA:Order not found":
                      OrderNotFound, "Invalid Input": OrderRejected, "Error Occurred": OrderRejected, "No Data": OrderRejected}
    for item in sample("noren/errors.json")["samples"]:
        body = json.dumps(item["body"]).encode()
        routes = {("POST", "/NorenWClientAPI/PlaceOrder"): (200, body, JSON),
                  ("POST", "/NorenWClientAPI/OrderBook"): (200, body, JSON)}
        with ReplayServer(routes) as server:
            client = noren(server)
            limit = OrderRequest(Exchange.NSE, "ACC-EQ", TransactionType.BUY, 1, Product.MIS, OrderType.LIMIT,
                                 price=Decimal("1"), tag="T")
            cls = next(c for prefix, c in expected_place.items() if item["body"]["emsg"].startswith(prefix))
            with pytest.raises(cls):
                client.place_order(limit)
            if "no data" in item["body"]["emsg"]:
                assert client.order_book() == []


def test_kite_optional_algo_id_is_sent_only_when_configured():
    with ReplayServer(dict(KITE_ROUTES)) as server:
        req = OrderRequest(Exchange.NFO, "NIFTY2681825000CE", TransactionType.BUY, 65, Product.NRML, OrderType.LIMIT,
                           price=Decimal("100"), tag="T1")
        ZerodhaClient(BrokerCredentials(api_key="k"), BrokerSession(access_token="t"), root=server.url).place_order(req)
        assert "algo_id" not in parse_qs(server.requests[-1][3].decode())
        ZerodhaClient(BrokerCredentials(api_key="k"), BrokerSession(access_token="t"), root=server.url,
                      algo_id="ALGO1").place_order(req)
        assert parse_qs(server.requests[-1][3].decode())["algo_id"] == ["ALGO1"]
