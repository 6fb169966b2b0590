"""Angel One's own formats: its NFO symbol builder and the ``OpenAPIScripMaster.json`` parser.

Moved here from ``shared_utils/market/instruments.py`` (issue 15: each adapter owns its broker's
formats, as nautilus_trader's adapters own their parsers); ``market.instruments`` re-exports the
names. The generic containers (:class:`BrokerSymbolMaster`, :class:`BrokerInstrument`) stay in
the market layer, which maps canonical contracts through them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared_utils.market.errors import MarketError
from shared_utils.market.instruments import (
    BrokerInstrument,
    BrokerSymbolMaster,
    Contract,
    _canon,
    _ddmmmyy,
    _fmt_strike,
)
from shared_utils.models.enums import BrokerName, OptionType

__all__ = ["angel_option_symbol", "load_angel_scrip_master"]


def angel_option_symbol(contract: Contract) -> str:
    """Angel One NFO symbol: options ``NIFTY18AUG2625000CE``, futures ``NIFTY25AUG26FUT``.

    Format: name + DDMMMYY + strike + CE/PE (scrip master ``symbol`` field; e.g.
    ``NIFTY30OCT2525000CE`` with expiry ``30OCT2025`` in public Angel master fixtures).
    Only NFO is constructed: Angel's BFO symbols use a different form and must come from
    the scrip master.
    """
    stem = f"{contract.underlying}{_ddmmmyy(contract.expiry)}"
    if contract.option_type is None:
        return f"{stem}FUT"
    return f"{stem}{_fmt_strike(contract.strike)}{contract.option_type.value}"


def load_angel_scrip_master(source: str | Path | Iterable[Mapping[str, Any]]) -> BrokerSymbolMaster:
    """Angel One ``OpenAPIScripMaster.json`` (path or parsed records) -> BrokerSymbolMaster.

    Angel fields: ``token``, ``symbol``, ``name``, ``expiry`` ("18AUG2026"), ``strike`` (rupees
    x 100, e.g. "2500000.000000"), ``lotsize``, ``instrumenttype`` (OPTIDX, OPTSTK, FUTIDX,
    FUTSTK, AMXIDX), ``exch_seg`` (NFO, BFO, NSE, BSE), ``tick_size`` (paise)
    (``shared/reference/broker-apis.md``). Option type is the symbol's CE/PE suffix. Index rows
    (AMXIDX) fill ``index_tokens`` by ``name``. Other rows are ignored.

    Raises MarketError for unreadable input or a malformed derivative row.
    """
    if isinstance(source, (str, Path)):
        try:
            records = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise MarketError(f"cannot read Angel scrip master {source}: {exc}") from exc
    else:
        records = source
    entries: dict[tuple[str, str, date, Decimal, OptionType | None], BrokerInstrument] = {}
    index_tokens: dict[str, str] = {}
    for rec in records:
        itype = str(rec.get("instrumenttype", ""))
        segment = str(rec.get("exch_seg", ""))
        if itype == "AMXIDX":
            index_tokens[str(rec.get("name"))] = str(rec.get("token"))
            continue
        if segment not in ("NFO", "BFO") or not itype.startswith(("OPT", "FUT")):
            continue
        try:
            expiry = datetime.strptime(str(rec["expiry"]).upper(), "%d%b%Y").date()
            symbol = str(rec["symbol"])
            if itype.startswith("OPT"):
                option_type: OptionType | None = OptionType(symbol[-2:])
                strike = _canon(Decimal(str(rec["strike"])) / 100)
            else:
                option_type, strike = None, Decimal(0)
            key = (segment, str(rec["name"]), expiry, strike, option_type)
            entries[key] = BrokerInstrument(BrokerName.ANGEL, segment, symbol, str(rec["token"]))
        except (KeyError, ValueError, ArithmeticError) as exc:
            raise MarketError(f"Angel scrip master row {rec!r}: {exc}") from exc
    return BrokerSymbolMaster(BrokerName.ANGEL, entries, index_tokens)
