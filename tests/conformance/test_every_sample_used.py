"""Every official sample is held against the adapters or the fakes, or is listed here with the
reason it is not (so a new sample cannot be silently ignored)."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import SAMPLES

NOT_CONSUMED = {
    "kite/autoslice_response.json": "the platform never sends autoslice (its children carry tag null: see the "
                                    "orders.json test); its error child is used via errors.json",
    "kite/basket_margins.json": "margins are not read by the platform",
    "kite/margins.json": "margins are not read by the platform",
    "kite/order_margins.json": "margins are not read by the platform",
    "kite/virtual_contract_note.json": "contract notes are not read by the platform",
    "kite/profile.json": "the platform reads no Kite profile",
    "kite/session_logout.json": "the platform never logs a Kite session out (it expires at ~06:00 IST)",
    "kite/trigger_range.json": "deprecated Kite endpoint; not called",
    "noren/login_legacy_response_success.json": "QuickAuth is retired (OAuth since Mar-Apr 2026)",
    "noren/login_legacy_response_failure.json": "QuickAuth is retired (OAuth since Mar-Apr 2026)",
    "noren/trade_book_response.json": "the Noren adapter reads fills from OrderBook (fillshares, avgprc), not TradeBook",
    "smartapi/errors.json": "SDK exception classes; the adapter reads envelopes (response_envelopes.json)",
    "smartapi/sdk_request_fields.json": "field names only; the request test uses place_order_request.json",
}


def test_every_sample_is_consumed_or_excused():
    here = Path(__file__).parent
    text = "\n".join(p.read_text() for p in here.glob("test_*.py") if p.name != Path(__file__).name)
    used = set(re.findall(r'"((?:kite|noren|smartapi)/[a-z_]+\.json)"', text))
    samples = {f"{d.name}/{f.name}" for d in SAMPLES.iterdir() if d.is_dir() for f in d.glob("*.json")}
    assert samples, f"no samples under {SAMPLES}"
    unaccounted = samples - used - set(NOT_CONSUMED)
    assert not unaccounted, f"samples neither tested nor excused: {sorted(unaccounted)}"
    assert not (set(NOT_CONSUMED) - samples), "an excuse names a sample that no longer exists"
    assert not (set(NOT_CONSUMED) & used), "a sample is both excused and used"
