"""Where the engine's prices come from, and when it must refuse to price.

Each environment names its market data in ``config/environments.json``
(``market_data.account``): a LIVE broker account ``user_id/client_id`` (Zerodha: its quote API
prices leg resolution and its ``/instruments`` dump is the day's master), or ``"simulator"``
(local/dev, PAPER trading only). The execution-engine stack passes it to the functions as
``QL_MARKET_DATA_ACCOUNT`` (shared_utils.execution.wiring builds the market data from it).

:func:`market_data_problems` is the refusal, called where Resolve prices an execution: a LIVE
account is never priced with the simulator, and an ENTRY never uses a master that is not the
trade date's (or that cannot be read). Each problem becomes a reason of the FAILED execution
(nothing is sent; Finalize raises the Order Alert).

Live market data for leg resolution from a broker's quote API (Kite ``/quote``: up to ~500
instruments per call, 1 request/s; reference/broker-apis.md).

``chain(underlying, expiry)`` reads the index spot (the Kite quote key of
config/market/underlyings.json, e.g. ``NSE:NIFTY 50``), then quotes the listed strikes within
``width`` strikes of ATM on both sides, CE and PE, in batches. Implied volatilities are not
taken from the broker: strike selection by delta solves them from the quoted prices.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable

from shared_utils.brokers.base import BrokerClient
from shared_utils.brokers.errors import BrokerError
from shared_utils.brokers.models import InstrumentRef
from shared_utils.market.errors import MarketError
from shared_utils.market.instruments import Contract, InstrumentMaster, load_underlyings
from shared_utils.market.strikes import OptionChain, OptionQuote
from shared_utils.models.enums import Exchange, OptionType

BATCH = 450


class BrokerMarketData:
    """MarketData over a broker client (the platform's market-data account).

    ``client`` is the client, or a zero-argument callable returning it (deployed: the account's
    session is read on first use, so a missing account or session is a :class:`MarketError`
    with the reason at resolution, not a crash when the container starts). Broker failures of
    the quote calls are raised as MarketError naming ``account``.
    """

    live_prices = True
    paper_only = False

    def __init__(self, client: BrokerClient | Callable[[], BrokerClient], master: InstrumentMaster, width: int = 30,
                 account: str = "the market-data account") -> None:
        self._client = client
        self.master = master
        self.width = width
        self.account = account
        self._underlyings = load_underlyings()

    @property
    def client(self) -> BrokerClient:
        if callable(self._client) and not isinstance(self._client, BrokerClient):
            try:
                self._client = self._client()
            except (BrokerError, LookupError, ValueError) as exc:
                raise MarketError(f"market data from {self.account}: no usable broker session "
                                  f"({getattr(exc, 'broker_message', None) or exc})") from exc
        return self._client

    def _ask(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except BrokerError as exc:
            raise MarketError(f"market data from {self.account}: {type(exc).__name__}: "
                              f"{getattr(exc, 'broker_message', None) or exc}") from exc

    def spot(self, underlying: str) -> Decimal:
        """The index level in rupees. Raises MarketError when the broker does not quote it."""
        info = self._underlyings.get(underlying)
        if info is None:
            raise MarketError(f"{underlying}: no spot quote key in config/market/underlyings.json")
        exchange, symbol = info.kite_quote_key.split(":", 1)
        prices = self._ask(lambda: self.client.ltp([InstrumentRef(Exchange(exchange), symbol)]))
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
            answer = self._ask(lambda batch=batch: self.client.quotes(
                [InstrumentRef(c.exchange, c.tradingsymbol, str(c.instrument_token)) for c in batch]))
            for c in batch:
                q = answer.get(f"{c.exchange.value}:{c.tradingsymbol}")
                if q is not None and q.ltp and q.ltp > 0:
                    quotes[(c.strike, c.option_type)] = OptionQuote(ltp=q.ltp, bid=q.bid, ask=q.ask)
        expiry_at = contracts[0].expiry_close
        return OptionChain(underlying, expiry, spot, expiry_at, quotes)

    def quote(self, contract: Contract, at: datetime | None = None) -> OptionQuote:
        answer = self._ask(lambda: self.client.quotes(
            [InstrumentRef(contract.exchange, contract.tradingsymbol, str(contract.instrument_token))]))
        q = answer.get(f"{contract.exchange.value}:{contract.tradingsymbol}")
        if q is None:
            raise MarketError(f"no quote for {contract.tradingsymbol}")
        return OptionQuote(ltp=q.ltp, bid=q.bid, ask=q.ask)


class PaperOnlyMarketData:
    """The seeded simulator as an environment's market data (``"simulator"`` in config):
    acceptable for PAPER accounts only; :func:`market_data_problems` refuses a LIVE one."""

    live_prices = False
    paper_only = True

    def __init__(self, simulator_market: Any) -> None:
        self.inner = simulator_market

    def chain(self, underlying: str, expiry: date, at: datetime | None = None) -> OptionChain:
        return self.inner.chain(underlying, expiry, at)

    def quote(self, contract: Contract, at: datetime | None = None) -> OptionQuote:
        return self.inner.quote(contract, at)

    def ltp(self, exchange: str, tradingsymbol: str) -> Decimal:
        return self.inner.ltp(exchange, tradingsymbol)


def market_data_problems(ctx: Any, execution_type: Any, trade_date: date, user_id: str,
                         allocations: list[Any], accounts: dict[str, Any] | None = None) -> list[str]:
    """Why an execution must not be priced with ``ctx``'s market data and master (empty: fine).

    - A LIVE account among ``allocations`` while the market data is the simulator
      (:class:`PaperOnlyMarketData`): refused, the simulator's levels are not the market's.
      (Accounts are read only in that case, unless the caller passes them: ``accounts`` by client_id.)
    - ENTRY: the instrument master cannot be read, or is not the trade date's (its date and the
      trade date are named). A local/paper master (bundled extract, ``origin.paper_only``) is
      exempt: only the simulator may use it, and the check above keeps LIVE accounts off it.

    Called by Resolve before it prices anything; each problem is a reason of the FAILED execution.
    """
    from shared_utils.models.enums import EntityStatus, ExecutionType, TradingMode
    from shared_utils.services.market_data import origin_of

    problems: list[str] = []
    if getattr(ctx.market, "paper_only", False):
        live = []
        for allocation in allocations:
            account = (accounts.get(allocation.client_id) if accounts is not None
                       else ctx.repos.accounts.find(user_id, allocation.client_id))
            if account is not None and account.status is EntityStatus.ACTIVE and account.trading_mode is TradingMode.LIVE:
                live.append(account.client_id)
        if live:
            problems.append(
                f"refused to price LIVE account(s) {', '.join(sorted(live))} with the market simulator: this "
                "environment's market data is 'simulator' (paper trading only); name a market-data broker account "
                "for it in config/environments.json (market_data.account) or switch the account(s) to PAPER")
    if ExecutionType(execution_type) is ExecutionType.ENTRY:
        try:
            as_of = ctx.master.as_of
            origin = origin_of(ctx.master)
        except MarketError as exc:
            problems.append(f"refused to enter without the day's instrument master: {exc}")
            return problems
        if (origin is not None and origin.paper_only) or (origin is None and as_of is None):
            return problems  # a local/paper master, or one a caller built in-process without a date
        if as_of != trade_date:
            problems.append(
                f"refused to enter with a stale instrument master: it is of "
                f"{as_of.isoformat() if as_of else 'an unknown date'}, the trade date is {trade_date.isoformat()}"
                f"{' (' + origin.source + ')' if origin else ''}")
    return problems
