"""Everything the engine's steps depend on, injected once per process (a Lambda container or
the local platform): tables, clock, calendar, instrument master, market data, broker clients
and the event bus.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:  # type-only: PlaceOrders must not import SciPy or the instrument master
    from shared_utils.brokers.base import BrokerClient
    from shared_utils.clock import Clock
    from shared_utils.config import EnvironmentConfig
    from shared_utils.execution.events import EventPublisher
    from shared_utils.market.calendar import TradingCalendar
    from shared_utils.market.instruments import Contract, InstrumentMaster
    from shared_utils.market.strikes import OptionChain, OptionQuote
    from shared_utils.models.broker_account import BrokerAccount
    from shared_utils.persistence.repositories import Repositories


class MarketData(Protocol):
    """Quotes for leg resolution and limit prices (rupees, Decimal)."""

    def chain(self, underlying: str, expiry: date, at: datetime | None = None) -> OptionChain: ...

    def quote(self, contract: Contract, at: datetime | None = None) -> OptionQuote: ...


class ClientProvider(Protocol):
    """Builds (or returns the cached) broker client of one account.

    Raises:
        shared_utils.brokers.SessionExpired: the account has no valid session today.
    """

    def client_for(self, account: BrokerAccount) -> BrokerClient: ...


@dataclass
class EngineContext:
    repos: Repositories
    env: EnvironmentConfig
    clock: Clock
    calendar: TradingCalendar
    master: InstrumentMaster
    market: MarketData
    clients: ClientProvider
    publisher: EventPublisher
    #: called with (name, value, unit, dimensions) for CloudWatch/Powertools metrics
    metric: Callable[[str, float, str, dict[str, str]], None] = lambda *a: None
    #: called with one dict per notable event (orders sent, skips), for the local demo's story
    observer: Callable[[dict[str, Any]], None] = lambda e: None
    #: each broker's own symbol/token master (Angel scrip master, Noren symbols), by broker name
    symbol_masters: dict[str, Any] = field(default_factory=dict)
    #: which broker's symbols an account's orders use; default: "paper" for PAPER accounts,
    #: else the account's broker (the local platform's fake mode sends every account to its fake)
    effective_broker: Callable[[Any], str] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: PlaceOrders calls it with the work item's intents once it has loaded them (its ONE query):
    #: the deployed paper client takes each contract's lot, tick and price from them
    on_intents: Callable[[list[Any]], None] | None = None


class SimulatorMarketData:
    """MarketData over the seeded :class:`~shared_utils.market.simulator.MarketSimulator`
    (paper trading and the local platform)."""

    def __init__(self, simulator: Any) -> None:
        self.simulator = simulator

    def chain(self, underlying: str, expiry: date, at: datetime | None = None) -> OptionChain:
        return self.simulator.chain(underlying, expiry, at)

    def quote(self, contract: Contract, at: datetime | None = None) -> OptionQuote:
        return self.simulator.quote(contract, at)

    def ltp(self, exchange: str, tradingsymbol: str) -> Decimal:
        """The paper broker's price source: LTP of a contract of the master (rupees)."""
        contract = self.simulator.master.by_symbol(exchange, tradingsymbol)
        return self.simulator.quote(contract).ltp
