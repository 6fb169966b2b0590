"""The engine context of a Lambda container, built once from the environment.

Environment variables (set by the execution-engine stack):

- ``QL_ENV``: environment name (tables, bus names from config/environments.json).
- ``EVENT_BUS_NAME``: the platform bus (default from config).
- ``QL_MARKET_DATA_ACCOUNT``: where live prices and the day's masters come from, from
  ``config/environments.json`` (``market_data.account``): ``user_id/client_id`` of the LIVE
  (Zerodha) account whose quote API prices leg resolution, or ``simulator`` (local/dev, paper
  only: Resolve then refuses any LIVE account, execution.market_data.market_data_problems).
  Required when ``QL_INSTRUMENTS_FROM_S3=1``; outside AWS it defaults to the simulator.
- ``QL_INSTRUMENTS_FROM_S3=1`` + ``ARCHIVE_BUCKET_NAME``: the day's masters are read from S3
  (``instruments/<broker>/<date>``, services.instruments_store) on first use, per container and
  IST date; a read failure is an error with the reason (no fallback to an older day or to the
  bundled extract, except for the simulator, which is paper-only anyway).
- ``QL_INSTRUMENTS_FILE``: (local only) the master CSV to load instead of the bundled extract.

The master is loaded lazily (:class:`~shared_utils.services.market_data.DailyInstrumentMaster`):
functions that never look at it (the emitter, Finalize) do not download it.
"""

from __future__ import annotations

import os
from functools import lru_cache

from aws_lambda_powertools import Metrics

from shared_utils.clock import default_clock
from shared_utils.config import ConfigError, current_environment
from shared_utils.execution.clients import PaperClientProvider, RoutingClientProvider
from shared_utils.execution.context import EngineContext, SimulatorMarketData
from shared_utils.execution.events import EventBridgePublisher
from shared_utils.persistence.repositories import Repositories

#: the engine's CloudWatch metrics (namespace from POWERTOOLS_METRICS_NAMESPACE)
metrics = Metrics()


def market_data_account() -> str:
    """``QL_MARKET_DATA_ACCOUNT``: ``"simulator"`` or ``"user_id/client_id"``.

    Raises:
        ConfigError: unset in a deployed function (``QL_INSTRUMENTS_FROM_S3=1``), or malformed.
    """
    from shared_utils.services.market_data import SIMULATOR, deployed

    value = (os.environ.get("QL_MARKET_DATA_ACCOUNT") or "").strip()
    if not value:
        if deployed():
            raise ConfigError("QL_MARKET_DATA_ACCOUNT is not set: config/environments.json names each environment's "
                              "market data (market_data.account: a broker account user_id/client_id, or 'simulator')")
        return SIMULATOR
    if value != SIMULATOR and (value.count("/") != 1 or not all(value.split("/"))):
        raise ConfigError(f"QL_MARKET_DATA_ACCOUNT={value!r}: expected 'user_id/client_id' or 'simulator'")
    return value


def build_engine_context(clock=None, repos=None, live=None, s3=None, bucket: str | None = None) -> EngineContext:
    """The deployed engine's context (arguments: injection points for tests).

    Market data from :func:`market_data_account`: a broker account -> BrokerMarketData over that
    account's client (resolved on first quote) and the day's S3 masters (strict); the simulator
    -> PaperOnlyMarketData (LIVE accounts refused) with the day's S3 master when published, else
    the bundled extract (deployed), or the local master (outside AWS).
    """
    from shared_utils.accounts.provider import BrokerClientProvider
    from shared_utils.accounts.secrets import BrokerSecretStore
    from shared_utils.execution.market_data import BrokerMarketData, PaperOnlyMarketData
    from shared_utils.market.calendar import default_calendar
    from shared_utils.market.simulator import MarketSimulator
    from shared_utils.services.market_data import (
        SIMULATOR,
        DailyInstrumentMaster,
        DailySymbolMasters,
        deployed,
        instrument_master,
        s3_master,
    )

    env = current_environment()
    clock = clock or default_clock()
    repos = repos or Repositories.for_environment(env)
    live = live or BrokerClientProvider(BrokerSecretStore(env), clock)
    source = market_data_account()
    simulated = source == SIMULATOR
    if deployed():
        master = DailyInstrumentMaster(clock, lambda day: s3_master(day, bucket, s3, allow_bundled=simulated))
        symbol_masters = DailySymbolMasters(clock, bucket, s3)
    else:
        master = DailyInstrumentMaster(clock, lambda day: instrument_master())
        symbol_masters = {}
    if not simulated:
        user_id, client_id = source.split("/", 1)
        market = BrokerMarketData(lambda: live.client_for(repos.accounts.get(user_id, client_id)), master,
                                  account=f"market-data account {source}")
        paper_ltp = lambda exchange, symbol: market.quote(master.by_symbol(exchange, symbol)).ltp  # noqa: E731
        clients = RoutingClientProvider(PaperClientProvider(paper_ltp, master, now=clock.now), live)
    else:
        simulator = PaperOnlyMarketData(SimulatorMarketData(
            MarketSimulator(master, seed=int(os.environ.get("QL_SIM_SEED", "17")), clock=clock)))
        market = simulator
        clients = RoutingClientProvider(PaperClientProvider(simulator.ltp, master, now=clock.now), live)
    publisher = EventBridgePublisher(os.environ.get("EVENT_BUS_NAME") or env.event_bus_name)
    return EngineContext(repos=repos, env=env, clock=clock, calendar=default_calendar(), master=master, market=market,
                         clients=clients, publisher=publisher, metric=_metric, symbol_masters=symbol_masters)


@lru_cache(maxsize=1)
def engine_context() -> EngineContext:
    """Build (once per container) the context of the deployed engine (:func:`build_engine_context`).
    The masters inside it follow the IST date on their own."""
    return build_engine_context()


def _metric(name: str, value: float, unit: str, dimensions: dict[str, str]) -> None:
    """Powertools EMF metric. Without dimensions it joins the handler's batch (flushed by
    ``log_metrics``); with dimensions (broker, status) it is emitted on its own so they do not
    leak onto the other metrics of the invocation."""
    if not dimensions:
        metrics.add_metric(name=name, unit=unit, value=value)
        return
    from aws_lambda_powertools.metrics import single_metric

    with single_metric(name=name, unit=unit, value=value, namespace=metrics.namespace) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=str(dimension))


@lru_cache(maxsize=1)
def _placement_base() -> tuple:
    from shared_utils.accounts.provider import BrokerClientProvider
    from shared_utils.accounts.secrets import BrokerSecretStore
    from shared_utils.market.calendar import default_calendar

    env = current_environment()
    clock = default_clock()
    return env, clock, Repositories.for_environment(env), default_calendar(), BrokerClientProvider(BrokerSecretStore(env), clock)


def placement_context(item: dict) -> EngineContext:
    """A light context for one PlaceOrders work item: no instrument master, no SciPy. A PAPER
    account fills at the LTP Resolve decided on (the item carries it) with the contract's lot
    and tick from the item."""
    from decimal import Decimal

    env, clock, repos, calendar, live = _placement_base()
    prices = {o["tradingsymbol"]: Decimal(o["ltp"]) for o in item.get("orders", []) if o.get("ltp")}
    lots = {o["tradingsymbol"]: (int(o["lot_size"]), Decimal(o["tick_size"])) for o in item.get("orders", [])}

    def learn(intents: list) -> None:
        """A reference (contract C1): the intents PlaceOrders loaded carry price, lot and tick
        (no second query for them)."""
        for intent in intents:
            symbol = intent.broker_tradingsymbol or intent.tradingsymbol
            if intent.ltp_at_decision is not None:
                prices[symbol] = intent.ltp_at_decision
            lots[symbol] = (intent.lot_size, intent.tick_size or Decimal("0.05"))

    paper = PaperClientProvider(lambda exchange, symbol: prices[symbol], None, now=clock.now,
                                lookup=lambda exchange, symbol: lots[symbol])
    return EngineContext(repos=repos, env=env, clock=clock, calendar=calendar, master=None, market=None,
                         clients=RoutingClientProvider(paper, live), publisher=None, metric=_metric,
                         on_intents=learn)
