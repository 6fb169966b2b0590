"""Shared fixtures: the real Kite dump (2026-08-18) and the real NSE chain (2022-03-28)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from shared_utils.clock import IST
from shared_utils.market.instruments import InstrumentMaster
from shared_utils.market.strikes import OptionChain, OptionQuote
from shared_utils.models.enums import OptionType

#: ../shared next to the repository (every checkout and worktree sees it there), not an absolute path
DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
KITE_DUMP = DATA / "zerodha_instruments_NFO_BFO_2026-08-18.csv"
NSE_CHAIN = DATA / "nse_option_chain_NIFTY_2022-03-28.json"
ANGEL_EXTRACT = DATA / "angelone_scripmaster_extract_index_tokens.json"
#: records.timestamp of the NSE snapshot
NSE_SNAPSHOT_AT = datetime(2022, 3, 28, 10, 47, 19, tzinfo=IST)


@pytest.fixture(scope="session")
def master() -> InstrumentMaster:
    return InstrumentMaster.from_kite_csv(KITE_DUMP, as_of=date(2026, 8, 18))


@pytest.fixture(scope="session")
def nse_raw() -> dict:
    return json.loads(NSE_CHAIN.read_text())


def nse_rows(raw: dict, expiry: str = "31-Mar-2022") -> list[dict]:
    return [row for row in raw["records"]["data"] if row["expiryDate"] == expiry]


@pytest.fixture(scope="session")
def nse_chain(nse_raw) -> OptionChain:
    """The 31 Mar 2022 weekly NIFTY chain as the platform sees it (IV as a decimal)."""
    quotes = {}
    for row in nse_rows(nse_raw):
        for side in ("CE", "PE"):
            q = row.get(side)
            if not q:
                continue
            quotes[(Decimal(str(row["strikePrice"])), OptionType(side))] = OptionQuote(
                ltp=Decimal(str(q["lastPrice"])),
                bid=Decimal(str(q["bidprice"])),
                ask=Decimal(str(q["askPrice"])),
                iv=(q["impliedVolatility"] / 100) or None,
                oi=int(q["openInterest"]),
            )
    return OptionChain(
        "NIFTY", date(2022, 3, 31), Decimal(str(nse_raw["records"]["underlyingValue"])),
        datetime(2022, 3, 31, 15, 30, tzinfo=IST), quotes,
    )
