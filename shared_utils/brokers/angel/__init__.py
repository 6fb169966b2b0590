"""Angel One SmartAPI adapter package: everything Angel-specific lives in this folder.

- :mod:`.client`: :class:`AngelClient` over the real smartapi-python SDK, :func:`check_envelope`;
- :mod:`.symbols`: Angel's symbol builder and scrip-master parser;
- codes: ``shared_utils/brokers/mappings/angel.py``.

Names are imported lazily: ``import shared_utils.brokers.angel.symbols`` does not load the SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["AngelClient", "check_envelope", "angel_option_symbol", "load_angel_scrip_master"]


def __getattr__(name: str) -> Any:
    if name in ("angel_option_symbol", "load_angel_scrip_master"):
        symbols = importlib.import_module("shared_utils.brokers.angel.symbols")

        return getattr(symbols, name)
    client = importlib.import_module("shared_utils.brokers.angel.client")

    try:
        return getattr(client, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
