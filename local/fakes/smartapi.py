"""Fake Angel One SmartAPI server (what ``SmartApi.SmartConnect(root=fake.url)`` talks to).

Protocol (smartapi-python 1.5.5 smartConnect.py; reference/broker-apis.md): JSON bodies (GET
requests carry ``?{}``); headers ``X-PrivateKey`` (api key), ``X-UserType``, ``X-SourceID``,
``Authorization: Bearer <jwt>``. Envelopes ``{"status": true, "message": "SUCCESS",
"errorcode": "", "data": ...}`` / ``{"status": false, "message", "errorcode", "data": null}``;
gateway errors ``{"success": false, "message": "Invalid Token", "errorCode": "AG8001",
"data": ""}``. Login: POST loginByPassword {clientcode, password, totp} checked with pyotp.
Rate limit: "Access denied because of exceeding access rate" as PLAIN TEXT with HTTP 403 (what
users report; ``faults.fail_next(429)`` produces it). Error codes as issue 15 gives them: AB1008
invalid variety, AB1009 symbol not found, AB1012 invalid product type, AB4008 ordertag too long;
AB1007 wrong client code / MPIN, AB1050 wrong TOTP; AB8051 invalid refresh token. RMS/exchange
refusals (lot size, tick, band, SL-M on an option, closed market) are booked as ``rejected``
orders with the reason in ``text`` and answered with the placed ``orderid``, as Angel reports RMS
rejections in the order book. ``faults.internal_error_after_accept()`` books the order and then
answers ``AB2001`` "Internal Error" with HTTP 200 (the order exists: reconcile by tag).

Order status of ONE order: GET ``order/v1/details/{uniqueorderid}`` (the ``uniqueorderid`` of the
placeOrder answer; SmartAPI forum, admin post "Individual Order Status API using Unique Order ID
(10 Requests/Second)", broker-samples/smartapi/rate_limits.json) answers the envelope with the
order's book row as ``data`` (no sample body was readable: the order-book row is assumed); an
unknown id answers AB1013. Orders are asynchronous (``core``): "open pending" until they reach
the exchange.

``expire_session(shape="gateway")`` answers AG8001 in the gateway shape; ``shape="envelope"``
answers AB1010 in the envelope shape.
"""

from __future__ import annotations

import json
import secrets
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pyotp

from local.fakes.core import (
    DEFAULT_EXCHANGE_LATENCY_S,
    WORKING_STATUSES,
    FakeOrder,
    FakeServerBase,
    OrderEngine,
    OrderError,
    Reply,
    json_reply,
)

_P = "/rest/secure/angelbroking/order/v1/"
_TIME = "%d-%b-%Y %H:%M:%S"
_ORDER_TYPES = {"MARKET": "MARKET", "LIMIT": "LIMIT", "STOPLOSS_LIMIT": "SL", "STOPLOSS_MARKET": "SL-M"}
_ORDER_TYPES_OUT = {v: k for k, v in _ORDER_TYPES.items()}
_PRODUCTS = {"CARRYFORWARD", "INTRADAY", "DELIVERY", "MARGIN", "BO"}
_STATUS = {"PENDING": "open pending", "OPEN": "open", "COMPLETE": "complete", "CANCELLED": "cancelled", "REJECTED": "rejected",
           "TRIGGER_PENDING": "trigger pending"}


def ok(data: Any) -> Reply:
    return json_reply(200, {"status": True, "message": "SUCCESS", "errorcode": "", "data": data})


def fail(message: str, code: str, http: int = 200) -> Reply:
    return json_reply(http, {"status": False, "message": message, "errorcode": code, "data": None})


def gateway(message: str, code: str, http: int = 401) -> Reply:
    return json_reply(http, {"success": False, "message": message, "errorCode": code, "data": ""})


class FakeSmartApiServer(FakeServerBase):
    """Fake SmartAPI. ``jwt`` is valid from the start; ``totp_secret`` drives the login check."""

    def __init__(self, instruments: list[tuple], *, api_key: str = "angel_key", client_code: str = "A123",
                 password: str = "1234", totp_secret: str | None = None, price_source=None, **kw: Any) -> None:
        latency = kw.pop("exchange_latency_s", DEFAULT_EXCHANGE_LATENCY_S)
        super().__init__(OrderEngine(instruments, price_source, clock=kw.pop("clock", None),
                                     exchange_latency_s=latency), **kw)
        self.api_key, self.client_code, self.password = api_key, client_code, password
        self._internal_errors = 0
        self.totp_secret = totp_secret or pyotp.random_base32()
        self.jwt = secrets.token_hex(24)
        self.refresh_token = secrets.token_hex(24)
        self.expiry_shape = "gateway"

    def expire_session(self, shape: str = "gateway") -> None:
        """Every authenticated call answers AG8001 (gateway shape) or AB1010 (envelope shape)."""
        self.expiry_shape = shape
        super().expire_session()

    def internal_error_after_accept(self, times: int = 1) -> None:
        """The next placements are booked, then answered AB2001 in an HTTP-200 body."""
        self._internal_errors += times

    def error_reply(self, status: int, path: str, message: str | None = None) -> Reply:
        if status == 403 and message and "static IP" in message:  # unregistered source address
            return fail(message, "AG8003", http=403)
        if status in (429, 403):
            return Reply(403, b"Access denied because of exceeding access rate", "text/plain")
        if status == 500:
            return fail(message or "Internal Error", "AB2001", http=500)
        return Reply(status, f"<html><body>{status} Bad Gateway</body></html>".encode(), "text/html")

    def _row(self, o: FakeOrder) -> dict[str, Any]:
        working = o.status in WORKING_STATUSES
        return {
            "variety": o.variety, "ordertype": _ORDER_TYPES_OUT[o.order_type], "producttype": o.product,
            "duration": o.validity, "price": float(o.price), "triggerprice": float(o.trigger_price),
            "quantity": str(o.quantity), "disclosedquantity": "0", "squareoff": 0.0, "stoploss": 0.0,
            "trailingstoploss": 0.0, "tradingsymbol": o.tradingsymbol, "transactiontype": o.side,
            "exchange": o.exchange, "symboltoken": o.token, "ordertag": o.tag, "instrumenttype": "OPTIDX",
            "lotsize": str(self.engine.instruments[(o.exchange, o.tradingsymbol)].lot_size),
            "cancelsize": str(o.quantity - o.filled) if o.status == "CANCELLED" else "0",
            "averageprice": float(o.average_price), "filledshares": str(o.filled),
            "unfilledshares": str(o.quantity - o.filled) if working else "0", "orderid": o.order_id,
            "text": o.message, "status": _STATUS[o.status], "orderstatus": _STATUS[o.status],
            "updatetime": o.updated_at.strftime(_TIME), "exchtime": o.placed_at.strftime(_TIME),
            "exchorderupdatetime": o.updated_at.strftime(_TIME), "fillid": "", "filltime": "",
            "parentorderid": "", "uniqueorderid": "u-" + o.order_id,
        }

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        route = urlsplit(path).path
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            return fail("Invalid request body", "AB1009")
        if headers.get("X-PrivateKey") != self.api_key:
            return gateway("Invalid API Key", "AG8004")
        if route == "/rest/auth/angelbroking/user/v1/loginByPassword":
            return self._login(payload)
        if route == "/rest/auth/angelbroking/jwt/v1/generateTokens":
            if payload.get("refreshToken") != self.refresh_token:
                return fail("Invalid refresh token", "AB8051")
            self.jwt, self.session_expired = secrets.token_hex(24), False
            return ok({"jwtToken": self.jwt, "refreshToken": self.refresh_token, "feedToken": "feed"})
        if headers.get("Authorization") != f"Bearer {self.jwt}":
            return gateway("Invalid Token", "AG8001")
        if self.session_expired:
            if self.expiry_shape == "envelope":
                return fail("Session Expired", "AB1010")
            return gateway("Invalid Token", "AG8001")
        eng = self.engine
        try:
            if route == "/rest/secure/angelbroking/user/v1/logout":
                self.session_expired = True
                self.logouts = getattr(self, "logouts", 0) + 1
                return ok(None)
            if route == "/rest/secure/angelbroking/user/v1/getProfile":
                return ok({"clientcode": self.client_code, "name": "FAKE", "exchanges": ["nse_fo", "bse_fo"],
                           "products": ["CARRYFORWARD", "INTRADAY"]})
            if route == _P + "placeOrder":
                return self._place(payload)
            if route == _P + "modifyOrder":
                o = eng.get(payload.get("orderid", ""))
                if payload.get("variety") != o.variety:
                    return fail("Invalid Variety", "AB1008")
                o = eng.modify(o.order_id, quantity=int(payload["quantity"]) if payload.get("quantity") else None,
                               price=Decimal(str(payload["price"])) if payload.get("price") not in (None, "") else None,
                               trigger_price=Decimal(str(payload["triggerprice"])) if payload.get("triggerprice") not in (None, "") else None,
                               order_type=_ORDER_TYPES.get(payload.get("ordertype", "")))
                return ok({"orderid": o.order_id, "uniqueorderid": "u-" + o.order_id})
            if route == _P + "cancelOrder":
                o = eng.get(payload.get("orderid", ""))
                if payload.get("variety") != o.variety:
                    return fail("Invalid Variety", "AB1008")
                eng.cancel(o.order_id)
                return ok({"orderid": o.order_id, "uniqueorderid": "u-" + o.order_id})
            if route == _P + "getOrderBook":
                eng.match()
                rows = [self._row(o) for o in list(eng.orders.values())]
                return ok(rows or None)
            if route.startswith(_P + "details/"):
                unique = route[len(_P + "details/"):]
                if not unique.startswith("u-"):
                    return fail("Order not found", "AB1013")
                eng.match()
                return ok(self._row(eng.get(unique[2:])))
            if route == _P + "getTradeBook":
                eng.match()
                return ok([{"orderid": t["order_id"], "fillid": t["trade_id"], "tradingsymbol": t["tradingsymbol"],
                            "exchange": t["exchange"], "transactiontype": t["side"], "fillsize": str(t["quantity"]),
                            "fillprice": float(t["price"]), "producttype": t["product"]} for t in eng.trades] or None)
            if route == _P + "getPosition":
                rows = [{"exchange": p["exchange"], "symboltoken": p["token"], "producttype": p["product"],
                         "tradingsymbol": p["tradingsymbol"], "symbolname": p["tradingsymbol"], "instrumenttype": "OPTIDX",
                         "netqty": str(p["qty"]), "avgnetprice": str(p["avg"]), "netprice": str(p["avg"]),
                         "ltp": str(p["ltp"]), "realised": str(p["realised"]), "unrealised": str(p["unrealised"]),
                         "pnl": str(p["realised"] + p["unrealised"]), "buyqty": str(p["buy_qty"]), "sellqty": str(p["sell_qty"]),
                         "totalbuyvalue": str(p["buy_value"]), "totalsellvalue": str(p["sell_value"])} for p in eng.positions()]
                return ok(rows or None)
            if route == _P + "getLtpData":
                inst = eng.by_token.get((payload.get("exchange"), str(payload.get("symboltoken"))))
                if inst is None or inst.tradingsymbol != payload.get("tradingsymbol"):
                    return fail("Symbol not found", "AB1009")
                ltp = float(eng.ltp(inst.exchange, inst.tradingsymbol))
                return ok({"exchange": inst.exchange, "tradingsymbol": inst.tradingsymbol, "symboltoken": inst.token,
                           "open": ltp, "high": ltp, "low": ltp, "close": ltp, "ltp": ltp})
            if route == "/rest/secure/angelbroking/market/v1/quote":
                return self._quote(payload)
        except OrderError as exc:
            if exc.kind == "not_found":
                return fail("Order not found", "AB1013")
            return fail(str(exc), "AB1000")  # modify/cancel of a finished order: code not in any source
        return gateway("Resource not found", "AG8005", http=404)

    def _login(self, p: dict[str, Any]) -> Reply:
        if (p.get("clientcode") != self.client_code or p.get("password") != self.password
                or not str(p.get("password", "")).isdigit() or len(str(p.get("password", ""))) != 4):
            return fail("Invalid clientcode or MPIN", "AB1007")
        if not pyotp.TOTP(self.totp_secret).verify(str(p.get("totp", "")), valid_window=1):
            return fail("Invalid totp", "AB1050")
        self.jwt, self.refresh_token, self.session_expired = secrets.token_hex(24), secrets.token_hex(24), False
        return ok({"jwtToken": self.jwt, "refreshToken": self.refresh_token, "feedToken": secrets.token_hex(8)})

    def _place(self, p: dict[str, Any]) -> Reply:
        ordertype = _ORDER_TYPES.get(p.get("ordertype", ""))
        if ordertype is None:
            return fail("Invalid Order Type", "AB1000")  # the adapter never sends one; code not in any source
        if p.get("producttype") not in _PRODUCTS:
            return fail("Invalid Product Type", "AB1012")
        want_variety = "STOPLOSS" if ordertype in ("SL", "SL-M") else "NORMAL"
        if p.get("variety") != want_variety:
            return fail("Invalid Variety", "AB1008")
        if len(p.get("ordertag") or "") > 20:
            return fail("Ordertag length exceeded", "AB4008")
        inst = self.engine.instruments.get((p.get("exchange"), p.get("tradingsymbol")))
        if inst is None or inst.token != str(p.get("symboltoken")):
            return fail("Symbol not found", "AB1009")
        fields = dict(
            exchange=p["exchange"], tradingsymbol=p["tradingsymbol"], side=p.get("transactiontype", ""),
            quantity=int(p.get("quantity") or 0), product=p["producttype"], order_type=ordertype,
            price=Decimal(str(p.get("price") or "0")), trigger_price=Decimal(str(p.get("triggerprice") or "0")),
            tag=p.get("ordertag") or "", variety=p["variety"], validity=p.get("duration", "DAY"),
        )
        try:
            o = self.engine.place(**fields)
        except OrderError as exc:
            o = self.engine.book_rejected(**fields, reason=str(exc))
        if self._internal_errors:
            self._internal_errors -= 1
            return fail("Internal Error", "AB2001")
        return json_reply(200, {"status": True, "message": "SUCCESS", "errorcode": "",
                                "data": {"script": o.tradingsymbol, "orderid": o.order_id, "uniqueorderid": "u-" + o.order_id}},
                          stall_s=self.faults.take_stall())

    def _quote(self, p: dict[str, Any]) -> Reply:
        fetched, unfetched = [], []
        for exch, tokens in (p.get("exchangeTokens") or {}).items():
            for tok in tokens:
                inst = self.engine.by_token.get((exch, str(tok)))
                if inst is None:
                    unfetched.append({"exchange": exch, "symbolToken": tok, "message": "Invalid token", "errorCode": "AB4002"})
                    continue
                ltp = self.engine.ltp(exch, inst.tradingsymbol)
                tick = inst.tick_size
                fetched.append({"exchange": exch, "tradingSymbol": inst.tradingsymbol, "symbolToken": inst.token,
                                "ltp": float(ltp), "open": float(ltp), "high": float(ltp), "low": float(ltp), "close": float(ltp),
                                "exchFeedTime": "18-Aug-2026 09:30:00",
                                "depth": {"buy": [{"price": float(ltp - tick), "quantity": inst.lot_size, "orders": 1}],
                                          "sell": [{"price": float(ltp + tick), "quantity": inst.lot_size, "orders": 1}]}})
        return ok({"fetched": fetched, "unfetched": unfetched})
