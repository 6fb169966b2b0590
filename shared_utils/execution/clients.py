"""Broker clients per account for the engine.

- PAPER accounts (the default for every account until it is switched to LIVE) trade on a
  :class:`~shared_utils.brokers.paper.PaperBroker` that fills against the platform's market
  data at LTP with the configured slippage; one paper broker per account per process.
- LIVE accounts get a real adapter from the live provider (the auth-broker layer reads the
  account's secret and daily session).
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

from shared_utils.brokers.base import BrokerClient
from shared_utils.brokers.errors import SessionExpired
from shared_utils.brokers.paper import PaperBroker
from shared_utils.execution.context import ClientProvider
from shared_utils.market.errors import MarketError
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.enums import TradingMode

if TYPE_CHECKING:  # PlaceOrders' cold start: the instrument master module is not imported there
    from shared_utils.market.instruments import InstrumentMaster


class PaperClientProvider:
    """One PaperBroker per client_id, priced by ``ltp(exchange, tradingsymbol)``.

    ``latency_s`` simulates a broker round trip (benchmarks use 0.02-0.05 s).
    """

    def __init__(self, ltp: Callable[[str, str], Decimal], master: InstrumentMaster | None, *, slippage_bps: int = 0,
                 latency_s: float | Callable[[], float] = 0.0, now: Callable[[], Any] | None = None,
                 lookup: Callable[[str, str], tuple[int, Decimal]] | None = None) -> None:
        self._ltp = ltp
        self._master = master
        self._custom_lookup = lookup
        self._slippage = slippage_bps
        self._latency = latency_s
        self._now = now
        self._brokers: dict[str, PaperBroker] = {}
        self._lock = threading.Lock()

    def _lookup(self, exchange: str, tradingsymbol: str) -> tuple[int, Decimal]:
        if self._custom_lookup is not None:
            return self._custom_lookup(getattr(exchange, "value", exchange), tradingsymbol)
        try:
            contract = self._master.by_symbol(exchange, tradingsymbol)
        except MarketError as exc:
            raise KeyError(tradingsymbol) from exc
        return contract.lot_size, contract.tick_size

    def client_for(self, account: BrokerAccount) -> BrokerClient:
        with self._lock:
            broker = self._brokers.get(account.client_id)
            if broker is None:
                kwargs: dict[str, Any] = {"slippage_bps": self._slippage, "account_id": account.client_id}
                if self._now is not None:
                    kwargs["now"] = self._now
                latency = self._latency
                if callable(latency):
                    import time as _time

                    kwargs["sleep"] = lambda _s, _f=latency: _time.sleep(_f())
                    kwargs["latency_s"] = 1.0
                else:
                    kwargs["latency_s"] = latency
                broker = PaperBroker(_LtpSource(self._ltp), self._lookup, **kwargs)
                self._brokers[account.client_id] = broker
            return broker

    def brokers(self) -> dict[str, PaperBroker]:
        return dict(self._brokers)


class _LtpSource:
    def __init__(self, ltp: Callable[[str, str], Decimal]) -> None:
        self._ltp = ltp

    def ltp(self, exchange: Any, tradingsymbol: str) -> Decimal:
        return self._ltp(getattr(exchange, "value", exchange), tradingsymbol)


class RoutingClientProvider:
    """PAPER accounts -> ``paper``; LIVE accounts -> ``live`` (None: LIVE is refused)."""

    def __init__(self, paper: ClientProvider, live: ClientProvider | None = None) -> None:
        self.paper = paper
        self.live = live

    def client_for(self, account: BrokerAccount) -> BrokerClient:
        if account.trading_mode is TradingMode.PAPER:
            return self.paper.client_for(account)
        if self.live is None:
            raise SessionExpired("LIVE trading is not configured on this platform", broker=account.broker.value)
        return self.live.client_for(account)


class StaticClientProvider:
    """Fixed clients per client_id (tests, the protocol fakes of the local platform)."""

    def __init__(self, clients: dict[str, BrokerClient]) -> None:
        self.clients = clients

    def client_for(self, account: BrokerAccount) -> BrokerClient:
        try:
            return self.clients[account.client_id]
        except KeyError:
            raise SessionExpired(f"no client configured for {account.client_id}", broker=account.broker.value) from None
