"""Fake Noren OMS server (Finvasia Shoonya / Zebu), spoken to by ``NorenClient(host=fake.url)``.

Protocol (reference/broker-apis.md): ``POST /<Route>`` with raw body ``jData=<json>&jKey=<token>``;
``{"stat": "Ok", ...}`` / ``{"stat": "Not_Ok", "emsg": ...}``; book routes answer a JSON array
(or Not_Ok "no data"). QuickAuth checks pwd = sha256(password), appkey = sha256("uid|secret")
and the TOTP. Expired session: ``emsg`` "Session Expired :  Invalid Session Key".
"""

from __future__ import annotations

import hashlib
import json
import secrets
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import pyotp

from local.fakes.core import FakeOrder, FakeServerBase, OrderEngine, OrderError, Reply, json_reply

_PRCTYP = {"MKT": "MARKET", "LMT": "LIMIT", "SL-LMT": "SL", "SL-MKT": "SL-M"}
_PRCTYP_OUT = {v: k for k, v in _PRCTYP.items()}
_STATUS = {"OPEN": "OPEN", "COMPLETE": "COMPLETE", "CANCELLED": "CANCELED", "REJECTED": "REJECTED",
           "TRIGGER_PENDING": "TRIGGER_PENDING"}
_TIME = "%H:%M:%S %d-%m-%Y"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def not_ok(emsg: str, http: int = 200) -> Reply:
    return json_reply(http, {"stat": "Not_Ok", "emsg": emsg})


class FakeNorenServer(FakeServerBase):
    """Fake Noren OMS. ``susertoken`` is valid from the start."""

    def __init__(self, instruments: list[tuple], *, uid: str = "FA1234", password: str = "pw", api_secret: str = "secret",
                 vendor_code: str = "FA1234_U", totp_secret: str | None = None, price_source=None, **kw: Any) -> None:
        super().__init__(OrderEngine(instruments, price_source), **kw)
        self.uid, self.password, self.api_secret, self.vendor_code = uid, password, api_secret, vendor_code
        self.totp_secret = totp_secret or pyotp.random_base32()
        self.susertoken = secrets.token_hex(24)

    def error_reply(self, status: int, path: str, message: str | None = None) -> Reply:
        return not_ok(message or ("Too many requests" if status == 429 else "Internal server error"), http=status)

    def _row(self, o: FakeOrder) -> dict[str, Any]:
        return {"stat": "Ok", "norenordno": o.order_id, "uid": self.uid, "actid": self.uid, "exch": o.exchange,
                "tsym": o.tradingsymbol, "token": o.token, "qty": str(o.quantity), "prc": f"{o.price:.2f}",
                "trgprc": f"{o.trigger_price:.2f}" if o.trigger_price else None, "prd": o.product, "trantype": o.side[0],
                "prctyp": _PRCTYP_OUT[o.order_type], "ret": o.validity, "status": _STATUS[o.status],
                "fillshares": str(o.filled) if o.filled else None, "avgprc": f"{o.average_price:.2f}" if o.filled else None,
                "rejreason": o.message or None, "remarks": o.tag or None, "norentm": o.placed_at.strftime(_TIME),
                "ls": str(self.engine.instruments[(o.exchange, o.tradingsymbol)].lot_size)}

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Reply:
        route = urlsplit(path).path.strip("/").split("/")[-1]
        text = body.decode()
        if method != "POST" or not text.startswith("jData="):
            return not_ok("Invalid Input : jData is Missing.")
        cut = text.rfind("&jKey=")
        jdata, jkey = (text[6:cut], text[cut + 6:]) if cut >= 0 else (text[6:], None)
        try:
            j = json.loads(jdata)
        except ValueError:
            return not_ok("Invalid Input : jData is not valid JSON")
        if route == "QuickAuth":
            return self._login(j)
        if jkey != self.susertoken or self.session_expired:
            return not_ok("Session Expired :  Invalid Session Key")
        if j.get("uid") != self.uid:
            return not_ok("Invalid Input : Wrong uid")
        eng = self.engine
        try:
            if route == "PlaceOrder":
                return self._place(j)
            if route == "ModifyOrder":
                o = eng.modify(j.get("norenordno", ""), quantity=int(j["qty"]) if j.get("qty") else None,
                               price=Decimal(j["prc"]) if j.get("prc") else None,
                               trigger_price=Decimal(j["trgprc"]) if j.get("trgprc") else None,
                               order_type=_PRCTYP.get(j.get("prctyp", "")))
                return json_reply(200, {"stat": "Ok", "result": o.order_id, "request_time": "09:30:00 18-08-2026"})
            if route == "CancelOrder":
                o = eng.cancel(j.get("norenordno", ""))
                return json_reply(200, {"stat": "Ok", "result": o.order_id, "request_time": "09:30:00 18-08-2026"})
            if route in ("OrderBook", "SingleOrdHist"):
                eng.match()
                orders = list(eng.orders.values()) if route == "OrderBook" else [eng.get(j.get("norenordno", ""))]
                rows = [self._row(o) for o in orders]
                return json_reply(200, rows) if rows else not_ok('Error Occurred : 5 "no data"')
            if route == "PositionBook":
                rows = [{"stat": "Ok", "exch": p["exchange"], "tsym": p["tradingsymbol"], "token": p["token"], "prd": p["product"],
                         "netqty": str(p["qty"]), "netavgprc": f"{p['avg']:.2f}", "lp": f"{p['ltp']:.2f}",
                         "rpnl": f"{p['realised']:.2f}", "urmtom": f"{p['unrealised']:.2f}",
                         "daybuyqty": str(p["buy_qty"]), "daysellqty": str(p["sell_qty"])} for p in eng.positions()]
                return json_reply(200, rows) if rows else not_ok('Error Occurred : 5 "no data"')
            if route == "GetQuotes":
                inst = eng.by_token.get((j.get("exch"), str(j.get("token"))))
                if inst is None:
                    return not_ok("Invalid Input : Token not found")
                lp = eng.ltp(inst.exchange, inst.tradingsymbol)
                return json_reply(200, {"stat": "Ok", "exch": inst.exchange, "tsym": inst.tradingsymbol, "token": inst.token,
                                        "ls": str(inst.lot_size), "ti": str(inst.tick_size), "lp": f"{lp:.2f}",
                                        "bp1": f"{lp - inst.tick_size:.2f}", "sp1": f"{lp + inst.tick_size:.2f}",
                                        "bq1": str(inst.lot_size), "sq1": str(inst.lot_size)})
        except OrderError as exc:
            if exc.kind == "not_found":
                return not_ok("Invalid Input : Order not found")
            return not_ok(f"Invalid Input : {exc}")
        return not_ok(f"Invalid Input : unknown route {route}", http=404)

    def _login(self, j: dict[str, Any]) -> Reply:
        if (j.get("uid") != self.uid or j.get("pwd") != _sha(self.password) or j.get("vc") != self.vendor_code
                or j.get("appkey") != _sha(f"{self.uid}|{self.api_secret}")):
            return not_ok("Invalid Input : Wrong Password")
        if not pyotp.TOTP(self.totp_secret).verify(str(j.get("factor2", "")), valid_window=1):
            return not_ok("Invalid Input : Invalid OTP")
        self.susertoken, self.session_expired = secrets.token_hex(24), False
        return json_reply(200, {"stat": "Ok", "susertoken": self.susertoken, "uid": self.uid, "actid": self.uid,
                                "uname": "FAKE", "request_time": "08:45:00 18-08-2026"})

    def _place(self, j: dict[str, Any]) -> Reply:
        ot = _PRCTYP.get(j.get("prctyp", ""))
        if ot is None or j.get("prd") not in ("C", "M", "I") or j.get("trantype") not in ("B", "S"):
            return not_ok("Invalid Input : Invalid prctyp/prd/trantype")
        o = self.engine.place(exchange=j.get("exch", ""), tradingsymbol=j.get("tsym", ""),
                              side="BUY" if j["trantype"] == "B" else "SELL", quantity=int(j.get("qty") or 0),
                              product=j["prd"], order_type=ot, price=Decimal(j.get("prc") or "0"),
                              trigger_price=Decimal(j.get("trgprc") or "0"), tag=j.get("remarks") or "",
                              validity=j.get("ret", "DAY"))
        return json_reply(200, {"stat": "Ok", "norenordno": o.order_id, "request_time": "09:30:00 18-08-2026"},
                          stall_s=self.faults.take_stall())
