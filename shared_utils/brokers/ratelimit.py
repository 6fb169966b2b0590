"""Per-account request rate limits (thread-safe, injectable clock).

Why a sliding-window log and not a plain token bucket: a token bucket of capacity N refilled at
N/s lets 2N requests through in some 1-second window (a full bucket, then the refill). Brokers
and SEBI count orders per second per account, so :class:`SlidingWindowLimiter` guarantees at
most ``count`` acquisitions in ANY window of ``per_seconds`` (plus ``margin_s`` of slack for
network jitter between our clock and the broker's). It still allows a burst of ``count`` at
once, which is what a multi-leg entry at the exact second needs. :class:`TokenBucket` is kept
for smooth pacing of non-critical calls.

Limits (``BROKER_LIMITS``), per account:

- Zerodha (kite.trade docs "Exceptions > rate limits" and forum): orders 10/s and 200/min;
  quote endpoints (/quote, /quote/ohlc, /quote/ltp) 1/s; everything else 10/s.
- Angel One (SmartAPI forum "Changes in API Rate Limit"): place/modify/cancel 20/s, 500/min,
  1000/h account-wide, and 10/s per exchange by the SEBI retail-algo rule (below); getLtpData and quote 10/s, 500/min,
  5000/h; getOrderBook, getPosition, getTradeBook 1/s; loginByPassword 1/s.
- Finvasia / Zebu (Noren): not published in the material we have; orders 10/s (the SEBI cap),
  other calls 10/s.

Place, modify and cancel share ONE ``orders`` bucket (conservative: SEBI counts order messages).

Per exchange (SEBI retail-algo framework, SEBI/HO/MIRSD/MIRSD-PoD/P/CIR/2025/0000013 of 4 Feb 2025,
NSE/INVG/67858; in force for all brokers from 1 Apr 2026): more than 10 orders/s **per exchange
per client** needs a registered algo. So order calls that name an exchange also take a slot of
that exchange's own bucket (``orders@NFO``, ``orders@BFO``: NFO and BFO are held separately),
with the limits of :data:`EXCHANGE_ORDER_LIMITS` (per broker, each with its source), ON TOP of the
broker's account-wide ``orders`` limits above. Effective: Kite 10/s in total (its own limit
is per API key, whatever the exchange); Angel 10/s per exchange and 20/s in total; Noren 10/s per
exchange (its own limit is unpublished: the SEBI cap is the only number we have).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

#: SEBI: no more than this many orders per second per account, whatever the broker allows.
SEBI_MAX_ORDERS_PER_SECOND = 10


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``count`` requests in any window of ``per_seconds`` seconds."""

    count: int
    per_seconds: float


class _Entry:
    __slots__ = ("t", "done")

    def __init__(self, t: float) -> None:
        self.t = t
        self.done = False


class SlidingWindowLimiter:
    """At most ``count`` requests in any window of ``per_seconds``, for every :class:`Limit`.

    A request occupies its slot from the moment it is let through until it is RELEASED (the
    answer came back): the next request that depends on it waits ``window`` after the release.
    The broker sees our request somewhere between those two instants, so the guarantee holds at
    the broker's clock whatever the network latency (measured: with acquire-time stamps only,
    a burst saw 11 requests in one second at the fake under load).

    Thread-safe. ``acquire()`` + ``release(entry)`` or the ``slot()`` context manager;
    ``acquire_and_release()`` for calls that need no hold.

    Args:
        limits: the windows to honour (all at once).
        monotonic / sleep: injectable clock (seconds).
        margin_s: extra slack added to each window.
    """

    def __init__(
        self,
        limits: Sequence[Limit],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin_s: float = 0.0,
    ) -> None:
        if not limits:
            raise ValueError("at least one Limit is required")
        self.limits = tuple(limits)
        self._monotonic = monotonic
        self._sleep = sleep
        self._margin = margin_s
        self._cond = threading.Condition()
        self._history: list[deque[_Entry]] = [deque() for _ in self.limits]

    def acquire(self) -> _Entry:
        """Block until one more request fits; return its entry (pass it to ``release``)."""
        while True:
            with self._cond:
                now = self._monotonic()
                slot, blocked = now, False
                for limit, hist in zip(self.limits, self._history):
                    window = limit.per_seconds + self._margin
                    while hist and hist[0].done and hist[0].t <= now - window:
                        hist.popleft()
                    if len(hist) >= limit.count:
                        dep = hist[-limit.count]
                        if not dep.done:
                            blocked = True
                            break
                        slot = max(slot, dep.t + window)
                if blocked:
                    self._cond.wait(0.05)
                    continue
                if slot <= now:
                    entry = _Entry(now)
                    for hist in self._history:
                        hist.append(entry)
                    return entry
            self._sleep(slot - now)

    def release(self, entry: _Entry) -> None:
        """The request's answer arrived (or it failed): its slot ends now."""
        with self._cond:
            entry.t = max(entry.t, self._monotonic())
            entry.done = True
            self._cond.notify_all()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """``with limiter.slot(): send()`` holds the slot for the duration of the call."""
        entry = self.acquire()
        try:
            yield
        finally:
            self.release(entry)

    def acquire_and_release(self) -> float:
        """Take a slot that ends at once; return the monotonic time it was granted."""
        entry = self.acquire()
        self.release(entry)
        return entry.t


class TokenBucket:
    """Classic token bucket: ``capacity`` tokens, refilled at ``rate_per_s``; thread-safe.

    Note: allows ``capacity + rate_per_s * T`` requests in a window of T seconds.
    """

    def __init__(
        self,
        capacity: float,
        rate_per_s: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.capacity = float(capacity)
        self.rate = float(rate_per_s)
        self._tokens = float(capacity)
        self._monotonic = monotonic
        self._sleep = sleep
        self._stamp = monotonic()
        self._lock = threading.Lock()

    def acquire(self, tokens: float = 1.0) -> float:
        """Take ``tokens``, sleeping until available; return seconds waited."""
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= tokens
            deficit = -self._tokens
        if deficit > 0:
            wait = deficit / self.rate
            self._sleep(wait)
            return wait
        return 0.0


def _orders(*limits: Limit) -> tuple[Limit, ...]:
    capped = [
        Limit(min(lim.count, SEBI_MAX_ORDERS_PER_SECOND), lim.per_seconds) if lim.per_seconds <= 1 else lim
        for lim in limits
    ]
    return tuple(capped)


BROKER_LIMITS: dict[str, dict[str, tuple[Limit, ...]]] = {
    "zerodha": {
        "orders": _orders(Limit(10, 1), Limit(200, 60)),
        "quotes": (Limit(1, 1),),
        "default": (Limit(10, 1),),
    },
    "angel": {
        # its published account-wide limits; SEBI's 10/s applies per exchange (EXCHANGE_ORDER_LIMITS)
        "orders": (Limit(20, 1), Limit(500, 60), Limit(1000, 3600)),
        "quotes": (Limit(10, 1), Limit(500, 60), Limit(5000, 3600)),
        "order_book": (Limit(1, 1),),
        "positions": (Limit(1, 1),),
        "login": (Limit(1, 1),),
        "default": (Limit(10, 1),),
    },
    "finvasia": {"orders": _orders(Limit(10, 1)), "default": (Limit(10, 1),)},
    "zebu": {"orders": _orders(Limit(10, 1)), "default": (Limit(10, 1),)},
    "paper": {"orders": _orders(Limit(10, 1)), "default": (Limit(100, 1),)},
}


@dataclass(frozen=True)
class ExchangeOrderLimit:
    """Orders per second allowed per exchange per account (with where the number comes from)."""

    per_second: int
    source: str

    @property
    def limits(self) -> tuple[Limit, ...]:
        return (Limit(min(self.per_second, SEBI_MAX_ORDERS_PER_SECOND), 1),)


_SEBI_SOURCE = ("SEBI/HO/MIRSD/MIRSD-PoD/P/CIR/2025/0000013 (4 Feb 2025), NSE/INVG/67858: > 10 orders/s per "
                "exchange per client needs a registered algo; in force from 1 Apr 2026")

#: Per-exchange order limits per broker, from the brokers' published limits capped by SEBI.
EXCHANGE_ORDER_LIMITS: dict[str, ExchangeOrderLimit] = {
    "zerodha": ExchangeOrderLimit(10, "Kite Connect: 10 order requests/s per API key from 1 Apr 2026 "
                                      "(kite.trade docs, rate limits; forum notice on the SEBI framework); " + _SEBI_SOURCE),
    "angel": ExchangeOrderLimit(10, "SmartAPI placeOrder 20/s, 500/min, 1000/h (SmartAPI forum 'Changes in API "
                                    "Rate Limit'), capped by SEBI at 10/s per exchange; " + _SEBI_SOURCE),
    "finvasia": ExchangeOrderLimit(10, "Noren (Shoonya): order rate limit UNKNOWN (not published in the material "
                                       "we have); SEBI cap applied; " + _SEBI_SOURCE),
    "zebu": ExchangeOrderLimit(10, "Noren (Zebu): order rate limit UNKNOWN (not published); SEBI cap applied; "
                                   + _SEBI_SOURCE),
    "paper": ExchangeOrderLimit(10, "paper broker: the SEBI cap, to behave like LIVE; " + _SEBI_SOURCE),
}


class AccountRateLimiter:
    """The limits of one broker account, one :class:`SlidingWindowLimiter` per bucket.

    ``acquire("orders")`` before place/modify/cancel; ``acquire("quotes")``, ``"order_book"``,
    ``"positions"``, ``"login"`` for those calls; any other name uses ``"default"``.
    ``slot("orders", exchange="NFO")`` holds the account-wide ``orders`` slot AND one of the
    exchange's own bucket (created on first use from ``exchange_limit``).
    """

    def __init__(
        self,
        broker: str,
        *,
        limits: dict[str, Sequence[Limit]] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin_s: float = 0.02,
        exchange_limit: ExchangeOrderLimit | None = None,
    ) -> None:
        table = limits if limits is not None else BROKER_LIMITS[str(broker)]
        self.broker = str(broker)
        self.exchange_limit = exchange_limit or EXCHANGE_ORDER_LIMITS.get(
            self.broker, ExchangeOrderLimit(SEBI_MAX_ORDERS_PER_SECOND, _SEBI_SOURCE))
        self._timing = {"monotonic": monotonic, "sleep": sleep, "margin_s": margin_s}
        self._lock = threading.Lock()
        self._buckets = {
            name: SlidingWindowLimiter(lims, monotonic=monotonic, sleep=sleep, margin_s=margin_s)
            for name, lims in table.items()
        }
        if "default" not in self._buckets:
            self._buckets["default"] = SlidingWindowLimiter([Limit(10, 1)], monotonic=monotonic, sleep=sleep, margin_s=margin_s)

    def acquire(self, bucket: str = "default") -> float:
        """Block until ``bucket`` allows one more request (slot released at once); return the
        monotonic time granted."""
        if bucket == "orders":  # order calls also honour the per-exchange cap (exchange unknown here)
            with self.slot("orders"):
                return self._timing["monotonic"]()
        return self._buckets.get(bucket, self._buckets["default"]).acquire_and_release()

    def _exchange_bucket(self, exchange: str) -> SlidingWindowLimiter:
        name = f"orders@{exchange.upper()}"
        with self._lock:
            if name not in self._buckets:
                self._buckets[name] = SlidingWindowLimiter(self.exchange_limit.limits, **self._timing)
            return self._buckets[name]

    @contextmanager
    def slot(self, bucket: str = "default", exchange: str | None = None) -> Iterator[None]:
        """Context manager holding a slot of ``bucket`` (and, for ``orders`` with an
        ``exchange``, of that exchange's bucket first) until the wrapped call returns."""
        main = self._buckets.get(bucket, self._buckets["default"])
        if bucket != "orders":
            with main.slot():
                yield
            return
        exchange = getattr(exchange, "value", exchange)
        if exchange:
            extra = [self._exchange_bucket(str(exchange))]
        else:  # a modify/cancel whose exchange is unknown counts against every exchange in use
            self._exchange_bucket("ANY")
            with self._lock:
                extra = [self._buckets[n] for n in sorted(self._buckets) if n.startswith("orders@")]
        with ExitStack() as stack:
            for limiter in extra:
                stack.enter_context(limiter.slot())
            stack.enter_context(main.slot())
            yield


_REGISTRY: dict[tuple[str, str], AccountRateLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def limiter_for(broker: str, account_id: str) -> AccountRateLimiter:
    """The process-wide limiter of one account (all clients of that account share it)."""
    key = (str(broker), account_id)
    with _REGISTRY_LOCK:
        if key not in _REGISTRY:
            _REGISTRY[key] = AccountRateLimiter(broker)
        return _REGISTRY[key]
