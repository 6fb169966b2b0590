"""Conformance suite (``pytest -m conformance``): the brokers' own samples are the truth.

Samples: ``$QL_BROKER_SAMPLES`` or ``../shared/reference/broker-samples`` beside the repository
(each folder's SOURCES.md names the source and date). Nothing here edits a sample: when a test
fails, the adapter or the fake changes.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = Path(os.environ.get("QL_BROKER_SAMPLES") or (REPO.parent / "shared" / "reference" / "broker-samples"))


def pytest_collection_modifyitems(config, items):
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.conformance)


def sample(relative: str) -> Any:
    """The parsed JSON of one sample file (``"kite/orders.json"``). Fails (not skips) when the
    samples are missing: the suite must not pass by running nothing."""
    path = SAMPLES / relative
    if not path.exists():
        pytest.fail(f"broker sample {path} is missing (set QL_BROKER_SAMPLES to the broker-samples folder)")
    return json.loads(path.read_text(encoding="utf-8"))


def sample_bytes(relative: str) -> bytes:
    return (SAMPLES / relative).read_bytes()


def all_samples(folder: str) -> list[str]:
    return sorted(f"{folder}/{p.name}" for p in (SAMPLES / folder).glob("*.json"))


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


@pytest.fixture
def alerts():
    """Every unmapped-value alert raised during the test."""
    from shared_utils.brokers import alerts as module

    seen: list = []
    remove = module.add_sink(seen.append)
    yield seen
    remove()
