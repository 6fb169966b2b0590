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
  1000/h, capped at 10/s by the SEBI retail-algo rule; getLtpData and quote 10/s, 500/min,
  5000/h; getOrderBook, getPosition, getTradeBook 1/s; loginByPassword 1/s.
- Finvasia / Zebu (Noren): not published in the material we have; orders 10/s (the SEBI cap),
  other calls 10/s.

Place, modify and cancel share ONE ``orders`` bucket (conservative: SEBI counts order messages).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
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
        "orders": _orders(Limit(20, 1), Limit(500, 60), Limit(1000, 3600)),
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


class AccountRateLimiter:
    """The limits of one broker account, one :class:`SlidingWindowLimiter` per bucket.

    ``acquire("orders")`` before place/modify/cancel; ``acquire("quotes")``, ``"order_book"``,
    ``"positions"``, ``"login"`` for those calls; any other name uses ``"default"``.
    """

    def __init__(
        self,
        broker: str,
        *,
        limits: dict[str, Sequence[Limit]] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin_s: float = 0.02,
    ) -> None:
        table = limits if limits is not None else BROKER_LIMITS[str(broker)]
        self.broker = str(broker)
        self._buckets = {
            name: SlidingWindowLimiter(lims, monotonic=monotonic, sleep=sleep, margin_s=margin_s)
            for name, lims in table.items()
        }
        if "default" not in self._buckets:
            self._buckets["default"] = SlidingWindowLimiter([Limit(10, 1)], monotonic=monotonic, sleep=sleep, margin_s=margin_s)

    def acquire(self, bucket: str = "default") -> float:
        """Block until ``bucket`` allows one more request (slot released at once); return the
        monotonic time granted."""
        return self._buckets.get(bucket, self._buckets["default"]).acquire_and_release()

    def slot(self, bucket: str = "default"):
        """Context manager holding a slot of ``bucket`` until the wrapped call returns."""
        return self._buckets.get(bucket, self._buckets["default"]).slot()


_REGISTRY: dict[tuple[str, str], AccountRateLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def limiter_for(broker: str, account_id: str) -> AccountRateLimiter:
    """The process-wide limiter of one account (all clients of that account share it)."""
    key = (str(broker), account_id)
    with _REGISTRY_LOCK:
        if key not in _REGISTRY:
            _REGISTRY[key] = AccountRateLimiter(broker)
        return _REGISTRY[key]
