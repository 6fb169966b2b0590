"""Angel One adapter over the real ``smartapi-python`` SDK (1.5.5), traps neutralised by
:mod:`shared_utils.brokers._smartapi_loader`.

Facts used (SmartApi/smartConnect.py; reference/broker-apis.md; smartapi.angelbroking.com docs):
``SmartConnect(api_key, access_token, refresh_token, root=..., timeout=...)``; every call
returns the JSON envelope (``status``/``message``/``errorcode``/``data`` or the gateway shape
``success``/``errorCode``); ``placeOrder`` returns None on failure so we use
``placeOrderFullResponse``; stop-loss orders need variety STOPLOSS; modify and cancel need
fields of the original order, read from the order book first.

Order status of one order placed by this client: GET ``order/v1/details/{uniqueorderid}``
(10 requests/s, where getOrderBook allows 1/s: broker-samples/smartapi/rate_limits.json,
"individual_order_status_limit"), with the ``uniqueorderid`` the placeOrder answer gave. The SDK's
``individual_order_details`` ignores ``root``, the timeout and the egress proxies and swallows
errors, so the adapter sends that GET itself through the SDK's (neutralised) ``requests``. An
order this client did not place is looked up in the order book.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import json
import re
import sys
from urllib.parse import urljoin

import pyotp

from shared_utils.brokers._smartapi_loader import HttpStatusError, load_smartconnect
from shared_utils.brokers.base import (
    BrokerClient,
    BrokerCredentials,
    BrokerSession,
    classify_http_status,
    derive_status,
    guarded,
    parse_ist,
)
from shared_utils.brokers.errors import (
    BrokerError,
    BrokerUnavailable,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    SessionExpired,
)
from shared_utils.brokers.mappings import angel as m
from shared_utils.brokers.mappings import invert, lookup, read_code, read_status
from shared_utils.brokers.protection import market_as_limit, stop_limit_for
from shared_utils.brokers.models import (
    InstrumentRef,
    ModifyRequest,
    OrderAck,
    OrderReport,
    OrderRequest,
    PositionReport,
    Quote,
    to_decimal,
)
from shared_utils.brokers.ratelimit import AccountRateLimiter
from shared_utils.clock import UTC
from shared_utils.models.enums import Exchange

#: per-order status (rate_limits.json no. 15 and "individual_order_status_limit")
_DETAILS = "/rest/secure/angelbroking/order/v1/details/"
_TIME = ("%d-%b-%Y %H:%M:%S", "%d-%m-%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S")
_PRODUCT_IN = invert(m.PRODUCT)
_ORDER_TYPE_IN = invert(m.ORDER_TYPE)
_TXN_IN = invert(m.TRANSACTION_TYPE)
_EXCH_IN = invert(m.EXCHANGE)


def _num(value: Decimal | None) -> str:
    return str(value) if value is not None else "0"


def check_envelope(resp: Any, *, mutating: bool, tag: str | None = None) -> Any:
    """Return ``data`` of a successful SmartAPI envelope, else raise the taxonomy error.

    Handles both shapes: ``{"status": bool, "message", "errorcode", "data"}`` and the gateway's
    ``{"success": false, "message", "errorCode", "data": ""}`` (the docs print ``"false"`` as a
    string: anything but ``true`` is a failure).

    Classes: session codes -> SessionExpired; AB1013 -> OrderNotFound; the rate-limit text ->
    RateLimited; a KNOWN refusal (``mappings.angel.REJECT_CODES``) -> OrderRejected; on an
    order-changing call any OTHER code (AB2001 internal error, AB1004, a code we have never
    seen) -> OutcomeUnknown (reconcile by tag: the HTTP-200 body does not say whether the order
    was placed); on a read -> BrokerUnavailable. AB8050/AB8051 (refresh token) are not session
    errors: OrderRejected with the code (``refresh()`` answers them with a fresh login).
    """
    if not isinstance(resp, dict):
        cls = OutcomeUnknown if mutating else BrokerUnavailable
        kw = {"tag": tag} if mutating else {}
        raise cls(f"angel: unexpected answer {type(resp).__name__}", broker=m.BROKER, code="NO_ENVELOPE", **kw)
    if resp.get("status") is True or resp.get("success") is True:
        return resp.get("data")
    code = resp.get("errorcode") or resp.get("errorCode") or ""
    msg = resp.get("message") or ""
    common = dict(broker=m.BROKER, broker_message=msg, code=code or None, raw=resp)
    if code in m.SESSION_CODES:
        return _raise(SessionExpired("angel: session expired, log in again", **common))
    if code in m.ORDER_NOT_FOUND_CODES:
        return _raise(OrderNotFound(f"angel: order not found: {msg}", **common))
    if "exceeding access rate" in msg.lower():
        return _raise(RateLimited("angel: rate limited", **common))
    if code in m.REJECT_CODES or code in m.REFRESH_TOKEN_CODES:
        meaning = m.REJECT_CODES.get(code, "refresh token invalid or expired")
        return _raise(OrderRejected(f"angel: request refused ({code}: {meaning}): {msg}", **common))
    if mutating:
        return _raise(OutcomeUnknown(f"angel: {code or 'no code'} {msg!r} in the answer to an order request; "
                                     "outcome unknown, reconcile by tag", tag=tag, **common))
    return _raise(BrokerUnavailable(f"angel: {code or 'no code'}: {msg}", **common))


def _raise(exc: BrokerError) -> Any:
    raise exc


class AngelClient(BrokerClient):
    """An Angel One SmartAPI account.

    Args:
        credentials: ``api_key`` (X-PrivateKey), ``client_code``, ``password``, ``totp_secret``.
        session: today's JWT (``access_token``) / refresh / feed tokens, if already known.
        root: API host (default ``https://apiconnect.angelone.in``).
        timeout: seconds per HTTP request.
    """

    broker = m.BROKER
    #: the placer's fill confirmation reads this client per order (details 10/s), never through
    #: the order book (1/s): placer._read_reports
    prefers_order_status = True

    def __init__(
        self,
        credentials: BrokerCredentials,
        session: BrokerSession | None = None,
        *,
        root: str | None = None,
        timeout: float = 7.0,
        rate_limiter: AccountRateLimiter | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(rate_limiter=rate_limiter)
        if not credentials.api_key:
            raise ValueError("angel: credentials.api_key is required")
        smart_connect = load_smartconnect()
        self._creds = credentials
        self._now = now
        #: orderid -> uniqueorderid of the orders this client placed (the details route's key)
        self._unique_ids: dict[str, str] = {}
        self.api = smart_connect(
            api_key=credentials.api_key,
            access_token=session.access_token if session else None,
            refresh_token=session.refresh_token if session else None,
            feed_token=session.feed_token if session else None,
            root=root,
            timeout=timeout,
        )
        self.session = session

    def _call(self, fn: Callable[[], Any], *, mutating: bool, tag: str | None = None) -> Any:
        def run() -> Any:
            try:
                resp = fn()
            except HttpStatusError as exc:
                if m.RATE_LIMIT_TEXT in exc.text.lower():
                    raise RateLimited("angel: rate limited (plain-text answer)", broker=self.broker,
                                      broker_message=exc.text, code="RATE_LIMIT", http_status=exc.status) from exc
                err = classify_http_status(exc.status, broker=self.broker, mutating=mutating, tag=tag, message=exc.text)
                raise err if err is not None else BrokerUnavailable(f"angel: HTTP {exc.status}", broker=self.broker) from exc
            except Exception as exc:  # SDK's own exceptions (DataException on a non-JSON body)
                if type(exc).__module__.startswith("SmartApi"):
                    cls = OutcomeUnknown if mutating else BrokerUnavailable
                    kw = {"tag": tag} if mutating else {}
                    raise cls(f"angel: {type(exc).__name__}", broker=self.broker, code=type(exc).__name__,
                              broker_message=str(exc)[:200], **kw) from exc
                raise
            return check_envelope(resp, mutating=mutating, tag=tag)

        return guarded(run, broker=self.broker, mutating=mutating, tag=tag)

    # ---- session -------------------------------------------------------------------------
    def login(self) -> BrokerSession:
        """POST loginByPassword {clientcode, password = the 4-digit MPIN, totp =
        pyotp(totp_secret).now()}; the SDK then reads the profile. Raises SessionExpired /
        OrderRejected with Angel's message; ValueError when the password is not a 4-digit MPIN
        (Angel moved the login to MPIN: smartapi/SOURCES.md; a trading password would only
        count failed attempts against the account)."""
        c = self._creds
        if not (c.client_code and c.password and c.totp_secret):
            raise ValueError("angel: login needs client_code, password (MPIN) and totp_secret")
        if not re.fullmatch(m.MPIN_PATTERN, c.password):
            raise ValueError("angel: the login password must be the account's 4-digit MPIN")
        self.rate_limiter.acquire("login")
        totp = pyotp.TOTP(c.totp_secret).now()
        resp = guarded(lambda: self.api.generateSession(c.client_code, c.password, totp), broker=self.broker, mutating=False)
        data = check_envelope(resp, mutating=False)
        self.session = BrokerSession(
            access_token=self.api.access_token, refresh_token=self.api.refresh_token,
            feed_token=self.api.feed_token, user_id=(data or {}).get("clientcode"), obtained_at=self._now(),
        )
        return self.session

    def refresh(self) -> BrokerSession:
        """POST generateTokens with the refresh token (falls back to login without one)."""
        if not self.api.refresh_token:
            return self.login()
        self.rate_limiter.acquire("login")
        # The SDK's generateToken() indexes response["data"] without checking "status" and dies
        # with TypeError on a refusal, so the raw route is called and the envelope checked here.
        try:
            data = self._call(lambda: self.api._postRequest("api.token", {"refreshToken": self.api.refresh_token}),
                              mutating=False) or {}
        except OrderRejected as exc:
            if exc.code in m.REFRESH_TOKEN_CODES:  # AB8050/AB8051: refresh token dead -> log in
                return self.login()
            raise
        self.api.setAccessToken(data["jwtToken"])
        if data.get("feedToken"):
            self.api.setFeedToken(data["feedToken"])
        if data.get("refreshToken"):
            self.api.setRefreshToken(data["refreshToken"])
        self.session = BrokerSession(access_token=self.api.access_token, refresh_token=self.api.refresh_token,
                                     feed_token=self.api.feed_token, obtained_at=self._now())
        return self.session

    # ---- commands ------------------------------------------------------------------------
    def logout(self) -> bool:
        """POST /rest/secure/angelbroking/user/v1/logout (SDK ``terminateSession(clientcode)``)."""
        self.rate_limiter.acquire("default")
        self._call(lambda: self.api.terminateSession(self._creds.client_code), mutating=False)
        return True

    def place_order(self, request: OrderRequest) -> OrderAck:
        """POST placeOrder (full-response variant) with ``ordertag``; needs ``symboltoken``.

        MARKET is sent as LIMIT at the protection price around the LTP (one getLtpData first),
        SL-M as STOPLOSS_LIMIT with the limit a protection offset beyond the trigger
        (``shared_utils.brokers.protection``): no unprotected order leaves the platform."""
        if not request.symboltoken:
            raise ValueError("angel: OrderRequest.symboltoken is required")
        if request.order_type.value == "SL-M":
            request = stop_limit_for(request)
        if request.order_type.value == "MARKET":
            ref = InstrumentRef(request.exchange, request.tradingsymbol, request.symboltoken)
            request = market_as_limit(request, self.ltp([ref])[ref.key])
        params = {
            "variety": lookup(m.VARIETY, request.order_type, what="variety", broker=self.broker),
            "tradingsymbol": request.tradingsymbol,
            "symboltoken": request.symboltoken,
            "transactiontype": lookup(m.TRANSACTION_TYPE, request.transaction_type, what="transaction_type", broker=self.broker),
            "exchange": lookup(m.EXCHANGE, request.exchange, what="exchange", broker=self.broker),
            "ordertype": lookup(m.ORDER_TYPE, request.order_type, what="order_type", broker=self.broker),
            "producttype": lookup(m.PRODUCT, request.product, what="product", broker=self.broker),
            "duration": lookup(m.DURATION, request.validity, what="duration", broker=self.broker),
            "price": _num(request.price),
            "triggerprice": _num(request.trigger_price),
            "quantity": str(request.quantity),
            "ordertag": request.tag,
        }
        with self.rate_limiter.slot("orders", exchange=request.exchange):
            data = self._call(lambda: self.api.placeOrderFullResponse(params), mutating=True, tag=request.tag)
        if not data or not data.get("orderid"):
            raise OutcomeUnknown("angel: success envelope without orderid; reconcile by tag",
                                 broker=self.broker, code="NO_ORDERID", tag=request.tag, raw=data)
        if data.get("uniqueorderid"):
            self._unique_ids[str(data["orderid"])] = str(data["uniqueorderid"])
        return OrderAck(order_id=str(data["orderid"]), tag=request.tag, broker=self.broker,
                        received_at=self._now(), raw=data)

    def modify_order(self, request: ModifyRequest) -> OrderAck:
        """POST modifyOrder; unchanged fields are copied from the order book row."""
        row = self.order_status(request.order_id).raw
        ordertype = (lookup(m.ORDER_TYPE, request.order_type, what="order_type", broker=self.broker)
                     if request.order_type else row["ordertype"])
        params = {
            "variety": row["variety"], "orderid": request.order_id, "ordertype": ordertype,
            "producttype": row["producttype"], "duration": row.get("duration") or "DAY",
            "price": _num(request.price) if request.price is not None else str(row.get("price") or "0"),
            "triggerprice": _num(request.trigger_price) if request.trigger_price is not None else str(row.get("triggerprice") or "0"),
            "quantity": str(request.quantity or row["quantity"]),
            "tradingsymbol": row["tradingsymbol"], "symboltoken": row["symboltoken"], "exchange": row["exchange"],
        }
        with self.rate_limiter.slot("orders", exchange=row["exchange"]):
            data = self._call(lambda: self.api.modifyOrder(params), mutating=True)
        return OrderAck(order_id=str((data or {}).get("orderid") or request.order_id), tag=None, broker=self.broker,
                        received_at=self._now(), raw=data or {})

    def cancel_order(self, order_id: str) -> OrderAck:
        """POST cancelOrder {variety, orderid}; the variety is read from the order book."""
        variety = self.order_status(order_id).raw["variety"]
        with self.rate_limiter.slot("orders"):
            data = self._call(lambda: self.api.cancelOrder(order_id, variety), mutating=True)
        return OrderAck(order_id=str((data or {}).get("orderid") or order_id), tag=None, broker=self.broker,
                        received_at=self._now(), raw=data or {})

    # ---- reports -------------------------------------------------------------------------
    def _report(self, row: dict[str, Any]) -> OrderReport:
        qty = int(row.get("quantity") or 0)
        filled = int(row.get("filledshares") or 0)
        raw_status = row.get("status") or row.get("orderstatus") or ""
        status = read_status(m.STATUS, raw_status, broker=self.broker, order_id=row.get("orderid"),
                             normalise=str.lower)
        avg, price, trig = (to_decimal(row.get(k)) for k in ("averageprice", "price", "triggerprice"))
        updated = parse_ist(row.get("updatetime"), _TIME)
        return OrderReport(
            order_id=str(row["orderid"]), tag=row.get("ordertag") or None, status=derive_status(status, qty, filled),
            quantity=qty, filled_quantity=filled,
            pending_quantity=int(row.get("unfilledshares") or 0) if status.value in ("OPEN", "TRIGGER_PENDING") else 0,
            average_price=avg or None, price=price or None, trigger_price=trig or None,
            tradingsymbol=row["tradingsymbol"],
            exchange=read_code(_EXCH_IN, row["exchange"], what="exchange", broker=self.broker),
            transaction_type=read_code(_TXN_IN, row["transactiontype"], what="transaction_type", broker=self.broker),
            product=read_code(_PRODUCT_IN, row["producttype"], what="product", broker=self.broker),
            order_type=read_code(_ORDER_TYPE_IN, row["ordertype"], what="order_type", broker=self.broker),
            message=row.get("text") or None, placed_at=parse_ist(row.get("exchtime"), _TIME) or updated,
            updated_at=updated, raw=row,
        )

    def order_status(self, order_id: str) -> OrderReport:
        """GET ``order/v1/details/{uniqueorderid}`` for an order this client placed (10/s; the
        ``data`` is the order's book row), else the order book (1/s). Raises OrderNotFound
        (AB1013), BrokerUnavailable, RateLimited, SessionExpired."""
        unique = self._unique_ids.get(str(order_id))
        if not unique:
            return super().order_status(order_id)
        self.rate_limiter.acquire("order_details")
        data = self._call(lambda: self._details(unique), mutating=False)
        if not isinstance(data, dict) or not data.get("orderid"):
            raise OrderNotFound(f"angel: order {order_id} not found", broker=self.broker, code="EMPTY")
        return self._report(data)

    def _details(self, unique: str) -> Any:
        """The details GET as the SDK's ``_request`` sends its calls (headers, timeout, proxies)."""
        api = self.api
        headers = api.requestHeaders()
        if api.access_token:
            headers["Authorization"] = f"Bearer {api.access_token}"
        transport = sys.modules[type(api).__module__].requests
        resp = transport.request("GET", urljoin(api.root, _DETAILS + unique), headers=headers,
                                 timeout=api.timeout, proxies=api.proxies)
        try:
            return json.loads(resp.content.decode("utf8"))
        except ValueError as exc:
            raise BrokerUnavailable("angel: order details answer is not JSON", broker=self.broker,
                                    broker_message=resp.text[:200]) from exc

    def order_book(self) -> list[OrderReport]:
        """GET getOrderBook (``data`` is null when the book is empty)."""
        self.rate_limiter.acquire("order_book")
        rows = self._call(self.api.orderBook, mutating=False) or []
        for row in rows:  # an order reconciled by tag can then be read per order (details)
            if row.get("orderid") and row.get("uniqueorderid"):
                self._unique_ids.setdefault(str(row["orderid"]), str(row["uniqueorderid"]))
        return [self._report(r) for r in rows]

    def positions(self) -> list[PositionReport]:
        """GET getPosition: netqty (signed units), netprice/avgnetprice, ltp, realised, unrealised."""
        self.rate_limiter.acquire("positions")
        out = []
        for row in self._call(self.api.position, mutating=False) or []:
            out.append(PositionReport(
                tradingsymbol=row["tradingsymbol"],
                exchange=read_code(_EXCH_IN, row["exchange"], what="exchange", broker=self.broker),
                product=read_code(_PRODUCT_IN, row["producttype"], what="product", broker=self.broker),
                quantity=int(row.get("netqty") or 0),
                average_price=to_decimal(row.get("avgnetprice") or row.get("netprice")) or Decimal("0"),
                ltp=to_decimal(row.get("ltp")),
                realised_pnl=to_decimal(row.get("realised")) or Decimal("0"),
                unrealised_pnl=to_decimal(row.get("unrealised")) or Decimal("0"),
                raw=row,
            ))
        return out

    def ltp(self, instruments: Sequence[InstrumentRef]) -> dict[str, Decimal]:
        """POST getLtpData once per instrument (Angel needs each ``token``)."""
        out = {}
        for inst in instruments:
            if not inst.token:
                raise ValueError(f"angel: ltp needs the symboltoken of {inst.key}")
            self.rate_limiter.acquire("quotes")
            data = self._call(lambda i=inst: self.api.ltpData(i.exchange.value, i.tradingsymbol, i.token), mutating=False)
            out[inst.key] = Decimal(str(data["ltp"]))
        return out

    def quotes(self, instruments: Sequence[InstrumentRef]) -> dict[str, Quote]:
        """POST market/v1/quote mode FULL {exchangeTokens: {EXCH: [token, ...]}}."""
        by_exch: dict[str, list[str]] = {}
        names: dict[tuple[str, str], InstrumentRef] = {}
        for inst in instruments:
            if not inst.token:
                raise ValueError(f"angel: quotes needs the symboltoken of {inst.key}")
            by_exch.setdefault(inst.exchange.value, []).append(inst.token)
            names[(inst.exchange.value, inst.token)] = inst
        self.rate_limiter.acquire("quotes")
        data = self._call(lambda: self.api.getMarketData("FULL", by_exch), mutating=False) or {}
        out = {}
        for row in data.get("fetched", []):
            inst = names[(row["exchange"], str(row["symbolToken"]))]
            depth = row.get("depth") or {}
            buy = (depth.get("buy") or [{}])[0]
            sell = (depth.get("sell") or [{}])[0]
            out[inst.key] = Quote(exchange=Exchange(row["exchange"]), tradingsymbol=inst.tradingsymbol,
                                  ltp=Decimal(str(row["ltp"])), bid=to_decimal(buy.get("price")), ask=to_decimal(sell.get("price")),
                                  bid_qty=buy.get("quantity"), ask_qty=sell.get("quantity"),
                                  timestamp=parse_ist(row.get("exchFeedTime"), _TIME), raw=row)
        return out
