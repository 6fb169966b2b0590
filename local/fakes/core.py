"""Shared machinery of the fake broker servers: order engine, faults, HTTP server base.

Semantics (platform vocabulary; each fake translates to its broker's codes):

- Validation at placement: unknown (exchange, tradingsymbol) -> error; quantity not a positive
  multiple of the lot size -> error; price / trigger not on the tick -> error.
- Asynchronous like a real broker: ``place`` answers with the order id while the order is still
  on its way to the exchange (status PENDING: Kite's order history walks PUT ORDER REQ RECEIVED
  -> VALIDATION PENDING -> OPEN PENDING -> OPEN -> COMPLETE, broker-samples/kite/order_info.json;
  Noren's SingleOrdHist PendingNew/NewAck -> New -> Fill, noren/single_order_history_response.json).
  It reaches the exchange ``exchange_latency_s`` after acceptance (the samples' timestamps put the
  whole walk inside one second and give no finer figure: a few milliseconds is assumed,
  :data:`DEFAULT_EXCHANGE_LATENCY_S`; 0 = synchronous, for tests of shapes only). A placer that
  reads the book right after its answer sees OPEN PENDING, as it would at the broker.
- Fills at ``price_source(exchange, tradingsymbol) -> Decimal`` once at the exchange: MARKET at
  once; LIMIT at once when marketable (BUY limit >= LTP, SELL limit <= LTP) else OPEN; SL / SL-M
  wait in TRIGGER_PENDING until LTP crosses the trigger (``engine.match()`` moves orders that
  reached the exchange on and re-checks every working order; the fakes call it before each book,
  order-history, trade-book and position read).
- Times are IST wall clock (the brokers' convention).
- Exchange rules every real broker enforces (:meth:`OrderEngine.exchange_checks`, kinds in
  :class:`OrderError`): SL-M on an NFO/BFO option is refused (NSE error 16052; BSE discontinued
  SL-M), a LIMIT price outside the contract's price band [lc, uc] (served as Noren GetQuotes
  ``lc``/``uc``) and an SL limit farther than the band from its trigger are refused, and with a
  ``clock`` an order outside the exchange's session is refused (calendar: NFO -> NSE, BFO ->
  BSE; sessions per exchange and date from ``config/market/calendar/sessions.json``).
  The band is ``band_fraction`` (default 20 %) of the LTP either side, at least 5 ticks: the
  references name the rule (brokers' limit-price protection) but no figure for options; the
  adapters' protection offsets (<= 5 %) sit well inside it.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")

#: seconds from a broker accepting an order to the order being OPEN at the exchange (and filled
#: when marketable). No reference gives a figure (kite/order_info.json stamps the whole status
#: walk with one second); 5 ms is an assumption of "small but not zero", so a confirmation that
#: reads too early sees OPEN PENDING as it can at the real broker.
DEFAULT_EXCHANGE_LATENCY_S = 0.005
#: working statuses (PENDING = accepted by the broker, not yet at the exchange)
WORKING_STATUSES = ("PENDING", "OPEN", "TRIGGER_PENDING")


@dataclass(frozen=True)
class FakeInstrument:
    """One contract the fake knows: lot size in units per lot, tick size in rupees."""

    exchange: str
    tradingsymbol: str
    token: str
    lot_size: int
    tick_size: Decimal
    #: optional contract facts, served in Kite's instruments dump when given
    name: str = ""
    expiry: str = ""
    strike: str = "0"
    instrument_type: str = "CE"


def instruments_from_tuples(rows: Iterable[tuple]) -> list[FakeInstrument]:
    """``[(exchange, tradingsymbol, token, lot_size, tick_size[, name, expiry, strike,
    instrument_type]), ...]`` -> FakeInstrument list."""
    out = []
    for row in rows:
        e, s, t, l, k, *rest = row
        out.append(FakeInstrument(e, s, str(t), int(l), Decimal(str(k)), *[str(x) for x in rest]))
    return out


@dataclass
class FakeOrder:
    """An order inside a fake (platform codes: side BUY/SELL, order_type MARKET/LIMIT/SL/SL-M,
    status PENDING/OPEN/COMPLETE/CANCELLED/REJECTED/TRIGGER_PENDING; PENDING = accepted, not yet
    at the exchange). ``history``: (status, IST time) of every status it went through, oldest
    first (what Kite's order history and Noren's SingleOrdHist render)."""

    order_id: str
    exchange: str
    tradingsymbol: str
    token: str
    side: str
    quantity: int
    product: str
    order_type: str
    price: Decimal
    trigger_price: Decimal
    tag: str
    variety: str
    validity: str
    status: str = "OPEN"
    filled: int = 0
    average_price: Decimal = Decimal("0")
    message: str = ""
    placed_at: datetime = field(default_factory=lambda: datetime.now(IST))
    updated_at: datetime = field(default_factory=lambda: datetime.now(IST))
    #: monotonic instant the order reaches the exchange (PENDING until then)
    live_at: float = 0.0
    history: list[tuple[str, datetime]] = field(default_factory=list)

    def set_status(self, status: str, at: datetime | None = None) -> None:
        """Move to ``status`` and record it in ``history``."""
        self.status = status
        self.updated_at = at or datetime.now(IST)
        self.history.append((status, self.updated_at))


class OrderError(Exception):
    """Validation failure inside the engine; the fake renders it in its broker's error shape."""

    def __init__(self, message: str, kind: str = "input") -> None:
        super().__init__(message)
        #: "input" | "not_found" | "state" | "slm_option" | "band" | "closed"
        self.kind = kind


class OrderEngine:
    """Thread-safe order book, trade book and positions of ONE fake account."""

    def __init__(
        self,
        instruments: Iterable[FakeInstrument | tuple],
        price_source: Callable[[str, str], Decimal] | None = None,
        order_id_start: int = 260818000000001,
        clock: Callable[[], datetime] | None = None,
        band_fraction: Decimal | str = "0.20",
        exchange_latency_s: float = 0.0,
    ) -> None:
        rows = [i if isinstance(i, FakeInstrument) else instruments_from_tuples([i])[0] for i in instruments]
        self.instruments = {(i.exchange, i.tradingsymbol): i for i in rows}
        self.by_token = {(i.exchange, i.token): i for i in rows}
        self.prices: dict[tuple[str, str], Decimal] = {}
        self.price_source = price_source or (lambda e, s: self.prices.get((e, s), Decimal("100")))
        self.orders: dict[str, FakeOrder] = {}
        self.trades: list[dict[str, Any]] = []
        self._ids = itertools.count(order_id_start)
        self._trade_ids = itertools.count(1)
        self.lock = threading.RLock()
        #: "now" (aware) for the session check; None = the market is always open (unit tests)
        self.clock = clock
        self.band_fraction = Decimal(str(band_fraction))
        #: seconds from acceptance to the exchange (module doc); 0 = synchronous
        self.exchange_latency_s = float(exchange_latency_s)

    # ---- exchange rules --------------------------------------------------------------------
    def band(self, exchange: str, tradingsymbol: str) -> tuple[Decimal, Decimal]:
        """(lower, upper) price band of the contract around its LTP, on the tick."""
        inst = self.instrument(exchange, tradingsymbol)
        ltp = self.ltp(exchange, tradingsymbol)
        width = max(ltp * self.band_fraction, inst.tick_size * 5)
        lower = ((ltp - width) / inst.tick_size).to_integral_value(rounding="ROUND_CEILING") * inst.tick_size
        upper = ((ltp + width) / inst.tick_size).to_integral_value(rounding="ROUND_FLOOR") * inst.tick_size
        return max(lower, inst.tick_size), upper

    @staticmethod
    def is_option(exchange: str, tradingsymbol: str) -> bool:
        sym = tradingsymbol.upper()
        if exchange not in ("NFO", "BFO"):
            return False
        head = sym.rstrip("0123456789.")
        return sym.endswith(("CE", "PE")) or (len(head) < len(sym) and head[-1:] in ("C", "P"))

    def exchange_checks(self, *, exchange: str, tradingsymbol: str, order_type: str, price: Decimal,
                        trigger_price: Decimal) -> None:
        """Refuse what the exchange refuses (see module doc). Raises OrderError."""
        if order_type == "SL-M" and self.is_option(exchange, tradingsymbol):
            raise OrderError("SL-M orders are not allowed on index options (exchange error 16052); "
                             "use an SL (stop-limit) order", kind="slm_option")
        if self.clock is not None:
            from shared_utils.market.calendar import default_calendar

            if not default_calendar().is_open(self.clock(), exchange):
                raise OrderError(f"Markets are closed right now ({exchange})", kind="closed")
        lower, upper = self.band(exchange, tradingsymbol)
        if order_type == "LIMIT" and price and not lower <= price <= upper:
            raise OrderError(f"Limit price {price} is outside the price band {lower}-{upper}", kind="band")
        if order_type == "SL" and price and trigger_price:
            width = upper - self.ltp(exchange, tradingsymbol)
            if abs(price - trigger_price) > width:
                raise OrderError(f"Limit price {price} is too far from the trigger {trigger_price} "
                                 f"(band {width})", kind="band")

    def set_price(self, exchange: str, tradingsymbol: str, price: Decimal | str) -> None:
        """Set the LTP used by the default price source and re-match working orders."""
        self.prices[(exchange, tradingsymbol)] = Decimal(str(price))
        self.match()

    def ltp(self, exchange: str, tradingsymbol: str) -> Decimal:
        return Decimal(str(self.price_source(exchange, tradingsymbol)))

    def instrument(self, exchange: str, tradingsymbol: str) -> FakeInstrument:
        try:
            return self.instruments[(exchange, tradingsymbol)]
        except KeyError:
            raise OrderError(f"Invalid instrument {exchange}:{tradingsymbol}") from None

    def _check(self, inst: FakeInstrument, quantity: int, price: Decimal, trigger: Decimal) -> None:
        if quantity <= 0 or quantity % inst.lot_size:
            raise OrderError(f"Quantity {quantity} should be a multiple of lot size {inst.lot_size}")
        for name, val in (("price", price), ("trigger price", trigger)):
            if val and val % inst.tick_size:
                raise OrderError(f"The {name} {val} is not a multiple of tick size {inst.tick_size}")

    def book_rejected(self, *, exchange: str, tradingsymbol: str, side: str, quantity: int, product: str,
                      order_type: str, price: Decimal, trigger_price: Decimal, tag: str, variety: str = "",
                      validity: str = "DAY", reason: str) -> FakeOrder:
        """Book an order the broker accepted as a request but its RMS rejected (REJECTED with
        ``message`` = the reason), as brokers report RMS rejections in the order book."""
        with self.lock:
            inst = self.instruments.get((exchange, tradingsymbol))
            now = datetime.now(IST)
            order = FakeOrder(
                order_id=str(next(self._ids)), exchange=exchange, tradingsymbol=tradingsymbol,
                token=inst.token if inst else "0", side=side, quantity=quantity, product=product,
                order_type=order_type, price=price or Decimal("0"), trigger_price=trigger_price or Decimal("0"),
                tag=tag or "", variety=variety, validity=validity, status="REJECTED", message=reason,
                placed_at=now, updated_at=now, history=[("PENDING", now), ("REJECTED", now)],
            )
            self.orders[order.order_id] = order
            return order

    def place(self, *, exchange: str, tradingsymbol: str, side: str, quantity: int, product: str,
              order_type: str, price: Decimal, trigger_price: Decimal, tag: str, variety: str = "",
              validity: str = "DAY") -> FakeOrder:
        """Validate and book an order; fills what is marketable. Raises OrderError."""
        with self.lock:
            inst = self.instrument(exchange, tradingsymbol)
            self._check(inst, quantity, price, trigger_price)
            self.exchange_checks(exchange=exchange, tradingsymbol=tradingsymbol, order_type=order_type,
                                 price=price, trigger_price=trigger_price)
            if order_type in ("SL", "SL-M") and not trigger_price:
                raise OrderError("Trigger price is required for stop-loss orders")
            if order_type in ("LIMIT", "SL") and not price:
                raise OrderError("Price is required for limit orders")
            now = datetime.now(IST)
            order = FakeOrder(
                order_id=str(next(self._ids)), exchange=exchange, tradingsymbol=tradingsymbol, token=inst.token,
                side=side, quantity=quantity, product=product, order_type=order_type, price=price or Decimal("0"),
                trigger_price=trigger_price or Decimal("0"), tag=tag or "", variety=variety, validity=validity,
                status="PENDING", placed_at=now, updated_at=now, history=[("PENDING", now)],
                live_at=time.monotonic() + self.exchange_latency_s,
            )
            self.orders[order.order_id] = order
            self._advance(order)
            return order

    def get(self, order_id: str) -> FakeOrder:
        with self.lock:
            try:
                return self.orders[str(order_id)]
            except KeyError:
                raise OrderError(f"Order {order_id} not found", kind="not_found") from None

    def modify(self, order_id: str, *, quantity: int | None = None, price: Decimal | None = None,
               trigger_price: Decimal | None = None, order_type: str | None = None) -> FakeOrder:
        """Change a working order. Raises OrderError (not found / not modifiable / invalid)."""
        with self.lock:
            order = self.get(order_id)
            self._advance(order)
            if order.status not in WORKING_STATUSES:
                raise OrderError(f"Order cannot be modified, it is {order.status}", kind="state")
            inst = self.instruments[(order.exchange, order.tradingsymbol)]
            q = quantity if quantity else order.quantity
            p = price if price is not None else order.price
            t = trigger_price if trigger_price is not None else order.trigger_price
            self._check(inst, q, p, t)
            order.quantity, order.price, order.trigger_price = q, p, t
            if order_type:
                order.order_type = order_type
            order.updated_at = datetime.now(IST)
            if order.status != "PENDING":
                self._match_one(order)
            return order

    def cancel(self, order_id: str) -> FakeOrder:
        with self.lock:
            order = self.get(order_id)
            self._advance(order)
            if order.status not in WORKING_STATUSES:
                raise OrderError(f"Order cannot be cancelled, it is {order.status}", kind="state")
            order.set_status("CANCELLED")
            return order

    def match(self) -> None:
        """Move the orders that have reached the exchange on, and re-check every working order
        against the price source."""
        with self.lock:
            for order in self.orders.values():
                if order.status in WORKING_STATUSES:
                    self._advance(order)

    def _advance(self, order: FakeOrder) -> None:
        """PENDING -> OPEN / TRIGGER_PENDING once ``live_at`` has passed, then match."""
        if order.status == "PENDING":
            if time.monotonic() < order.live_at:
                return
            order.set_status("TRIGGER_PENDING" if order.order_type in ("SL", "SL-M") else "OPEN")
        if order.status in ("OPEN", "TRIGGER_PENDING"):
            self._match_one(order)

    def _match_one(self, order: FakeOrder) -> None:
        ltp = self.ltp(order.exchange, order.tradingsymbol)
        buy = order.side == "BUY"
        if order.status == "TRIGGER_PENDING":
            triggered = ltp >= order.trigger_price if buy else ltp <= order.trigger_price
            if not triggered:
                return
            order.set_status("OPEN")
        if order.order_type in ("MARKET", "SL-M"):
            self._fill(order, ltp)
        elif (buy and order.price >= ltp) or (not buy and order.price <= ltp):
            self._fill(order, ltp)

    def _fill(self, order: FakeOrder, price: Decimal) -> None:
        qty = order.quantity - order.filled
        order.average_price = price
        order.filled = order.quantity
        order.set_status("COMPLETE")
        self.trades.append({
            "trade_id": str(next(self._trade_ids)), "order_id": order.order_id, "exchange": order.exchange,
            "tradingsymbol": order.tradingsymbol, "side": order.side, "quantity": qty, "price": price,
            "product": order.product, "time": order.updated_at,
        })

    def positions(self) -> list[dict[str, Any]]:
        """Net positions from the trades: qty (signed units), avg of the open quantity, realised
        and unrealised P&L in rupees (marked at the price source)."""
        with self.lock:
            self.match()
            book: dict[tuple[str, str, str], dict[str, Any]] = {}
            for t in self.trades:
                key = (t["exchange"], t["tradingsymbol"], t["product"])
                p = book.setdefault(key, {"qty": 0, "avg": Decimal("0"), "realised": Decimal("0"),
                                          "buy_qty": 0, "sell_qty": 0, "buy_value": Decimal("0"), "sell_value": Decimal("0")})
                signed = t["quantity"] if t["side"] == "BUY" else -t["quantity"]
                if t["side"] == "BUY":
                    p["buy_qty"] += t["quantity"]
                    p["buy_value"] += t["price"] * t["quantity"]
                else:
                    p["sell_qty"] += t["quantity"]
                    p["sell_value"] += t["price"] * t["quantity"]
                q0 = p["qty"]
                if q0 == 0 or (q0 > 0) == (signed > 0):
                    p["avg"] = (p["avg"] * abs(q0) + t["price"] * abs(signed)) / (abs(q0) + abs(signed))
                    p["qty"] = q0 + signed
                else:
                    closed = min(abs(q0), abs(signed))
                    direction = 1 if q0 > 0 else -1
                    p["realised"] += (t["price"] - p["avg"]) * closed * direction
                    p["qty"] = q0 + signed
                    if p["qty"] == 0:
                        p["avg"] = Decimal("0")
                    elif (p["qty"] > 0) != (q0 > 0):
                        p["avg"] = t["price"]
            out = []
            for (exch, sym, prod), p in book.items():
                ltp = self.ltp(exch, sym)
                unreal = (ltp - p["avg"]) * p["qty"] if p["qty"] else Decimal("0")
                out.append({"exchange": exch, "tradingsymbol": sym, "product": prod, "ltp": ltp,
                            "unrealised": unreal, "token": self.instruments[(exch, sym)].token, **p})
            return out


class Faults:
    """Injectable faults of one fake server (thread-safe).

    - ``latency_s``: added to every request before it is handled.
    - ``fail_next(status, times=1, path_contains="")``: the next matching requests answer with
      HTTP ``status`` in the broker's error shape (429 rate limit, 5xx) without acting.
    - ``stall_after_accept(seconds, times=1)``: the next order placements are RECORDED, then the
      answer is held for ``seconds`` (past the client's timeout) -> the client sees a timeout.
    - ``expire_session()`` on the server: every authenticated call answers "session expired".
    """

    def __init__(self) -> None:
        self.latency_s = 0.0
        self._lock = threading.Lock()
        self._fail: list[list[Any]] = []  # [status, remaining, path_contains]
        self._stall: list[float] = []

    def fail_next(self, status: int, times: int = 1, path_contains: str = "") -> None:
        with self._lock:
            self._fail.append([status, times, path_contains])

    def take_failure(self, path: str) -> int | None:
        with self._lock:
            for item in self._fail:
                if item[1] > 0 and item[2] in path:
                    item[1] -= 1
                    return int(item[0])
            return None

    def stall_after_accept(self, seconds: float, times: int = 1) -> None:
        with self._lock:
            self._stall.extend([seconds] * times)

    def take_stall(self) -> float:
        with self._lock:
            return self._stall.pop(0) if self._stall else 0.0


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    stall_s: float = 0.0
    #: ``Location`` header (redirects)
    location: str | None = None


def json_reply(status: int, payload: Any, stall_s: float = 0.0) -> Reply:
    return Reply(status, json.dumps(payload, default=str).encode(), "application/json", stall_s)


class FakeServerBase:
    """A ThreadingHTTPServer on 127.0.0.1 (port 0 = any free port) that dispatches to
    :meth:`handle`. ``start()`` / ``stop()`` / context manager; ``url`` is ``http://127.0.0.1:port``.

    ``requests_log`` holds ``(monotonic_seconds, method, path)`` of every request, recorded on
    arrival (before latency/faults), so tests can measure request rates.
    """

    def __init__(self, engine: OrderEngine, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.engine = engine
        self.faults = Faults()
        self.session_expired = False
        self.requests_log: list[tuple[float, str, str]] = []
        self._log_lock = threading.Lock()
        self._host, self._port = host, port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        #: the static IP registered for this fake's API key (None: any address accepted)
        self.registered_ip: str | None = None
        #: (source address, method, path) of every request refused for its address
        self.refused_sources: list[tuple[str, str, str]] = []

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "FakeServerBase":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            #: TCP_NODELAY on the answer: headers and body leave as two writes, and with Nagle on
            #: the body waited for the client's delayed ACK (~40 ms on Linux) on every kept-alive
            #: request after the first - a latency of the fake, not of any broker
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # silence stderr
                pass

            def _do(self) -> None:
                server._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = _do

        self._httpd = ThreadingHTTPServer((self._host, self._port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeServerBase":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def register_ip(self, address: str | None) -> None:
        """Accept API calls only from ``address`` (SEBI static-IP rule, 1 Apr 2026); the
        browser's OAuth authorize page is exempt (the trader's own browser)."""
        self.registered_ip = address

    def expire_session(self) -> None:
        """From now on every authenticated request answers with the broker's expiry error."""
        self.session_expired = True

    def request_times(self, method: str | None = None, path_contains: str = "") -> list[float]:
        """Monotonic arrival times of the matching requests."""
        with self._log_lock:
            return [t for t, m, p in self.requests_log if (method is None or m == method) and path_contains in p]

    # ---- dispatch ----------------------------------------------------------------------------
    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        with self._log_lock:
            self.requests_log.append((arrived, h.command, h.path))
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        if self.faults.latency_s:
            time.sleep(self.faults.latency_s)
        source = h.client_address[0]
        status = self.faults.take_failure(h.path)
        if self.registered_ip and source != self.registered_ip and not (h.command == "GET" and "authorize" in h.path):
            with self._log_lock:
                self.refused_sources.append((source, h.command, h.path))
            reply = self.error_reply(403, h.path, f"request from {source}: not the static IP registered for this "
                                                  f"API key ({self.registered_ip})")
        elif status is not None:
            reply = self.error_reply(status, h.path)
        else:
            try:
                reply = self.handle(h.command, h.path, h.headers, body)
            except Exception as exc:  # a bug in a fake must still answer like a server
                reply = self.error_reply(500, h.path, str(exc))
        if reply.stall_s:
            time.sleep(reply.stall_s)
        try:
            h.send_response(reply.status)
            h.send_header("Content-Type", reply.content_type)
            if reply.location:
                h.send_header("Location", reply.location)
            h.send_header("Content-Length", str(len(reply.body)))
            h.end_headers()
            h.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): the order stays booked

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:  # pragma: no cover
        raise NotImplementedError

    def error_reply(self, status: int, path: str, message: str | None = None) -> Reply:  # pragma: no cover
        raise NotImplementedError
