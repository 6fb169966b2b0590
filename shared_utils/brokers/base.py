"""The one broker interface (commands in, typed reports out), in the style of nautilus_trader
execution clients, plus helpers every adapter shares.

An adapter never returns a broker's raw error: it raises one of ``errors``. Order-changing
calls (place/modify/cancel) go through the account's :class:`AccountRateLimiter`.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


from shared_utils.brokers.errors import (
    BrokerError,
    BrokerUnavailable,
    OrderNotFound,
    OutcomeUnknown,
    RateLimited,
)
from shared_utils.brokers.models import (
    BrokerInstrument,
    InstrumentRef,
    ModifyRequest,
    OrderAck,
    OrderReport,
    OrderRequest,
    PositionReport,
    Quote,
)
from shared_utils.brokers.ratelimit import AccountRateLimiter
from shared_utils.clock import IST
from shared_utils.models.enums import OrderStatus

from decimal import Decimal


@dataclass(frozen=True)
class BrokerCredentials:
    """Long-lived secrets of one broker account (from Secrets Manager). Never logged: every
    field is excluded from ``repr``.

    - Zerodha: ``api_key``, ``api_secret``; daily ``request_token`` from the login redirect.
    - Angel: ``api_key`` (X-PrivateKey), ``client_code``, ``password`` (the 4-digit MPIN),
      ``totp_secret``.
    - Noren (2026 OAuth): ``user_id`` (uid/actid), ``api_key`` (the OAuth client_id),
      ``api_secret`` (the secret key of the GenAcsTok checksum); daily ``request_token`` = the
      authorization ``code`` from the redirect. ``password``/``totp_secret``/``vendor_code``/
      ``imei`` belonged to the retired QuickAuth login and are no longer used.
    """

    api_key: str | None = field(default=None, repr=False)
    api_secret: str | None = field(default=None, repr=False)
    client_code: str | None = field(default=None, repr=False)
    user_id: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    totp_secret: str | None = field(default=None, repr=False)
    vendor_code: str | None = field(default=None, repr=False)
    imei: str | None = field(default=None, repr=False)
    request_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class BrokerSession:
    """Daily session tokens (Kite access_token, Angel JWT + refresh + feed, Noren GenAcsTok
    access_token + refresh_token).
    ``obtained_at`` is aware. Tokens are excluded from ``repr``."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    feed_token: str | None = field(default=None, repr=False)
    user_id: str | None = None
    obtained_at: datetime | None = None


class BrokerClient(abc.ABC):
    """One broker account. All methods are blocking and thread-safe unless stated.

    Errors (``shared_utils.brokers.errors``): SessionExpired, OrderRejected, OrderNotFound,
    RateLimited, BrokerUnavailable, OutcomeUnknown (order-changing calls only), UnmappedValue.
    """

    broker: str = "?"

    def __init__(self, *, rate_limiter: AccountRateLimiter | None = None) -> None:
        self.rate_limiter = rate_limiter or AccountRateLimiter(self.broker)
        self._session_lock = threading.Lock()

    # ---- session ------------------------------------------------------------------------
    @abc.abstractmethod
    def login(self) -> BrokerSession:
        """Open the daily session with the account's credentials; return the tokens."""

    def refresh(self) -> BrokerSession:
        """Renew the session (default: a fresh ``login()``)."""
        return self.login()

    # ---- commands -----------------------------------------------------------------------
    def logout(self) -> bool:
        """End the day's session at the broker (SEBI's daily forced logout; account removal).
        Returns True when the broker confirmed, False when its API has no logout. Raises
        BrokerError subclasses like any call."""
        return False

    @abc.abstractmethod
    def place_order(self, request: OrderRequest) -> OrderAck:
        """Send one order. Raises OutcomeUnknown when the answer was lost after sending."""

    @abc.abstractmethod
    def modify_order(self, request: ModifyRequest) -> OrderAck:
        """Change a working order (quantity units, prices rupees)."""

    @abc.abstractmethod
    def cancel_order(self, order_id: str) -> OrderAck:
        """Cancel a working order."""

    # ---- reports ------------------------------------------------------------------------
    @abc.abstractmethod
    def order_book(self) -> list[OrderReport]:
        """Today's orders of the account, as the broker reports them."""

    def order_status(self, order_id: str) -> OrderReport:
        """The current report of one order. Raises OrderNotFound."""
        for report in self.order_book():
            if report.order_id == str(order_id):
                return report
        raise OrderNotFound(f"order {order_id} not in the order book", broker=self.broker, code="NOT_FOUND")

    def find_order_by_tag(self, tag: str) -> OrderReport | None:
        """Reconciliation after OutcomeUnknown: the order that carries ``tag``, or None.

        If several orders carry the tag (should not happen), the most recently placed wins.
        """
        matches = [r for r in self.order_book() if r.tag == tag]
        if not matches:
            return None
        return sorted(matches, key=lambda r: (r.placed_at is not None, r.placed_at or datetime.min.replace(tzinfo=IST)))[-1]

    @abc.abstractmethod
    def positions(self) -> list[PositionReport]:
        """Net positions of the day (signed units, rupees)."""

    @abc.abstractmethod
    def ltp(self, instruments: Sequence[InstrumentRef]) -> dict[str, Decimal]:
        """Last traded prices in rupees keyed by ``"EXCHANGE:TRADINGSYMBOL"``."""

    @abc.abstractmethod
    def quotes(self, instruments: Sequence[InstrumentRef]) -> dict[str, Quote]:
        """Top-of-book quotes keyed by ``"EXCHANGE:TRADINGSYMBOL"``."""

    def instruments(self, exchange: str | None = None) -> list[BrokerInstrument]:
        """The broker's instrument master (lot and tick per contract)."""
        raise NotImplementedError(f"{self.broker}: instruments() is served by the market data service")


# ---- helpers shared by adapters ------------------------------------------------------------

def derive_status(status: OrderStatus, quantity: int, filled: int) -> OrderStatus:
    """Brokers report a partial fill as OPEN with filled > 0; make it PARTIALLY_FILLED."""
    if status is OrderStatus.OPEN and 0 < filled < quantity:
        return OrderStatus.PARTIALLY_FILLED
    return status


def parse_ist(text: Any, formats: Sequence[str]) -> datetime | None:
    """Broker wall-clock timestamp (IST) -> aware ``Asia/Kolkata`` datetime; None if empty.

    Accepts datetimes (naive ones are taken as IST wall clock, as the SDKs parse them).
    """
    if text in (None, ""):
        return None
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=IST)
    for fmt in formats:
        try:
            return datetime.strptime(str(text), fmt).replace(tzinfo=IST)
        except ValueError:
            continue
    return None


def _caused_by_connect_failure(exc: BaseException) -> bool:
    """True when the exception chain shows the TCP connection never opened."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        name = type(cur).__name__
        if name in ("NewConnectionError", "ConnectTimeoutError", "NameResolutionError", "ConnectionRefusedError"):
            return True
        if name == "ConnectTimeout":  # requests.exceptions.ConnectTimeout
            return True
        nxt = getattr(cur, "reason", None)
        if isinstance(nxt, BaseException):
            cur = nxt
            continue
        if cur.args and isinstance(cur.args[0], BaseException):
            cur = cur.args[0]
            continue
        cur = cur.__cause__ or cur.__context__
    return False


def classify_transport_error(
    exc: BaseException, *, broker: str, mutating: bool, tag: str | None = None
) -> BrokerError:
    """Map a ``requests`` exception to the taxonomy.

    Connection never opened (refused, DNS, connect timeout) -> BrokerUnavailable. Anything
    after the request may have been sent (read timeout, reset, truncated answer) ->
    OutcomeUnknown for order-changing calls, BrokerUnavailable for reads.
    """
    name = type(exc).__name__
    if _caused_by_connect_failure(exc) or not mutating:
        return BrokerUnavailable(f"{broker}: request failed ({name})", broker=broker, code=name)
    return OutcomeUnknown(
        f"{broker}: no answer after the request was sent ({name}); reconcile by tag",
        broker=broker,
        code=name,
        tag=tag,
    )


def classify_http_status(
    status: int, *, broker: str, mutating: bool, tag: str | None, message: str | None, raw: Any = None
) -> BrokerError | None:
    """429 -> RateLimited; 503 -> BrokerUnavailable; other 5xx -> OutcomeUnknown on an
    order-changing call (the OMS may have acted), BrokerUnavailable on a read. Else None."""
    if status == 429:
        return RateLimited(f"{broker}: rate limited", broker=broker, broker_message=message, code="429", http_status=429, raw=raw)
    if status >= 500:
        if status == 503 or not mutating:
            return BrokerUnavailable(f"{broker}: HTTP {status}", broker=broker, broker_message=message, code=str(status), http_status=status, raw=raw)
        return OutcomeUnknown(
            f"{broker}: HTTP {status} on an order request; reconcile by tag",
            broker=broker, broker_message=message, code=str(status), http_status=status, raw=raw, tag=tag,
        )
    return None


def guarded(fn: Callable[[], Any], *, broker: str, mutating: bool, tag: str | None = None) -> Any:
    """Run ``fn`` translating ``requests`` transport exceptions (BrokerErrors pass through).

    ``requests`` is imported here, not at module level: the PlaceOrders Lambda imports this
    module on its cold path and a PAPER account never needs an HTTP client."""
    import requests

    try:
        return fn()
    except BrokerError:
        raise
    except requests.exceptions.RequestException as exc:
        raise classify_transport_error(exc, broker=broker, mutating=mutating, tag=tag) from exc
