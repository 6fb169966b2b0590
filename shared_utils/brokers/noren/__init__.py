"""Noren OMS adapter package (Finvasia Shoonya, Zebu): everything Noren-specific lives here.

- :mod:`.client`: :class:`NorenClient` (OAuth GenAcsTok + Bearer; protocol notes there),
  :func:`authorize_url`, :func:`genacstok_checksum`;
- :mod:`.symbols`: the NFO tradingsymbol builder;
- codes: ``shared_utils/brokers/mappings/noren.py``.

Names are imported lazily: ``import shared_utils.brokers.noren.symbols`` does not load requests.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["NorenClient", "authorize_url", "genacstok_checksum", "sha256_hex", "noren_symbol"]


def __getattr__(name: str) -> Any:
    if name == "noren_symbol":
        symbols = importlib.import_module("shared_utils.brokers.noren.symbols")

        return symbols.noren_symbol
    client = importlib.import_module("shared_utils.brokers.noren.client")

    try:
        return getattr(client, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
