"""Issue 16: <= 10 orders/s per account per EXCHANGE (SEBI retail-algo framework, 1 Apr 2026),
NFO and BFO held separately, on top of the broker's own account-wide limit."""

from __future__ import annotations

from shared_utils.brokers.ratelimit import EXCHANGE_ORDER_LIMITS, AccountRateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)


def send(limiter, clock, exchanges):
    """Send orders in sequence; return the instants they were let through."""
    times = []
    for exchange in exchanges:
        with limiter.slot("orders", exchange=exchange):
            times.append(clock.t)
    return times


def max_in_window(times, window=1.0):
    return max(sum(1 for u in times if t <= u < t + window) for t in times)


def test_angel_holds_ten_per_exchange_and_twenty_in_total():
    clock = FakeTime()
    limiter = AccountRateLimiter("angel", monotonic=clock.monotonic, sleep=clock.sleep, margin_s=0.0)
    nfo_bfo = send(limiter, clock, ["NFO"] * 10 + ["BFO"] * 10)
    assert nfo_bfo == [100.0] * 20  # two exchanges: 20 at once, within Angel's 20/s
    nfo = send(limiter, clock, ["NFO"] * 10)
    assert min(nfo) >= 101.0  # the 11th NFO order waited for the NFO window
    all_nfo = [100.0] * 10 + nfo
    assert max_in_window(all_nfo) == 10


def test_kite_account_limit_still_binds_across_exchanges():
    clock = FakeTime()
    limiter = AccountRateLimiter("zerodha", monotonic=clock.monotonic, sleep=clock.sleep, margin_s=0.0)
    times = send(limiter, clock, ["NFO", "BFO"] * 10)
    assert max_in_window(times) == 10  # Kite: 10/s per API key whatever the exchange


def test_unknown_exchange_counts_against_every_exchange():
    clock = FakeTime()
    limiter = AccountRateLimiter("angel", monotonic=clock.monotonic, sleep=clock.sleep, margin_s=0.0)
    send(limiter, clock, ["NFO"] * 10)
    with limiter.slot("orders"):  # a cancel whose exchange is unknown
        assert clock.t >= 101.0


def test_every_broker_has_a_sourced_exchange_limit():
    for broker in ("zerodha", "angel", "finvasia", "zebu"):
        limit = EXCHANGE_ORDER_LIMITS[broker]
        assert limit.per_second <= 10 and "SEBI" in limit.source
    assert "UNKNOWN" in EXCHANGE_ORDER_LIMITS["finvasia"].source
    assert "1 Apr 2026" in EXCHANGE_ORDER_LIMITS["zerodha"].source
