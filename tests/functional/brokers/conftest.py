"""Fixtures: fake broker servers on 127.0.0.1 and a guard that fails any non-loopback connect."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest

INSTRUMENTS = [
    ("NFO", "NIFTY2681825000CE", "43650", 65, "0.05"),
    ("NFO", "NIFTY2681825000PE", "43651", 65, "0.05"),
    ("BFO", "SENSEX2682081000CE", "82100", 20, "0.05"),
]
CE = "NIFTY2681825000CE"
PE = "NIFTY2681825000PE"


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Any connection to a host other than 127.0.0.1 fails the test."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"test tried to reach {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """Largest number of timestamps inside any half-open window [t, t + window)."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def set_prices(engine, prices: dict[str, str]) -> None:
    for sym, px in prices.items():
        exch = "BFO" if sym.startswith("SENSEX") else "NFO"
        engine.set_price(exch, sym, Decimal(px))
