"""Live market data for leg resolution from a broker's quote API (Kite ``/quote``: up to ~500
instruments per call, 1 request/s; reference/broker-apis.md).

``chain(underlying, expiry)`` reads the index spot (the Kite quote key of
config/market/underlyings.json, e.g. ``NSE:NIFTY 50``), then quotes the listed strikes within
``width`` strikes of ATM on both sides, CE and PE, in batches. Implied volatilities are not
taken from the broker: strike selection by delta solves them from the quoted prices.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from shared_utils.brokers.base import BrokerClient
from shared_utils.brokers.models import InstrumentRef
from shared_utils.market.errors import MarketError
from shared_utils.market.instruments import Contract, InstrumentMaster, load_underlyings
from shared_utils.market.strikes import OptionChain, OptionQuote
from shared_utils.models.enums import Exchange, OptionType

BATCH = 450


class BrokerMarketData:
    """MarketData over a broker client (the platform's market-data account)."""

    def __init__(self, client: BrokerClient, master: InstrumentMaster, width: int = 30) -> None:
        self.client = client
        self.master = master
        self.width = width
        self._underlyings = load_underlyings()

    def spot(self, underlying: str) -> Decimal:
        """The index level in rupees. Raises MarketError when the broker does not quote it."""
        info = self._underlyings.get(underlying)
        if info is None:
            raise MarketError(f"{underlying}: no spot quote key in config/market/underlyings.json")
        exchange, symbol = info.kite_quote_key.split(":", 1)
        prices = self.client.ltp([InstrumentRef(Exchange(exchange), symbol)])
        try:
            return prices[info.kite_quote_key]
        except KeyError:
            raise MarketError(f"{underlying}: the broker returned no price for {info.kite_quote_key}") from None

    def chain(self, underlying: str, expiry: date, at: datetime | None = None) -> OptionChain:
        spot = self.spot(underlying)
        strikes = self.master.strikes(underlying, expiry, OptionType.CE)
        if not strikes:
            raise MarketError(f"{underlying} {expiry}: no listed strikes")
        atm_index = min(range(len(strikes)), key=lambda i: (abs(strikes[i] - spot), strikes[i]))
        window = strikes[max(0, atm_index - self.width): atm_index + self.width + 1]
        contracts = [self.master.contract(underlying, expiry, k, t) for k in window for t in (OptionType.CE, OptionType.PE)]
        quotes: dict[tuple[Decimal, OptionType], OptionQuote] = {}
        for start in range(0, len(contracts), BATCH):
            batch = contracts[start:start + BATCH]
            answer = self.client.quotes([InstrumentRef(c.exchange, c.tradingsymbol, str(c.instrument_token)) for c in batch])
            for c in batch:
                q = answer.get(f"{c.exchange.value}:{c.tradingsymbol}")
                if q is not None and q.ltp and q.ltp > 0:
                    quotes[(c.strike, c.option_type)] = OptionQuote(ltp=q.ltp, bid=q.bid, ask=q.ask)
        expiry_at = contracts[0].expiry_close
        return OptionChain(underlying, expiry, spot, expiry_at, quotes)

    def quote(self, contract: Contract, at: datetime | None = None) -> OptionQuote:
        answer = self.client.quotes([InstrumentRef(contract.exchange, contract.tradingsymbol, str(contract.instrument_token))])
        q = answer.get(f"{contract.exchange.value}:{contract.tradingsymbol}")
        if q is None:
            raise MarketError(f"no quote for {contract.tradingsymbol}")
        return OptionQuote(ltp=q.ltp, bid=q.bid, ask=q.ask)
