"""Where the platform gets today's instrument master and lot sizes.

The instrument master is the broker's daily dump (Kite ``/instruments``). ``QL_INSTRUMENTS_FILE``
names the CSV to load (in AWS the market-data refresher writes the day's dump and the Lambdas
read it; locally it is the extract in ``config/market/instruments/``). Lot sizes come from the
contract of the resolved expiry in that master; when the master does not list the contract the
dated fallback table ``config/market/lot_sizes.json`` answers, and the answer says so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from shared_utils.market.errors import MarketError
from shared_utils.market.instruments import InstrumentMaster
from shared_utils.models.enums import ExpiryType

CONFIG_MARKET = Path(__file__).resolve().parent.parent.parent / "config" / "market"
DEFAULT_INSTRUMENTS = CONFIG_MARKET / "instruments" / "kite_NFO_BFO_2026-08-18_extract.csv"
LOT_SIZE_FALLBACK = CONFIG_MARKET / "lot_sizes.json"


@dataclass(frozen=True)
class LotSize:
    """``lot`` units per lot for a leg on a trade date, with ``expiry`` and where it came from."""

    lot: int
    expiry: date | None
    source: str


@lru_cache(maxsize=4)
def instrument_master(path: str | None = None) -> InstrumentMaster:
    """The instrument master (cached per path): ``path``, ``$QL_INSTRUMENTS_FILE``, the day's
    dump in S3 when ``QL_INSTRUMENTS_FROM_S3=1`` (see services.instruments_store; deployed
    Lambdas), else the bundled 2026-08-18 extract (local platform, tests)."""
    if path is None and not os.environ.get("QL_INSTRUMENTS_FILE") and os.environ.get("QL_INSTRUMENTS_FROM_S3") == "1":
        from shared_utils.services.instruments_store import download_latest

        try:
            return InstrumentMaster.from_kite_csv(download_latest())
        except Exception as exc:  # noqa: BLE001 - no published master yet: the dated fallbacks still apply
            import logging

            logging.getLogger(__name__).warning(
                "no instrument master in S3 (%s): using the bundled extract; legs whose contracts it does not list "
                "fail with a reason instead of trading a guessed contract", type(exc).__name__)
    file = Path(path or os.environ.get("QL_INSTRUMENTS_FILE") or DEFAULT_INSTRUMENTS)
    return InstrumentMaster.from_kite_csv(file)


@lru_cache(maxsize=1)
def _fallback_table() -> dict[str, list[tuple[date, int]]]:
    data = json.loads(LOT_SIZE_FALLBACK.read_text())
    return {name: sorted((date.fromisoformat(r["from"]), int(r["lot"])) for r in rows)
            for name, rows in data["lot_sizes"].items()}


def fallback_lot_size(underlying: str, expiry: date) -> int | None:
    """The dated fallback lot size of ``underlying`` for a contract expiring on ``expiry``."""
    rows = _fallback_table().get(underlying.upper())
    if not rows:
        return None
    lot = None
    for start, size in rows:
        if expiry >= start:
            lot = size
    return lot


def lot_size_for(underlying: str, expiry_type: ExpiryType, expiry_offset: int, trade_date: date,
                 master: InstrumentMaster | None = None) -> LotSize:
    """Lot size of the contract a leg resolves to on ``trade_date``.

    Raises:
        MarketError: no master contract and no fallback row (the message says which).
    """
    from shared_utils.market.expiry import resolve_expiry

    master = master if master is not None else instrument_master()
    expiry = resolve_expiry(master, underlying, expiry_type, expiry_offset, trade_date)
    try:
        contracts = master.option_contracts(underlying, expiry)
        if contracts:
            return LotSize(contracts[0].lot_size, expiry, f"instrument master: {contracts[0].tradingsymbol}")
    except MarketError:
        pass
    lot = fallback_lot_size(underlying, expiry)
    if lot is None:
        raise MarketError(f"{underlying}: no contract in the instrument master and no fallback lot size")
    return LotSize(lot, expiry, f"fallback table config/market/lot_sizes.json (master does not list {underlying} {expiry})")
