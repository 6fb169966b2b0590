"""Zerodha adapter over the real ``kiteconnect`` SDK (5.2.2).

Facts used (kiteconnect/connect.py, kiteconnect/exceptions.py; reference/broker-apis.md):
``KiteConnect(api_key, access_token=..., root=..., timeout=...)``; URLs are
``urljoin(root, "/orders/...")`` so ``root`` must be a bare host; errors arrive as
``kiteconnect.exceptions.<error_type>`` with ``code`` = HTTP status; requests' transport
exceptions propagate unchanged; ``order_timestamp`` is parsed by the SDK into a NAIVE datetime
of IST wall clock.
"""

from __future__ import annotations


from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

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
from shared_utils.brokers.mappings import invert, lookup, read_code, read_status
from shared_utils.brokers.protection import needs_stop_limit, stop_limit_for
from shared_utils.brokers.mappings import zerodha as m
from shared_utils.brokers.models import (
    BrokerInstrument,
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

_KITE_TIME = ("%Y-%m-%d %H:%M:%S",)
_PRODUCT_IN = invert(m.PRODUCT)
_ORDER_TYPE_IN = invert(m.ORDER_TYPE)
_TXN_IN = invert(m.TRANSACTION_TYPE)
_EXCH_IN = invert(m.EXCHANGE)


def translate_kite_error(exc: kex.KiteException, *, mutating: bool, tag: str | None = None) -> BrokerError:
    """Kite SDK exception -> taxonomy.

    TokenException -> SessionExpired; HTTP 429 -> RateLimited; Input/Order/Permission ->
    OrderRejected (explicit refusal); Network 503 -> BrokerUnavailable; Data/General/Network
    5xx -> OutcomeUnknown on order-changing calls, BrokerUnavailable on reads.
    """
    name = type(exc).__name__
    msg = str(exc)
    status = int(getattr(exc, "code", 500) or 500)
    common = dict(broker=m.BROKER, broker_message=msg, code=name, http_status=status)
    if isinstance(exc, kex.TokenException):
        return SessionExpired("zerodha: session expired, log in again", **common)
    if status == 429:
        return RateLimited("zerodha: rate limited", **common)
    if isinstance(exc, (kex.InputException, kex.OrderException, kex.PermissionException)):
        return OrderRejected(f"zerodha: request refused: {msg}", **common)
    if 400 <= status < 500:
        # MarginException / HoldingException / UserException have no SDK class and surface as
        # GeneralException with the REAL status (kite/errors.json sdk_mapping_rule): a 4xx is
        # Kite refusing the request (e.g. autoslice child "Insufficient funds", code 400).
        return OrderRejected(f"zerodha: request refused: {msg}", **common)
    mapped = classify_http_status(status, broker=m.BROKER, mutating=mutating, tag=tag, message=msg)
    if mapped is not None:
        mapped.code = name
        return mapped
    if mutating:
        return OutcomeUnknown(f"zerodha: unclassified {name} ({status}) on an order request", tag=tag, **common)
    return BrokerUnavailable(f"zerodha: unclassified {name} ({status})", **common)


class ZerodhaClient(BrokerClient):
    """A Kite Connect account.

    Args:
        credentials: ``api_key``, ``api_secret`` (login), ``request_token`` (daily login only).
        session: today's ``access_token`` if already known (else call ``login()``).
        root: API host (``https://api.kite.trade`` by default; a fake's ``http://127.0.0.1:port``).
        timeout: seconds per HTTP request (connect and read).
        rate_limiter: the account's limiter (orders 10/s, 200/min).
        now: clock for ``OrderAck.received_at`` (aware UTC).
        algo_id: optional exchange algo ID sent with every order.
    """

    broker = m.BROKER

    def __init__(
        self,
        credentials: BrokerCredentials,
        session: BrokerSession | None = None,
        *,
        root: str | None = None,
        timeout: float = 7.0,
        rate_limiter: AccountRateLimiter | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        algo_id: str | None = None,
    ) -> None:
        super().__init__(rate_limiter=rate_limiter)
        if not credentials.api_key:
            raise ValueError("zerodha: credentials.api_key is required")
        #: exchange algo ID sent with every order when set (kiteconnect 5.2.2 ``place_order(algo_id=)``;
        #: SEBI's retail-algo framework tags algo orders, indian-markets.md); None = not sent
        self.algo_id = algo_id
        self._creds = credentials
        self._now = now
        self.kite = KiteConnect(
            api_key=credentials.api_key,
            access_token=session.access_token if session else None,
            root=root,
            timeout=timeout,
        )
        self.session = session

    # ---- plumbing ------------------------------------------------------------------------
    def _call(self, fn: Callable[[], Any], *, mutating: bool, tag: str | None = None) -> Any:
        def run() -> Any:
            try:
                return fn()
            except kex.KiteException as exc:
                raise translate_kite_error(exc, mutating=mutating, tag=tag) from exc

        return guarded(run, broker=self.broker, mutating=mutating, tag=tag)

    # ---- session -------------------------------------------------------------------------
    def login(self) -> BrokerSession:
        """Exchange the day's ``request_token`` for an access token (POST /session/token with
        checksum sha256(api_key + request_token + api_secret), computed by the SDK)."""
        if not (self._creds.request_token and self._creds.api_secret):
            raise ValueError("zerodha: login needs credentials.request_token and api_secret")
        self.rate_limiter.acquire("default")
        data = self._call(
            lambda: self.kite.generate_session(self._creds.request_token, api_secret=self._creds.api_secret),
            mutating=False,
        )
        self.session = BrokerSession(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token") or None,
            user_id=data.get("user_id"),
            obtained_at=self._now(),
        )
        return self.session

    # ---- commands ------------------------------------------------------------------------
    def place_order(self, request: OrderRequest) -> OrderAck:
        """POST /orders/regular with ``tag``. Returns the Kite order_id (a string; new ids have
        19 digits, never parsed as a number).

        Order types sent (broker-samples/kite/place_order_params.json): MARKET carries
        ``market_protection=-1`` (automatic; 0/missing is rejected since 1 Apr 2026); an SL-M on
        an option is sent as SL with the limit a protection offset beyond the trigger (NSE
        16052). No ``autoslice``: its children carry ``tag: null`` and would escape
        reconciliation by tag; the platform slices by freeze limit itself."""
        if needs_stop_limit(request):
            request = stop_limit_for(request)
        params = dict(
            variety=lookup(m.VARIETY, request.order_type, what="variety", broker=self.broker),
            exchange=lookup(m.EXCHANGE, request.exchange, what="exchange", broker=self.broker),
            tradingsymbol=request.tradingsymbol,
            transaction_type=lookup(m.TRANSACTION_TYPE, request.transaction_type, what="transaction_type", broker=self.broker),
            quantity=request.quantity,
            product=lookup(m.PRODUCT, request.product, what="product", broker=self.broker),
            order_type=lookup(m.ORDER_TYPE, request.order_type, what="order_type", broker=self.broker),
            price=str(request.price) if request.price is not None else None,
            trigger_price=str(request.trigger_price) if request.trigger_price is not None else None,
            validity=lookup(m.VALIDITY, request.validity, what="validity", broker=self.broker),
            tag=request.tag,
        )
        if request.order_type.value in ("MARKET", "SL-M"):
            params["market_protection"] = m.MARKET_PROTECTION_AUTO
        if self.algo_id:
            params["algo_id"] = self.algo_id
        with self.rate_limiter.slot("orders", exchange=request.exchange):
            order_id = self._call(lambda: self.kite.place_order(**params), mutating=True, tag=request.tag)
        return OrderAck(order_id=str(order_id), tag=request.tag, broker=self.broker, received_at=self._now(), raw={"order_id": order_id})

    def modify_order(self, request: ModifyRequest) -> OrderAck:
        """PUT /orders/regular/{order_id}; ``None`` fields are not sent (Kite keeps them)."""
        params = dict(
            variety=m.VARIETY_REGULAR,
            order_id=request.order_id,
            quantity=request.quantity,
            price=str(request.price) if request.price is not None else None,
            trigger_price=str(request.trigger_price) if request.trigger_price is not None else None,
            order_type=lookup(m.ORDER_TYPE, request.order_type, what="order_type", broker=self.broker) if request.order_type else None,
        )
        with self.rate_limiter.slot("orders"):
            order_id = self._call(lambda: self.kite.modify_order(**params), mutating=True)
        return OrderAck(order_id=str(order_id), tag=None, broker=self.broker, received_at=self._now(), raw={"order_id": order_id})

    def cancel_order(self, order_id: str) -> OrderAck:
        """DELETE /orders/regular/{order_id}."""
        with self.rate_limiter.slot("orders"):
            oid = self._call(lambda: self.kite.cancel_order(m.VARIETY_REGULAR, order_id), mutating=True)
        return OrderAck(order_id=str(oid), tag=None, broker=self.broker, received_at=self._now(), raw={"order_id": oid})

    def logout(self) -> bool:
        """DELETE /session/token (kiteconnect ``invalidate_access_token``): the access token stops working."""
        self.rate_limiter.acquire("default")
        self._call(lambda: self.kite.invalidate_access_token(), mutating=False)
        return True

    # ---- reports -------------------------------------------------------------------------
    def _report(self, row: dict[str, Any]) -> OrderReport:
        qty = int(row.get("quantity") or 0)
        filled = int(row.get("filled_quantity") or 0)
        status = read_status(m.STATUS, row.get("status"), broker=self.broker, order_id=row.get("order_id"))
        avg = to_decimal(row.get("average_price"))
        price = to_decimal(row.get("price"))
        trig = to_decimal(row.get("trigger_price"))
        placed = parse_ist(row.get("order_timestamp"), _KITE_TIME)
        return OrderReport(
            order_id=str(row["order_id"]),
            tag=row.get("tag") or None,
            status=derive_status(status, qty, filled),
            quantity=qty,
            filled_quantity=filled,
            pending_quantity=int(row.get("pending_quantity") or max(qty - filled, 0)),
            average_price=avg if avg else None,
            price=price if price else None,
            trigger_price=trig if trig else None,
            tradingsymbol=row["tradingsymbol"],
            exchange=read_code(_EXCH_IN, row["exchange"], what="exchange", broker=self.broker),
            transaction_type=read_code(_TXN_IN, row["transaction_type"], what="transaction_type", broker=self.broker),
            product=read_code(_PRODUCT_IN, row["product"], what="product", broker=self.broker),
            order_type=read_code(_ORDER_TYPE_IN, row["order_type"], what="order_type", broker=self.broker),
            message=row.get("status_message") or None,
            placed_at=placed,
            updated_at=parse_ist(row.get("exchange_update_timestamp") or row.get("exchange_timestamp"), _KITE_TIME) or placed,
            raw=row,
        )

    def order_book(self) -> list[OrderReport]:
        """GET /orders."""
        self.rate_limiter.acquire("default")
        return [self._report(r) for r in self._call(self.kite.orders, mutating=False)]

    def order_status(self, order_id: str) -> OrderReport:
        """GET /orders/{order_id} (history; the last entry is the current state)."""
        self.rate_limiter.acquire("default")
        try:
            history = self._call(lambda: self.kite.order_history(order_id), mutating=False)
        except OrderRejected as exc:
            raise OrderNotFound(f"zerodha: order {order_id} not found", broker=self.broker, broker_message=exc.broker_message, code=exc.code, http_status=exc.http_status) from exc
        if not history:
            raise OrderNotFound(f"zerodha: order {order_id} not found", broker=self.broker, code="EMPTY")
        return self._report(history[-1])

    def positions(self) -> list[PositionReport]:
        """GET /portfolio/positions, the ``net`` list."""
        self.rate_limiter.acquire("default")
        data = self._call(self.kite.positions, mutating=False)
        out = []
        for row in data.get("net", []):
            out.append(
                PositionReport(
                    tradingsymbol=row["tradingsymbol"],
                    exchange=read_code(_EXCH_IN, row["exchange"], what="exchange", broker=self.broker),
                    product=read_code(_PRODUCT_IN, row["product"], what="product", broker=self.broker),
                    quantity=int(row.get("quantity") or 0),
                    average_price=to_decimal(row.get("average_price")) or Decimal("0"),
                    ltp=to_decimal(row.get("last_price")),
                    realised_pnl=to_decimal(row.get("realised")) or Decimal("0"),
                    unrealised_pnl=to_decimal(row.get("unrealised")) or Decimal("0"),
                    raw=row,
                )
            )
        return out

    def ltp(self, instruments: Sequence[InstrumentRef]) -> dict[str, Decimal]:
        """GET /quote/ltp?i=EXCH:SYM... -> {"EXCH:SYM": rupees}."""
        keys = [i.key for i in instruments]
        self.rate_limiter.acquire("quotes")
        data = self._call(lambda: self.kite.ltp(keys), mutating=False)
        return {k: Decimal(str(v["last_price"])) for k, v in data.items()}

    def quotes(self, instruments: Sequence[InstrumentRef]) -> dict[str, Quote]:
        """GET /quote?i=EXCH:SYM... -> best bid/ask from ``depth``."""
        keys = [i.key for i in instruments]
        self.rate_limiter.acquire("quotes")
        data = self._call(lambda: self.kite.quote(keys), mutating=False)
        out = {}
        for key, v in data.items():
            exch, sym = key.split(":", 1)
            depth = v.get("depth") or {}
            buy = (depth.get("buy") or [{}])[0]
            sell = (depth.get("sell") or [{}])[0]
            ts = v.get("timestamp") or v.get("last_trade_time")
            out[key] = Quote(
                exchange=Exchange(exch), tradingsymbol=sym, ltp=Decimal(str(v["last_price"])),
                bid=to_decimal(buy.get("price")), ask=to_decimal(sell.get("price")),
                bid_qty=buy.get("quantity"), ask_qty=sell.get("quantity"),
                timestamp=parse_ist(ts, _KITE_TIME), raw=v,
            )
        return out

    def instruments(self, exchange: str | None = None) -> list[BrokerInstrument]:
        """GET /instruments[/{exchange}] (CSV parsed by the SDK)."""
        self.rate_limiter.acquire("default")
        rows = self._call(lambda: self.kite.instruments(exchange), mutating=False)
        out = []
        for r in rows:
            if r["exchange"] not in _EXCH_IN:
                continue
            out.append(BrokerInstrument(
                exchange=Exchange(r["exchange"]), tradingsymbol=r["tradingsymbol"], token=str(r["instrument_token"]),
                lot_size=int(r["lot_size"]), tick_size=Decimal(str(r["tick_size"])), raw=r,
            ))
        return out
