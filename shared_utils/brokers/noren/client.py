"""Finvasia Shoonya and Zebu adapter: the Noren OMS REST protocol spoken with ``requests``.

Protocol in 2026 (``shared/reference/broker-samples/noren/``; the vendor SDK is NOT copied, its
licence forbids it): the QuickAuth/TOTP login and the ``jKey`` body field were retired in
March-April 2026. The login is OAuth:

1. the trader's browser opens ``<host>/OAuthlogin/authorize/oauth?client_id=<client_id>``
   (:func:`authorize_url`; we add our signed ``state``);
2. the broker redirects to the app's registered URL with ``?code=<authorization code>``;
3. ``POST <host>/NorenWClientAPI/GenAcsTok`` with the raw body ``jData={"code", "checksum"}``,
   checksum = hex SHA-256(client_id + secret_key + code) (Zebu docs; myntapi, vendor package
   and openalgo agree on the order), answers ``access_token`` (+ ``refresh_token``,
   ``susertoken``, ``USERID``, ``actid``);
4. every later call: ``POST <host>/NorenWClientAPI/<Route>`` with header
   ``Authorization: Bearer <access_token>`` and the raw body ``jData=<json>`` (no ``jKey``).

Which token the Bearer header carries: the sources disagree (``access_token``: the Noren OMS
vendor's own package NorenRestApiOAuth 0.0.41, 2026-09-02, and openalgo; ``susertoken``: Zebu's
myntapi 0.0.7, 2026-01-29). We send **access_token**: it is what the OMS vendor's newest package
sends and the token GenAcsTok is named for; the fake accepts only it (oauth_flow.json step_4).

Answers ``{"stat": "Ok", ...}``, ``{"stat": "Not_Ok", "emsg": "..."}``, or a JSON array for book
routes; "no data" for a book is a ``Not_Ok`` failure (``Error Occurred : 5 "no data"``), read as
an empty book. Codes (prd, prctyp, trantype, status) live in ``mappings/noren.py``. Timestamps
``norentm`` "HH:MM:SS DD-MM-YYYY" IST. MKT / SL-MKT are never sent (Shoonya refuses them for
API orders): MARKET goes as LMT at a protection price from the LTP, SL-M as SL-LMT.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import requests
from urllib.parse import urlencode, urlsplit

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
from shared_utils.brokers.mappings import invert, lookup, read_code, read_status
from shared_utils.brokers.mappings import noren as m
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

_TIME = ("%H:%M:%S %d-%m-%Y", "%d-%m-%Y %H:%M:%S")
_PRODUCT_IN = invert(m.PRODUCT)
_ORDER_TYPE_IN = invert(m.ORDER_TYPE)
_TXN_IN = invert(m.TRANSACTION_TYPE)
_EXCH_IN = invert(m.EXCHANGE)


def sha256_hex(text: str) -> str:
    """Hex sha256 of a UTF-8 string."""
    return hashlib.sha256(text.encode()).hexdigest()


def genacstok_checksum(client_id: str, secret_key: str, code: str) -> str:
    """GenAcsTok checksum: hex SHA-256(client_id + secret_key + code), plain concatenation
    (broker-samples/noren/oauth_flow.json ``checksum_formula``)."""
    return sha256_hex(f"{client_id}{secret_key}{code}")


def authorize_url(broker: str, client_id: str, state: str | None = None, host: str | None = None) -> str:
    """The browser page where the trader authorizes the app (step 1). ``host`` overrides the
    broker's API host (its path is dropped: the page lives at the host root)."""
    if host:
        parts = urlsplit(host)
        base = f"{parts.scheme}://{parts.netloc}/OAuthlogin/authorize/oauth"
    else:
        base = lookup(m.AUTHORIZE_URLS, str(broker), what="broker", broker=str(broker))
    query = {"client_id": client_id}
    if state:
        query["state"] = state
    return f"{base}?{urlencode(query)}"


class NorenClient(BrokerClient):
    """A Shoonya (``broker="finvasia"``) or Zebu (``broker="zebu"``) account.

    Args:
        broker: "finvasia" or "zebu" (selects the default host in ``mappings/noren.HOSTS``).
        credentials: ``user_id`` (uid/actid), ``api_key`` (the OAuth ``client_id``), ``api_secret``
            (the secret key of the checksum) and, for ``login()`` only, ``request_token`` = the
            authorization ``code`` from the redirect.
        session: today's GenAcsTok ``access_token`` (sent as ``Authorization: Bearer``).
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
        self._host_overridden = bool(host)
        self.timeout = timeout
        self._now = now
        self._http = requests.Session()
        self.session = session
        self.uid = credentials.user_id

    # ---- plumbing ------------------------------------------------------------------------
    def _post(self, route: str, jdata: dict[str, Any], *, auth: bool = True, mutating: bool = False,
              tag: str | None = None, empty_ok: bool = False) -> Any:
        body = "jData=" + json.dumps(jdata)
        headers = {"Content-Type": "text/plain"}
        if auth:
            if not self.session:
                raise SessionExpired(f"{self.broker}: no session, call login()", broker=self.broker, code="NO_SESSION")
            headers["Authorization"] = f"Bearer {self.session.access_token}"

        def send() -> Any:
            return self._http.post(f"{self.host}/{route}", data=body, timeout=self.timeout, headers=headers)

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
            if low.startswith("server timeout"):
                # "Server Timeout :  " (noren/errors.json): the OMS may have acted on an order request
                if mutating:
                    raise OutcomeUnknown(f"{self.broker}: {emsg.strip()}; reconcile by tag", tag=tag, **common)
                raise BrokerUnavailable(f"{self.broker}: {emsg.strip()}", **common)
            if "not found" in low or "invalid order" in low:
                raise OrderNotFound(f"{self.broker}: {emsg}", **common)
            raise OrderRejected(f"{self.broker}: request refused: {emsg}", **common)
        return payload

    # ---- session -------------------------------------------------------------------------
    def authorize_url(self, state: str | None = None) -> str:
        """Where the trader's browser goes to authorize (step 1), for this account's client_id."""
        if not self._creds.api_key:
            raise ValueError(f"{self.broker}: credentials.api_key (the OAuth client_id) is required")
        return authorize_url(self.broker, self._creds.api_key, state, self.host if self._host_overridden else None)

    def login(self) -> BrokerSession:
        """Exchange the authorization ``code`` (``credentials.request_token``) at GenAcsTok for
        the day's ``access_token``. Raises OrderRejected (``Not_Ok``: bad code/checksum),
        BrokerUnavailable, ValueError (a credential is missing)."""
        c = self._creds
        if not (c.api_key and c.api_secret and c.request_token):
            raise ValueError(f"{self.broker}: login needs api_key (client_id), api_secret and the authorization code")
        self.rate_limiter.acquire("login")
        data = self._post("GenAcsTok", {"code": c.request_token,
                                        "checksum": genacstok_checksum(c.api_key, c.api_secret, c.request_token)},
                          auth=False)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token:
            raise BrokerUnavailable(f"{self.broker}: GenAcsTok answered without access_token", broker=self.broker,
                                    code="NO_TOKEN")
        self.session = BrokerSession(access_token=token, refresh_token=data.get("refresh_token") or None,
                                     user_id=data.get("USERID") or data.get("actid") or c.user_id, obtained_at=self._now())
        return self.session

    # ---- commands ------------------------------------------------------------------------
    def logout(self) -> bool:
        """POST Logout ``{"uid"}`` (NorenRestApi ``logout``): the session token stops working."""
        self.rate_limiter.acquire("default")
        self._post("Logout", {"uid": self.uid})
        return True

    def place_order(self, request: OrderRequest) -> OrderAck:
        """POST PlaceOrder with ``remarks`` = tag -> ``norenordno``.

        MARKET is sent as LMT at the protection price around the LTP (one GetQuotes first; needs
        ``symboltoken``), SL-M as SL-LMT with the limit a protection offset beyond the trigger:
        MKT / SL-MKT are refused for API orders (``mappings.noren.REFUSED_FOR_API``)."""
        if request.order_type.value == "SL-M":
            request = stop_limit_for(request)
        if request.order_type.value == "MARKET":
            if not request.symboltoken:
                raise ValueError(f"{self.broker}: a MARKET order needs symboltoken (its LTP sets the protection price)")
            ref = InstrumentRef(request.exchange, request.tradingsymbol, request.symboltoken)
            request = market_as_limit(request, self.ltp([ref])[ref.key])
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
        with self.rate_limiter.slot("orders", exchange=request.exchange):
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
        status = read_status(m.STATUS, row.get("status"), broker=self.broker, order_id=row.get("norenordno"),
                             normalise=m.normalise_status)
        ts = parse_ist(row.get("norentm"), _TIME)
        return OrderReport(
            order_id=str(row["norenordno"]), tag=row.get("remarks") or None, status=derive_status(status, qty, filled),
            quantity=qty, filled_quantity=filled,
            pending_quantity=qty - filled if status.value in ("OPEN", "TRIGGER_PENDING") else 0,
            average_price=to_decimal(row.get("avgprc")) or None, price=to_decimal(row.get("prc")) or None,
            trigger_price=to_decimal(row.get("trgprc")) or None, tradingsymbol=row["tsym"],
            exchange=read_code(_EXCH_IN, row["exch"], what="exch", broker=self.broker),
            transaction_type=read_code(_TXN_IN, row["trantype"], what="trantype", broker=self.broker),
            product=read_code(_PRODUCT_IN, row.get("prd"), what="prd", broker=self.broker),
            order_type=read_code(_ORDER_TYPE_IN, row["prctyp"], what="prctyp", broker=self.broker),
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
                tradingsymbol=r["tsym"], exchange=read_code(_EXCH_IN, r["exch"], what="exch", broker=self.broker),
                # the README sample names the product key "prarr" (position_book_response.json)
                product=read_code(_PRODUCT_IN, r.get("prd") or r.get("prarr"), what="prd", broker=self.broker),
                quantity=int(r.get("netqty") or 0),
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
