"""Fake Zerodha Kite Connect v3 server (what ``kiteconnect.KiteConnect(root=fake.url)`` talks to).

Protocol (kiteconnect 5.2.2 connect.py; kite.trade/docs/connect/v3): form-encoded bodies;
``X-Kite-Version: 3`` and ``Authorization: token api_key:access_token`` required; success
``{"status": "success", "data": ...}``; errors ``{"status": "error", "message", "error_type"}``
with HTTP 403 TokenException (bad/expired token), 400 InputException (validation), 429
NetworkException "Too many requests", 500 GeneralException, 502 DataException, 503
NetworkException. Login: POST /session/token with checksum sha256(api_key + request_token +
api_secret). Timestamps ``YYYY-MM-DD HH:MM:SS`` IST.

Usage::

    with FakeKiteServer(instruments=[("NFO", "NIFTY2681825000CE", "12345", 65, "0.05")],
                        api_key="k", api_secret="s", request_token="rt") as fake:
        kite = KiteConnect("k", access_token=fake.access_token, root=fake.url)
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

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

_TIME = "%Y-%m-%d %H:%M:%S"
_STATUS = {"PENDING": "OPEN PENDING", "OPEN": "OPEN", "COMPLETE": "COMPLETE", "CANCELLED": "CANCELLED", "REJECTED": "REJECTED",
           "TRIGGER_PENDING": "TRIGGER PENDING"}
#: the order history's rows for the fake's PENDING (broker-samples/kite/order_info.json spells
#: the first "PUT ORDER REQ RECEIVED"; order_statuses.json)
_PENDING_WALK = ("PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING")
_ERROR_TYPES = {400: "InputException", 403: "TokenException", 429: "NetworkException", 500: "GeneralException",
                502: "DataException", 503: "NetworkException", 504: "NetworkException"}
_ERROR_MESSAGES = {429: "Too many requests", 502: "Bad response from the OMS", 503: "Gateway not reachable",
                   500: "Something went wrong", 504: "Gateway timed out"}


class FakeKiteServer(FakeServerBase):
    """Fake Kite Connect. ``access_token`` is valid from the start (or obtain one via login).

    Args:
        instruments: ``[(exchange, tradingsymbol, token, lot_size, tick_size), ...]``.
        price_source: ``(exchange, tradingsymbol) -> Decimal`` fill/LTP price (default: prices
            set with ``engine.set_price``, else 100).
    """

    def __init__(self, instruments: list[tuple], *, api_key: str = "kite_key", api_secret: str = "kite_secret",
                 request_token: str = "kite_request_token", price_source=None, clock=None,
                 exchange_latency_s: float = DEFAULT_EXCHANGE_LATENCY_S, **kw: Any) -> None:
        # new Kite order ids have 19 digits (kiteconnect-mocks orders.json, 2025-08-07)
        super().__init__(OrderEngine(instruments, price_source, order_id_start=1953341975595868160, clock=clock,
                                     exchange_latency_s=exchange_latency_s), **kw)
        self.api_key = api_key
        self.api_secret = api_secret
        self.request_token = request_token
        self.access_token = secrets.token_hex(16)
        #: order_id -> market_protection sent with it
        self.protection: dict[str, int] = {}

    # ---- helpers -------------------------------------------------------------------------
    @staticmethod
    def _ok(data: Any) -> Reply:
        return json_reply(200, {"status": "success", "data": data})

    @staticmethod
    def _err(status: int, message: str, error_type: str | None = None) -> Reply:
        return json_reply(status, {"status": "error", "message": message, "data": None,
                                   "error_type": error_type or _ERROR_TYPES.get(status, "GeneralException")})

    def error_reply(self, status: int, path: str, message: str | None = None) -> Reply:
        return self._err(status, message or _ERROR_MESSAGES.get(status, "Error"))

    def _history(self, o: FakeOrder) -> list[dict[str, Any]]:
        """GET /orders/{id}: one row per status the order went through, oldest first (the last
        is its current state), as kiteconnect-mocks order_info.json: PENDING is rendered as the
        walk PUT ORDER REQ RECEIVED -> VALIDATION PENDING -> OPEN PENDING; quantities and the
        average price are those of each moment (0 filled before COMPLETE)."""
        rows = []
        for status, at in o.history or [(o.status, o.updated_at)]:
            names = _PENDING_WALK if status == "PENDING" else (_STATUS[status],)
            for name in names:
                row = self._row(o)
                done = status == "COMPLETE"
                row.update({"status": name, "exchange_update_timestamp": at.strftime(_TIME),
                            "exchange_timestamp": at.strftime(_TIME) if status != "PENDING" else None,
                            "exchange_order_id": row["exchange_order_id"] if status != "PENDING" else None,
                            "filled_quantity": o.filled if done else 0,
                            "average_price": float(o.average_price) if done else 0,
                            "pending_quantity": o.quantity if status in WORKING_STATUSES else 0})
                rows.append(row)
        return rows

    def _row(self, o: FakeOrder) -> dict[str, Any]:
        """One order row with every field (and JSON type) of kiteconnect-mocks orders.json."""
        return {
            "account_id": "AB1234", "placed_by": "AB1234", "terminal_id": "111111111111100",
            "order_id": o.order_id, "exchange_order_id": "1" + o.order_id[-15:], "parent_order_id": None,
            "status": _STATUS[o.status], "status_message": o.message or None, "status_message_raw": o.message or None,
            "order_timestamp": o.placed_at.strftime(_TIME), "exchange_update_timestamp": o.updated_at.strftime(_TIME),
            "exchange_timestamp": o.updated_at.strftime(_TIME), "variety": o.variety,
            "modified": o.updated_at != o.placed_at and o.status != "COMPLETE",
            "exchange": o.exchange, "tradingsymbol": o.tradingsymbol, "instrument_token": int(o.token),
            "order_type": o.order_type, "transaction_type": o.side, "validity": o.validity, "validity_ttl": 0,
            "product": o.product, "quantity": o.quantity, "disclosed_quantity": 0,
            "price": float(o.price), "trigger_price": float(o.trigger_price), "average_price": float(o.average_price),
            "filled_quantity": o.filled,
            "pending_quantity": o.quantity - o.filled if o.status in WORKING_STATUSES else 0,
            "cancelled_quantity": o.quantity - o.filled if o.status == "CANCELLED" else 0,
            "market_protection": self.protection.get(o.order_id, 0), "meta": {},
            "tag": o.tag or None, "tags": [o.tag] if o.tag else [], "guid": "fake-" + o.order_id,
        }

    @staticmethod
    def _trade(t: dict[str, Any]) -> dict[str, Any]:
        """A trade row with the fields/types of kiteconnect-mocks trades.json."""
        return {"trade_id": t["trade_id"], "order_id": t["order_id"], "exchange": t["exchange"],
                "tradingsymbol": t["tradingsymbol"], "instrument_token": 0, "product": t["product"],
                "average_price": float(t["price"]), "quantity": t["quantity"],
                "exchange_order_id": "1" + t["order_id"][-15:], "transaction_type": t["side"],
                "fill_timestamp": t["time"].strftime(_TIME), "order_timestamp": t["time"].strftime("%H:%M:%S"),
                "exchange_timestamp": t["time"].strftime(_TIME)}

    @staticmethod
    def _position(p: dict[str, Any]) -> dict[str, Any]:
        """A position row with the fields/types of kiteconnect-mocks positions.json."""
        buy_price = float(p["buy_value"] / p["buy_qty"]) if p["buy_qty"] else 0.0
        sell_price = float(p["sell_value"] / p["sell_qty"]) if p["sell_qty"] else 0.0
        pnl = float(p["realised"] + p["unrealised"])
        return {"tradingsymbol": p["tradingsymbol"], "exchange": p["exchange"], "instrument_token": int(p["token"]),
                "product": p["product"], "quantity": p["qty"], "overnight_quantity": 0, "multiplier": 1,
                "average_price": float(p["avg"]), "close_price": 0, "last_price": float(p["ltp"]),
                "value": float(p["sell_value"] - p["buy_value"]), "pnl": pnl, "m2m": pnl,
                "unrealised": float(p["unrealised"]), "realised": float(p["realised"]),
                "buy_quantity": p["buy_qty"], "buy_price": buy_price, "buy_value": float(p["buy_value"]),
                "buy_m2m": float(p["buy_value"]), "sell_quantity": p["sell_qty"], "sell_price": sell_price,
                "sell_value": float(p["sell_value"]), "sell_m2m": float(p["sell_value"]),
                "day_buy_quantity": p["buy_qty"], "day_buy_price": buy_price, "day_buy_value": float(p["buy_value"]),
                "day_sell_quantity": p["sell_qty"], "day_sell_price": sell_price,
                "day_sell_value": float(p["sell_value"])}

    # ---- dispatch ------------------------------------------------------------------------
    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        parts = urlsplit(path)
        route = parts.path.rstrip("/")
        query = parse_qs(parts.query)
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()} if body else {}
        if headers.get("X-Kite-Version") != "3":
            return self._err(400, "Invalid or missing X-Kite-Version header", "InputException")
        if method == "POST" and route == "/session/token":
            return self._login(form)
        if method == "DELETE" and route == "/session/token":  # invalidate_access_token
            if query.get("api_key", [""])[-1] == self.api_key and query.get("access_token", [""])[-1] == self.access_token:
                self.session_expired = True
                self.logouts = getattr(self, "logouts", 0) + 1
                return self._ok(True)
            return self._err(403, "Incorrect `api_key` or `access_token`.", "TokenException")
        if headers.get("Authorization") != f"token {self.api_key}:{self.access_token}":
            return self._err(403, "Incorrect `api_key` or `access_token`.", "TokenException")
        if self.session_expired:
            return self._err(403, "Token is invalid or has expired.", "TokenException")
        seg = route.strip("/").split("/")
        eng = self.engine
        try:
            if method == "POST" and seg[0] == "orders" and len(seg) == 2:
                return self._place(seg[1], form)
            if method == "PUT" and seg[0] == "orders" and len(seg) == 3:
                o = eng.modify(seg[2], quantity=int(form["quantity"]) if form.get("quantity") else None,
                               price=Decimal(form["price"]) if form.get("price") else None,
                               trigger_price=Decimal(form["trigger_price"]) if form.get("trigger_price") else None,
                               order_type=form.get("order_type"))
                return self._ok({"order_id": o.order_id})
            if method == "DELETE" and seg[0] == "orders" and len(seg) == 3:
                return self._ok({"order_id": eng.cancel(seg[2]).order_id})
            if method == "GET" and route == "/orders":
                eng.match()
                return self._ok([self._row(o) for o in list(eng.orders.values())])
            if method == "GET" and seg[0] == "orders" and len(seg) == 2:
                eng.match()
                return self._ok(self._history(eng.get(seg[1])))
            if method == "GET" and route == "/trades":
                eng.match()
                return self._ok([self._trade(t) for t in eng.trades])
            if method == "GET" and seg[0] == "orders" and len(seg) == 3 and seg[2] == "trades":
                eng.match()
                return self._ok([self._trade(t) for t in eng.trades if t["order_id"] == seg[1]])
            if method == "GET" and route == "/portfolio/positions":
                net = [self._position(p) for p in eng.positions()]
                return self._ok({"net": net, "day": net})
            if method == "GET" and route in ("/quote/ltp", "/quote", "/quote/ohlc"):
                return self._quote(route, query.get("i", []))
            if method == "GET" and seg[0] == "instruments":
                return self._instruments(seg[1] if len(seg) > 1 else None)
        except OrderError as exc:
            if exc.kind == "not_found":
                return self._err(400, "Couldn't find that `order_id`.", "InputException")
            return self._err(400, str(exc), "InputException")
        return self._err(404, "Route not found", "GeneralException")

    def _login(self, form: dict[str, str]) -> Reply:
        expected = hashlib.sha256((self.api_key + self.request_token + self.api_secret).encode()).hexdigest()
        if form.get("api_key") != self.api_key or form.get("request_token") != self.request_token or form.get("checksum") != expected:
            return self._err(403, "Token is invalid or has expired.", "TokenException")
        self.access_token = secrets.token_hex(16)
        self.session_expired = False
        return self._ok({"user_type": "individual", "email": "fake@example.invalid", "user_name": "Fake",
                         "user_shortname": "Fake", "broker": "ZERODHA", "exchanges": ["NFO", "BFO"],
                         "products": ["NRML", "MIS"], "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
                         "avatar_url": "", "user_id": "AB1234", "api_key": self.api_key,
                         "access_token": self.access_token, "public_token": secrets.token_hex(8),
                         "enctoken": secrets.token_hex(8), "refresh_token": "", "silo": "",
                         "login_time": "2026-08-18 08:45:00", "meta": {"demat_consent": "physical"}})

    def _place(self, variety: str, form: dict[str, str]) -> Reply:
        if variety not in ("regular", "amo", "co", "iceberg", "auction"):
            return self._err(400, "Invalid `variety`.", "InputException")
        tag = form.get("tag", "")
        if len(tag) > 20:
            return self._err(400, "Tag length should be less than 20 characters.", "InputException")
        for f in ("exchange", "tradingsymbol", "transaction_type", "quantity", "product", "order_type"):
            if not form.get(f):
                return self._err(400, f"Missing `{f}`", "InputException")
        if form["product"] not in ("NRML", "MIS", "CNC") or form["order_type"] not in ("MARKET", "LIMIT", "SL", "SL-M"):
            return self._err(400, "Invalid `product` or `order_type`.", "InputException")
        protection = 0
        if form["order_type"] in ("MARKET", "SL-M"):
            try:
                protection = int(form.get("market_protection") or 0)
            except ValueError:
                protection = 0
            if protection == 0 or protection < -1 or protection > 100:
                # wording: user-quoted Kite answer (kite/SOURCES.md "Not found"); rule: forum 15912
                return self._err(400, "Market orders without market protection are not allowed via API. "
                                      "Please set market protection or use a Limit order.", "InputException")
        o = self.engine.place(
            exchange=form["exchange"], tradingsymbol=form["tradingsymbol"], side=form["transaction_type"],
            quantity=int(form["quantity"]), product=form["product"], order_type=form["order_type"],
            price=Decimal(form.get("price") or "0"), trigger_price=Decimal(form.get("trigger_price") or "0"),
            tag=tag, variety=variety, validity=form.get("validity", "DAY"),
        )
        self.protection[o.order_id] = protection
        stall = self.faults.take_stall()
        return json_reply(200, {"status": "success", "data": {"order_id": o.order_id}}, stall_s=stall)

    def _quote(self, route: str, keys: list[str]) -> Reply:
        out = {}
        for key in keys:
            exch, _, sym = key.partition(":")
            inst = self.engine.instruments.get((exch, sym))
            if inst is None:
                continue  # Kite silently omits unknown instruments
            ltp = float(self.engine.ltp(exch, sym))
            item: dict[str, Any] = {"instrument_token": int(inst.token), "last_price": ltp}
            if route != "/quote/ltp":
                item["ohlc"] = {"open": ltp, "high": ltp, "low": ltp, "close": ltp}
            if route == "/quote":
                tick = float(inst.tick_size)
                lower, upper = self.engine.band(exch, sym)
                empty = {"price": 0, "quantity": 0, "orders": 0}
                item.update({"timestamp": "2026-08-18 09:30:00", "last_trade_time": "2026-08-18 09:30:00",
                             "last_quantity": inst.lot_size, "buy_quantity": inst.lot_size,
                             "sell_quantity": inst.lot_size, "volume": 0, "average_price": ltp, "oi": 0,
                             "oi_day_high": 0, "oi_day_low": 0, "net_change": 0,
                             "lower_circuit_limit": float(lower), "upper_circuit_limit": float(upper),
                             "depth": {"buy": [{"price": round(ltp - tick, 2), "quantity": inst.lot_size, "orders": 1}] + [empty] * 4,
                                       "sell": [{"price": round(ltp + tick, 2), "quantity": inst.lot_size, "orders": 1}] + [empty] * 4}})
            out[key] = item
        return self._ok(out)

    def _instruments(self, exchange: str | None) -> Reply:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["instrument_token", "exchange_token", "tradingsymbol", "name", "last_price", "expiry", "strike",
                    "tick_size", "lot_size", "instrument_type", "segment", "exchange"])
        for inst in self.engine.instruments.values():
            if exchange and inst.exchange != exchange:
                continue
            kind = inst.instrument_type
            w.writerow([inst.token, inst.token, inst.tradingsymbol, inst.name, 0, inst.expiry, inst.strike or 0,
                        inst.tick_size, inst.lot_size, kind, f"{inst.exchange}-{'FUT' if kind == 'FUT' else 'OPT'}",
                        inst.exchange])
        return Reply(200, buf.getvalue().encode(), "text/csv")
