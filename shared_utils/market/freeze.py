"""Exchange freeze quantities (dated data) and order slicing.

An order whose quantity exceeds the exchange's freeze limit for the contract is rejected, so
larger orders are sent as several slices. Limits are in UNITS (quantity), per underlying, and
change by circular: ``config/market/freeze_quantities.json`` keeps each revision with its
effective date and source. Prefer a broker master's per-contract figure when one is available
(Angel's scrip master has ``freeze_qty``) and fall back to this table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from shared_utils.market.errors import MarketError, QuantityError

__all__ = ["FREEZE_FILE", "KITE_MAX_SLICES", "FreezeRevision", "freeze_quantity", "freeze_revision", "max_order_quantity", "slice_quantity"]

FREEZE_FILE = Path(__file__).resolve().parents[2] / "config" / "market" / "freeze_quantities.json"


@lru_cache(maxsize=4)
def _revisions(path: str) -> list[tuple[date, str, dict[str, int], str]]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        revisions = [
            (date.fromisoformat(r["effective_from"]), r["exchange"], {k: int(v) for k, v in r["limits"].items()}, r["source"])
            for r in doc["revisions"]
        ]
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise MarketError(f"cannot read freeze quantities {path}: {exc}") from exc
    return sorted(revisions, key=lambda r: r[0])


@dataclass(frozen=True)
class FreezeRevision:
    """The freeze limit of one underlying in force on a date, with the revision that set it."""

    underlying: str
    exchange: str
    effective_from: date
    limit: int
    source: str


def freeze_revision(underlying: str, on_date: date, path: Path | str = FREEZE_FILE) -> FreezeRevision | None:
    """The revision in force for ``underlying`` on ``on_date`` (limit + source), or None when no
    revision lists it (SENSEX50: no limit, never sliced). Revisions listed under ``unconfirmed``
    in the data file are never applied."""
    found: FreezeRevision | None = None
    for effective, exchange, limits, source in _revisions(str(path)):
        if effective <= on_date and underlying in limits:
            found = FreezeRevision(underlying, exchange, effective, limits[underlying], source)
    return found


def freeze_quantity(underlying: str, on_date: date, path: Path | str = FREEZE_FILE) -> int | None:
    """The freeze limit in UNITS for ``underlying`` on ``on_date`` (latest revision in force that
    lists it), or None when no revision lists it (e.g. SENSEX50, stock options).

    Raises MarketError when the data file is unreadable.
    """
    found: int | None = None
    for effective, _exchange, limits, _source in _revisions(str(path)):
        if effective <= on_date and underlying in limits:
            found = limits[underlying]
    return found


def max_order_quantity(lot_size: int, freeze_qty: int) -> int:
    """Largest multiple of ``lot_size`` that is <= ``freeze_qty`` (e.g. 65, 1800 -> 1755).

    Raises QuantityError when ``lot_size`` or ``freeze_qty`` is not positive or the freeze limit
    is smaller than one lot.
    """
    if lot_size <= 0:
        raise QuantityError(f"lot_size must be > 0, got {lot_size}")
    if freeze_qty <= 0:
        raise QuantityError(f"freeze quantity must be > 0, got {freeze_qty}")
    largest = (freeze_qty // lot_size) * lot_size
    if largest == 0:
        raise QuantityError(f"freeze quantity {freeze_qty} is smaller than one lot ({lot_size})")
    return largest


#: Kite: "Order slicing should be capped at a maximum of 10 slices" from 1 Apr 2026 (kite.trade
#: forum 15912, staff, edited 2026-03-30; broker-samples/kite/place_order_params.json).
KITE_MAX_SLICES = 10


def slice_quantity(quantity: int, lot_size: int, freeze_qty: int | None, max_slices: int | None = None) -> list[int]:
    """Split ``quantity`` (units) into order slices, each a multiple of ``lot_size`` and
    <= ``freeze_qty``. Greedy: full slices of :func:`max_order_quantity` first, the remainder
    last (as Kite's autoslice does); the slices sum to ``quantity``. ``freeze_qty`` None means
    no limit (one slice).

    ``max_slices`` (e.g. :data:`KITE_MAX_SLICES`) refuses an order that would need more slices.

    Raises:
        QuantityError: ``quantity`` not a positive multiple of ``lot_size`` (message gives the
            lots it would be), a bad lot size/freeze limit, or more slices than ``max_slices``.
    """
    if lot_size <= 0:
        raise QuantityError(f"lot_size must be > 0, got {lot_size}")
    if quantity <= 0 or quantity % lot_size:
        raise QuantityError(
            f"quantity {quantity} is not a positive multiple of the lot size {lot_size} "
            f"({quantity / lot_size:.2f} lots); quantity = lots x lot_size"
        )
    if freeze_qty is None:
        return [quantity]
    step = max_order_quantity(lot_size, freeze_qty)
    full, rest = divmod(quantity, step)
    slices = [step] * full + ([rest] if rest else [])
    if max_slices is not None and len(slices) > max_slices:
        raise QuantityError(f"quantity {quantity} needs {len(slices)} slices of at most {step} (freeze limit "
                            f"{freeze_qty}); the broker allows at most {max_slices} slices per order")
    return slices
