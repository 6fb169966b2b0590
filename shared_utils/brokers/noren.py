"""Finvasia Shoonya and Zebu adapter: the Noren OMS REST protocol spoken with ``requests``.

Protocol (reference/broker-apis.md and the brokers' public REST docs; the vendor SDK is NOT
copied, its licence forbids it): every call is ``POST {host}/{Route}`` with the raw body
``jData=<json>&jKey=<susertoken>`` (QuickAuth: ``jData`` only). Answers ``{"stat": "Ok", ...}``,
``{"stat": "Not_Ok", "emsg": "..."}``, or a JSON array for book routes. Login: pwd =
sha256(password), appkey = sha256("uid|api_secret"), factor2 = TOTP. Codes (prd, prctyp,
trantype, status) live in ``mappings/noren.py``. Timestamps ``norentm`` "HH:MM:SS DD-MM-YYYY" IST.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyotp
import requests

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
    BrokerUnavailable,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    SessionExpired,
)
from shared_utils.brokers.mappings import invert, lookup
from shared_utils.brokers.mappings import noren as m
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

_TIME = ("%H:%M:%S %d-%m-%Y", "%d-%m-%Y %H:%M:%S")
_PRODUCT_IN = invert(m.PRODUCT)
_ORDER_TYPE_IN = invert(m.ORDER_TYPE)
_TXN_IN = invert(m.TRANSACTION_TYPE)
_EXCH_IN = invert(m.EXCHANGE)


def sha256_hex(text: str) -> str:
    """Hex sha256 of a UTF-8 string (Noren pwd / appkey hashing)."""
    return hashlib.sha256(text.encode()).hexdigest()


class NorenClient(BrokerClient):
    """A Shoonya (``broker="finvasia"``) or Zebu (``broker="zebu"``) account.

    Args:
        broker: "finvasia" or "zebu" (selects the default host in ``mappings/noren.HOSTS``).
        credentials: ``user_id``, ``password``, ``totp_secret``, ``vendor_code``, ``api_secret``, ``imei``.
        session: today's ``susertoken`` as ``access_token``.
        host: override, e.g. a fake's ``http://127.0.0.1:port`` (a path prefix is kept).
    """

    def __init__(
        self,
        broker: str,
        credentials: BrokerCredentials,
        session: BrokerSession | None = None,
        *,
        host: str | None = None,
        timeout: float = 7.0,
        rate_limiter: AccountRateLimiter | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.broker = lookup({k: k for k in m.HOSTS}, str(broker), what="broker", broker=str(broker))
        super().__init__(rate_limiter=rate_limiter)
        if not credentials.user_id:
            raise ValueError(f"{broker}: credentials.user_id is required")
        self._creds = credentials
        self.host = (host or m.HOSTS[self.broker]).rstrip("/")
        self.timeout = timeout
        self._now = now
        self._http = requests.Session()
        self.session = session
        self.uid = credentials.user_id

    # ---- plumbing ------------------------------------------------------------------------
    def _post(self, route: str, jdata: dict[str, Any], *, auth: bool = True, mutating: bool = False,
              tag: str | None = None, empty_ok: bool = False) -> Any:
        body = "jData=" + json.dumps(jdata)
        if auth:
            if not self.session:
                raise SessionExpired(f"{self.broker}: no session, call login()", broker=self.broker, code="NO_SESSION")
            body += "&jKey=" + self.session.access_token

        def send() -> Any:
            return self._http.post(f"{self.host}/{route}", data=body, timeout=self.timeout,
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})

        resp = guarded(send, broker=self.broker, mutating=mutating, tag=tag)
        try:
            payload = resp.json()
        except ValueError:
            payload = None
        msg = payload.get("emsg") if isinstance(payload, dict) else resp.text[:200]
        err = classify_http_status(resp.status_code, broker=self.broker, mutating=mutating, tag=tag, message=msg, raw=payload)
        if err is not None:
            raise err
        if payload is None:
            cls = OutcomeUnknown if mutating else BrokerUnavailable
            kw = {"tag": tag} if mutating else {}
            raise cls(f"{self.broker}: non-JSON answer (HTTP {resp.status_code})", broker=self.broker,
                      broker_message=resp.text[:200], http_status=resp.status_code, **kw)
        if isinstance(payload, dict) and payload.get("stat") == "Not_Ok":
            emsg = payload.get("emsg") or ""
            common = dict(broker=self.broker, broker_message=emsg, code="Not_Ok", http_status=resp.status_code, raw=payload)
            low = emsg.lower()
            if "session expired" in low or "invalid session" in low:
                raise SessionExpired(f"{self.broker}: session expired, log in again", **common)
            if empty_ok and "no data" in low:
                return []
            if "not found" in low or "invalid order" in low:
                raise OrderNotFound(f"{self.broker}: {emsg}", **common)
            raise OrderRejected(f"{self.broker}: request refused: {emsg}", **common)
        return payload

    # ---- session -------------------------------------------------------------------------
    def login(self) -> BrokerSession:
        """POST QuickAuth; returns the ``susertoken`` as access_token."""
        c = self._creds
        if not (c.password and c.totp_secret and c.vendor_code and c.api_secret):
            raise ValueError(f"{self.broker}: login needs password, totp_secret, vendor_code and api_secret")
        self.rate_limiter.acquire("login")
        data = self._post("QuickAuth", {
            "apkversion": "1.0.0", "uid": c.user_id, "pwd": sha256_hex(c.password),
            "factor2": pyotp.TOTP(c.totp_secret).now(), "vc": c.vendor_code,
            "appkey": sha256_hex(f"{c.user_id}|{c.api_secret}"), "imei": c.imei or "abc1234", "source": "API",
        }, auth=False)
        self.session = BrokerSession(access_token=data["susertoken"], user_id=data.get("uid") or c.user_id, obtained_at=self._now())
        return self.session

    # ---- commands ------------------------------------------------------------------------
    def place_order(self, request: OrderRequest) -> OrderAck:
        """POST PlaceOrder with ``remarks`` = tag -> ``norenordno``."""
        j = {
            "ordersource": "API", "uid": self.uid, "actid": self.uid,
            "trantype": lookup(m.TRANSACTION_TYPE, request.transaction_type, what="trantype", broker=self.broker),
            "prd": lookup(m.PRODUCT, request.product, what="prd", broker=self.broker),
            "exch": lookup(m.EXCHANGE, request.exchange, what="exch", broker=self.broker),
            "tsym": request.tradingsymbol, "qty": str(request.quantity), "dscqty": "0",
            "prctyp": lookup(m.ORDER_TYPE, request.order_type, what="prctyp", broker=self.broker),
            "prc": str(request.price) if request.price is not None else "0",
            "ret": lookup(m.RETENTION, request.validity, what="ret", broker=self.broker),
        }
        if request.trigger_price is not None:
            j["trgprc"] = str(request.trigger_price)
        if request.tag:
            j["remarks"] = request.tag
        with self.rate_limiter.slot("orders"):
            data = self._post("PlaceOrder", j, mutating=True, tag=request.tag)
        return OrderAck(order_id=str(data["norenordno"]), tag=request.tag, broker=self.broker, received_at=self._now(), raw=data)

    def modify_order(self, request: ModifyRequest) -> OrderAck:
        """POST ModifyOrder; exch/tsym/prctyp/qty/prc are copied from the book when not changed."""
        row = self.order_status(request.order_id).raw
        j = {
            "uid": self.uid, "norenordno": request.order_id, "exch": row["exch"], "tsym": row["tsym"],
            "prctyp": lookup(m.ORDER_TYPE, request.order_type, what="prctyp", broker=self.broker) if request.order_type else row["prctyp"],
            "qty": str(request.quantity or row["qty"]),
            "prc": str(request.price) if request.price is not None else str(row.get("prc") or "0"),
            "ret": row.get("ret") or "DAY",
        }
        trg = request.trigger_price if request.trigger_price is not None else to_decimal(row.get("trgprc"))
        if trg:
            j["trgprc"] = str(trg)
        with self.rate_limiter.slot("orders"):
            data = self._post("ModifyOrder", j, mutating=True)
        return OrderAck(order_id=str(data.get("result") or request.order_id), tag=None, broker=self.broker, received_at=self._now(), raw=data)

    def cancel_order(self, order_id: str) -> OrderAck:
        """POST CancelOrder {uid, norenordno}."""
        with self.rate_limiter.slot("orders"):
            data = self._post("CancelOrder", {"uid": self.uid, "norenordno": str(order_id)}, mutating=True)
        return OrderAck(order_id=str(data.get("result") or order_id), tag=None, broker=self.broker, received_at=self._now(), raw=data)

    # ---- reports -------------------------------------------------------------------------
    def _report(self, row: dict[str, Any]) -> OrderReport:
        qty = int(row.get("qty") or 0)
        filled = int(row.get("fillshares") or 0)
        status = lookup(m.STATUS, row.get("status"), what="order status", broker=self.broker)
        ts = parse_ist(row.get("norentm"), _TIME)
        return OrderReport(
            order_id=str(row["norenordno"]), tag=row.get("remarks") or None, status=derive_status(status, qty, filled),
            quantity=qty, filled_quantity=filled,
            pending_quantity=qty - filled if status.value in ("OPEN", "TRIGGER_PENDING") else 0,
            average_price=to_decimal(row.get("avgprc")) or None, price=to_decimal(row.get("prc")) or None,
            trigger_price=to_decimal(row.get("trgprc")) or None, tradingsymbol=row["tsym"],
            exchange=lookup(_EXCH_IN, row["exch"], what="exch", broker=self.broker),
            transaction_type=lookup(_TXN_IN, row["trantype"], what="trantype", broker=self.broker),
            product=lookup(_PRODUCT_IN, row["prd"], what="prd", broker=self.broker),
            order_type=lookup(_ORDER_TYPE_IN, row["prctyp"], what="prctyp", broker=self.broker),
            message=row.get("rejreason") or None, placed_at=ts, updated_at=ts, raw=row,
        )

    def order_book(self) -> list[OrderReport]:
        """POST OrderBook {uid} (Not_Ok "no data" = empty book)."""
        self.rate_limiter.acquire("default")
        return [self._report(r) for r in self._post("OrderBook", {"uid": self.uid}, empty_ok=True)]

    def positions(self) -> list[PositionReport]:
        """POST PositionBook {uid, actid}: netqty, netavgprc, lp, rpnl, urmtom."""
        self.rate_limiter.acquire("default")
        out = []
        for r in self._post("PositionBook", {"uid": self.uid, "actid": self.uid}, empty_ok=True):
            out.append(PositionReport(
                tradingsymbol=r["tsym"], exchange=lookup(_EXCH_IN, r["exch"], what="exch", broker=self.broker),
                product=lookup(_PRODUCT_IN, r["prd"], what="prd", broker=self.broker), quantity=int(r.get("netqty") or 0),
                average_price=to_decimal(r.get("netavgprc")) or Decimal("0"), ltp=to_decimal(r.get("lp")),
                realised_pnl=to_decimal(r.get("rpnl")) or Decimal("0"), unrealised_pnl=to_decimal(r.get("urmtom")) or Decimal("0"),
                raw=r,
            ))
        return out

    def quotes(self, instruments: Sequence[InstrumentRef]) -> dict[str, Quote]:
        """POST GetQuotes {uid, exch, token} once per instrument (needs ``token``)."""
        out = {}
        for inst in instruments:
            if not inst.token:
                raise ValueError(f"{self.broker}: quotes need the token of {inst.key}")
            self.rate_limiter.acquire("default")
            r = self._post("GetQuotes", {"uid": self.uid, "exch": inst.exchange.value, "token": inst.token})
            out[inst.key] = Quote(exchange=inst.exchange, tradingsymbol=inst.tradingsymbol, ltp=Decimal(str(r["lp"])),
                                  bid=to_decimal(r.get("bp1")), ask=to_decimal(r.get("sp1")),
                                  bid_qty=int(r["bq1"]) if r.get("bq1") else None, ask_qty=int(r["sq1"]) if r.get("sq1") else None, raw=r)
        return out

    def ltp(self, instruments: Sequence[InstrumentRef]) -> dict[str, Decimal]:
        """LTP (rupees) from GetQuotes ``lp``."""
        return {k: q.ltp for k, q in self.quotes(instruments).items()}
