"""Noren (Finvasia Shoonya, Zebu) formats: the NFO tradingsymbol builder.

Moved here from ``shared_utils/market/instruments.py`` (issue 15: each adapter owns its broker's
formats); ``market.instruments`` re-exports the name. Noren's BFO form is not confirmed: BFO
symbols come from a loaded :class:`~shared_utils.market.instruments.BrokerSymbolMaster`.
"""

from __future__ import annotations

from shared_utils.market.instruments import Contract, _ddmmmyy, _fmt_strike

__all__ = ["noren_symbol"]


def noren_symbol(contract: Contract) -> str:
    """Noren (Shoonya/Zebu) NFO tradingsymbol: options ``NIFTY18AUG26C25000`` /
    ``NIFTY18AUG26P25000``, futures ``NIFTY25AUG26F``.

    Confirmed from public Noren client code and fixtures (``NIFTY18AUG26P24550``,
    ``NIFTY29SEP26C23100``, ``NIFTY28APR26F``). BFO's Noren form was not confirmed: use a
    loaded :class:`BrokerSymbolMaster` for BFO.
    """
    stem = f"{contract.underlying}{_ddmmmyy(contract.expiry)}"
    if contract.option_type is None:
        return f"{stem}F"
    return f"{stem}{contract.option_type.value[0]}{_fmt_strike(contract.strike)}"
