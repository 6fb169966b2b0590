"""Fake Noren OMS server (Finvasia Shoonya / Zebu), spoken to by ``NorenClient(host=fake.url)``.

Protocol as of 2026 (shared/reference/broker-samples/noren/, held by ``tests/conformance``):

- OAuth login: ``GET /OAuthlogin/authorize/oauth?client_id=..&state=..`` stands for the trader's
  browser login and answers 302 to ``redirect_url?code=<code>&state=<state>``
  (:meth:`FakeNorenServer.authorize` does the same without HTTP); ``POST .../GenAcsTok`` with
  ``jData={"code","checksum"}``, checksum = hex SHA-256(client_id + secret_key + code), each code
  works once, answers ``access_token``, ``refresh_token``, ``susertoken``, ``USERID``, ``actid``.
- Every other route needs ``Authorization: Bearer <access_token>`` (the ``susertoken`` or a
  legacy ``jKey`` is refused with ``Session Expired : Invalid Session Key``): the token the
  adapter sends (see ``shared_utils/brokers/noren.py`` for the choice and its source).
  QuickAuth is retired (unknown route).
- MKT and SL-MKT are refused for API orders (api_order_type_restrictions.json, secondary);
  limits outside the band [lc, uc] and (with a ``clock``) a closed market are refused; all as
  ``{"stat": "Not_Ok", "emsg": ...}``.
- Rows carry the fields and JSON types of the README samples (every number a string), status
  strings as the samples spell them (order book ``Open``/``REJECT``, history ``OPEN``/``COMPLETE``);
  "no data" is ``Not_Ok`` ``Error Occurred : 5 "no data"``.
- Orders are asynchronous (``core``): ``PENDING`` until they reach the exchange; SingleOrdHist
  answers one row per step, newest first, as single_order_history_response.json (Fill, New,
  PendingNew, NewAck).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from local.fakes.core import (
    DEFAULT_EXCHANGE_LATENCY_S,
    FakeOrder,
    FakeServerBase,
    OrderEngine,
    OrderError,
    Reply,
    json_reply,
)

_PRCTYP = {"MKT": "MARKET", "LMT": "LIMIT", "SL-LMT": "SL", "SL-MKT": "SL-M"}
_PRCTYP_OUT = {v: k for k, v in _PRCTYP.items()}
#: OrderBook spelling (order_book_response.json: "Open", "REJECT") and SingleOrdHist spelling
#: (single_order_history_response.json: "OPEN", "COMPLETE"); order_states.json for the rest.
_STATUS_BOOK = {"PENDING": "PENDING", "OPEN": "Open", "COMPLETE": "COMPLETE", "CANCELLED": "CANCELED", "REJECTED": "REJECT",
                "TRIGGER_PENDING": "TRIGGER_PENDING"}
_STATUS_HIST = {"PENDING": "PENDING", "OPEN": "OPEN", "COMPLETE": "COMPLETE", "CANCELLED": "CANCELED", "REJECTED": "REJECTED",
                "TRIGGER_PENDING": "TRIGGER_PENDING"}
_RPT = {"PENDING": "PendingNew", "OPEN": "New", "COMPLETE": "Fill", "CANCELLED": "Canceled", "REJECTED": "Rejected", "TRIGGER_PENDING": "New"}
_TIME = "%H:%M:%S %d-%m-%Y"
SESSION_EXPIRED = "Session Expired : Invalid Session Key"
NO_DATA = 'Error Occurred : 5 "no data"'


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def not_ok(emsg: str, http: int = 200) -> Reply:
    """The Noren failure object (errors.json): stat, request_time, emsg."""
    from datetime import datetime

    from local.fakes.core import IST

    return json_reply(http, {"stat": "Not_Ok", "request_time": datetime.now(IST).strftime(_TIME), "emsg": emsg})


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


class FakeNorenServer(FakeServerBase):
    """Fake Noren OMS. ``access_token`` is valid from the start (or obtain one via OAuth).

    Args:
        uid: the account (uid/actid). client_id / secret_key: the OAuth app's credentials.
        redirect_url: where the authorize page sends the browser (our callback route).
        clock: "now" for the closed-market check (None = always open).
    """

    def __init__(self, instruments: list[tuple], *, uid: str = "FA1234", client_id: str = "FA1234_U",
                 secret_key: str = "secret", redirect_url: str = "https://example.invalid/callback",
                 price_source=None, clock=None, exchange_latency_s: float = DEFAULT_EXCHANGE_LATENCY_S,
                 **kw: Any) -> None:
        super().__init__(OrderEngine(instruments, price_source, order_id_start=26081800000001, clock=clock,
                                     exchange_latency_s=exchange_latency_s), **kw)
        self.uid, self.client_id, self.secret_key, self.redirect_url = uid, client_id, secret_key, redirect_url
        self.access_token = secrets.token_hex(24)
        self.susertoken = secrets.token_hex(24)
        self.refresh_token = secrets.token_hex(24)
        self._codes: set[str] = set()

    def error_reply(self, status: int, path: str, message: str | None = None) -> Reply:
        return not_ok(message or ("Too many requests" if status == 429 else "Internal server error"), http=status)

    # ---- OAuth -----------------------------------------------------------------------------
    def authorize(self, client_id: str) -> str:
        """The trader logged in and approved ``client_id``: a fresh one-time code."""
        if client_id != self.client_id:
            raise ValueError("unknown client_id")
        code = secrets.token_hex(16)
        self._codes.add(code)
        return code

    def _authorize_page(self, query: dict[str, list[str]]) -> Reply:
        client_id = (query.get("client_id") or [""])[0]
        try:
            code = self.authorize(client_id)
        except ValueError:
            return Reply(400, b"invalid client_id", "text/plain")
        params = {"code": code}
        if query.get("state"):
            params["state"] = query["state"][0]
        sep = "&" if "?" in self.redirect_url else "?"
        return Reply(302, b"", "text/plain", location=f"{self.redirect_url}{sep}{urlencode(params)}")

    def _genacstok(self, j: dict[str, Any]) -> Reply:
        code = str(j.get("code") or "")
        if code not in self._codes:
            return not_ok("Invalid Input : Invalid code")
        if j.get("checksum") != _sha(self.client_id + self.secret_key + code):
            return not_ok("Invalid Input : Invalid checksum")
        self._codes.discard(code)
        self.access_token, self.susertoken = secrets.token_hex(24), secrets.token_hex(24)
        self.refresh_token, self.session_expired = secrets.token_hex(24), False
        return json_reply(200, {"stat": "Ok", "access_token": self.access_token, "refresh_token": self.refresh_token,
                                "susertoken": self.susertoken, "USERID": self.uid, "actid": self.uid,
                                "request_time": "08:45:00 18-08-2026"})

    def _row(self, o: FakeOrder, history: bool = False) -> dict[str, Any]:
        """An OrderBook row (fields/types of order_book_response.json) or, with ``history``, a
        SingleOrdHist row (single_order_history_response.json): every value a string, keys
        omitted rather than null."""
        inst = self.engine.instruments.get((o.exchange, o.tradingsymbol))
        row = {"stat": "Ok", "exch": o.exchange, "tsym": o.tradingsymbol, "norenordno": o.order_id,
               "prc": _money(o.price), "qty": str(o.quantity), "prd": o.product,
               "status": (_STATUS_HIST if history else _STATUS_BOOK)[o.status], "trantype": o.side[0],
               "prctyp": _PRCTYP_OUT[o.order_type], "fillshares": str(o.filled), "avgprc": _money(o.average_price),
               "exchordid": "1" + o.order_id[-15:], "uid": self.uid, "actid": self.uid, "ret": o.validity,
               "amo": "No", "token": o.token, "norentm": o.placed_at.strftime(_TIME),
               "ls": str(inst.lot_size if inst else 1), "ti": str(inst.tick_size if inst else "0.05"), "pp": "2"}
        if o.trigger_price:
            row["trgprc"] = _money(o.trigger_price)
        if o.message:
            row["rejreason"] = o.message
        if o.tag:
            row["remarks"] = o.tag
        if history:
            row.update({"rpt": _RPT[o.status], "dscqty": "0", "exch_tm": o.updated_at.strftime(_TIME)})
            for k in ("amo",):
                row.pop(k, None)
        return row

    def _history(self, o: FakeOrder) -> list[dict[str, Any]]:
        """SingleOrdHist: one row per step, NEWEST first (single_order_history_response.json:
        COMPLETE/Fill, OPEN/New, PENDING/PendingNew, PENDING/NewAck); fill fields only on the
        Fill row."""
        rows = []
        for status, at in o.history or [(o.status, o.updated_at)]:
            for rpt in (("NewAck", "PendingNew") if status == "PENDING" else (_RPT[status],)):
                row = self._row(o, history=True)
                row.update({"status": _STATUS_HIST[status], "rpt": rpt, "exch_tm": at.strftime(_TIME),
                            "norentm": at.strftime(_TIME)})
                if status != "COMPLETE":
                    row["fillshares"], row["avgprc"] = "0", _money(Decimal("0"))
                rows.append(row)
        return rows[::-1]

    def _position(self, p: dict[str, Any]) -> dict[str, Any]:
        """A PositionBook row with every key of position_book_response.json (``prarr`` is the
        product there) plus ``prd`` and ``token``."""
        inst = self.engine.instruments[(p["exchange"], p["tradingsymbol"])]
        buy_avg = p["buy_value"] / p["buy_qty"] if p["buy_qty"] else Decimal("0")
        sell_avg = p["sell_value"] / p["sell_qty"] if p["sell_qty"] else Decimal("0")
        zero = "0.00"
        return {"stat": "Ok", "uid": self.uid, "actid": self.uid, "exch": p["exchange"], "tsym": p["tradingsymbol"],
                "prarr": p["product"], "prd": p["product"], "token": p["token"], "pp": "2", "ls": str(inst.lot_size),
                "ti": str(inst.tick_size), "mult": "1", "prcftr": "1.000000",
                "daybuyqty": str(p["buy_qty"]), "daysellqty": str(p["sell_qty"]),
                "daybuyamt": _money(p["buy_value"]), "daybuyavgprc": _money(buy_avg),
                "daysellamt": _money(p["sell_value"]), "daysellavgprc": _money(sell_avg),
                "cfbuyqty": "0", "cfsellqty": "0", "cfbuyamt": zero, "cfbuyavgprc": zero, "cfsellamt": zero,
                "cfsellavgprc": zero, "openbuyqty": "0", "opensellqty": "0", "openbuyamt": zero,
                "openbuyavgprc": zero, "opensellamt": zero, "opensellavgprc": zero,
                "netqty": str(p["qty"]), "netavgprc": _money(p["avg"]), "lp": _money(p["ltp"]),
                "urmtom": _money(p["unrealised"]), "rpnl": _money(p["realised"]), "cforgavgprc": zero}

    def _quote(self, inst: Any) -> dict[str, Any]:
        """GetQuotes with every key of get_quotes_response.json (band as ``lc``/``uc``)."""
        lp = self.engine.ltp(inst.exchange, inst.tradingsymbol)
        lc, uc = self.engine.band(inst.exchange, inst.tradingsymbol)
        out: dict[str, Any] = {"request_time": "09:30:00 18-08-2026", "stat": "Ok", "exch": inst.exchange,
                               "tsym": inst.tradingsymbol, "cname": inst.tradingsymbol, "symname": inst.name or inst.tradingsymbol,
                               "seg": "DER", "instname": "OPTIDX", "isin": "", "pp": "2", "ls": str(inst.lot_size),
                               "ti": str(inst.tick_size), "mult": "1", "uc": _money(uc), "lc": _money(lc),
                               "prcftr_d": "(1 / 1 ) * (1 / 1)", "token": inst.token, "lp": _money(lp), "h": _money(lp),
                               "l": _money(lp), "v": "0", "ltq": "0", "ltt": "09:30:00"}
        for level in range(1, 6):
            bid = lp - inst.tick_size * level if level == 1 else Decimal("0")
            ask = lp + inst.tick_size * level if level == 1 else Decimal("0")
            qty = str(inst.lot_size) if level == 1 else "0"
            out.update({f"bp{level}": _money(bid), f"sp{level}": _money(ask), f"bq{level}": qty, f"sq{level}": qty,
                        f"bo{level}": "1" if level == 1 else "0", f"so{level}": "1" if level == 1 else "0"})
        out["So5"] = out["so5"]  # the README sample spells the last key "So5"
        return out

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        parts = urlsplit(path)
        if method == "GET" and parts.path.rstrip("/") == "/OAuthlogin/authorize/oauth":
            return self._authorize_page(parse_qs(parts.query))
        route = parts.path.strip("/").split("/")[-1]
        text = body.decode()
        if method != "POST" or not text.startswith("jData="):
            return not_ok("Invalid Input :  jData is Missing.")
        if "&jKey=" in text:  # the retired QuickAuth-era session key
            return not_ok(SESSION_EXPIRED)
        try:
            j = json.loads(text[6:])
        except ValueError:
            return not_ok("Invalid Input : jData is not valid JSON")
        if route == "GenAcsTok":
            return self._genacstok(j)
        if headers.get("Authorization") != f"Bearer {self.access_token}" or self.session_expired:
            return not_ok(SESSION_EXPIRED)
        if j.get("uid") != self.uid:
            return not_ok("Invalid Input : Wrong uid")
        if route == "Logout":
            self.session_expired = True
            self.logouts = getattr(self, "logouts", 0) + 1
            return json_reply(200, {"stat": "Ok", "request_time": "09:15:00 17-08-2026"})
        eng = self.engine
        try:
            if route == "PlaceOrder":
                return self._place(j)
            if route == "ModifyOrder":
                o = eng.modify(j.get("norenordno", ""), quantity=int(j["qty"]) if j.get("qty") else None,
                               price=Decimal(j["prc"]) if j.get("prc") else None,
                               trigger_price=Decimal(j["trgprc"]) if j.get("trgprc") else None,
                               order_type=_PRCTYP.get(j.get("prctyp", "")))
                return json_reply(200, {"request_time": "09:30:00 18-08-2026", "stat": "Ok", "result": o.order_id})
            if route == "CancelOrder":
                o = eng.cancel(j.get("norenordno", ""))
                return json_reply(200, {"request_time": "09:30:00 18-08-2026", "stat": "Ok", "result": o.order_id})
            if route in ("OrderBook", "SingleOrdHist"):
                eng.match()
                if route == "OrderBook":
                    rows = [self._row(o) for o in list(eng.orders.values())]
                else:
                    rows = self._history(eng.get(j.get("norenordno", "")))
                return json_reply(200, rows) if rows else not_ok(NO_DATA)
            if route == "PositionBook":
                rows = [self._position(p) for p in eng.positions()]
                return json_reply(200, rows) if rows else not_ok(NO_DATA)
            if route == "GetQuotes":
                inst = eng.by_token.get((j.get("exch"), str(j.get("token"))))
                if inst is None:
                    return not_ok(NO_DATA)
                return json_reply(200, self._quote(inst))
        except OrderError as exc:
            if exc.kind == "not_found":
                return not_ok("Rejected : ORA:Order not found")
            return not_ok(f"Invalid Input : {exc}")
        return not_ok(f"Invalid Input : unknown route {route}", http=404)

    def _place(self, j: dict[str, Any]) -> Reply:
        ot = _PRCTYP.get(j.get("prctyp", ""))
        if ot is None or j.get("prd") not in ("C", "M", "I") or j.get("trantype") not in ("B", "S"):
            return not_ok("Invalid Input : Invalid prctyp/prd/trantype")
        if j.get("prctyp") in ("MKT", "SL-MKT"):
            # Shoonya blocks MKT and SL-MKT for API orders (secondary source; wording is the fake's)
            return not_ok(f"Invalid Input : {j['prctyp']} orders are not allowed for API orders; "
                          "send LMT / SL-LMT with a protective price")
        o = self.engine.place(exchange=j.get("exch", ""), tradingsymbol=j.get("tsym", ""),
                              side="BUY" if j["trantype"] == "B" else "SELL", quantity=int(j.get("qty") or 0),
                              product=j["prd"], order_type=ot, price=Decimal(j.get("prc") or "0"),
                              trigger_price=Decimal(j.get("trgprc") or "0"), tag=j.get("remarks") or "",
                              validity=j.get("ret", "DAY"))
        return json_reply(200, {"request_time": "09:30:00 18-08-2026", "stat": "Ok", "norenordno": o.order_id},
                          stall_s=self.faults.take_stall())
