"""The engine context of a Lambda container, built once from the environment.

Environment variables (set by the execution-engine stack):

- ``QL_ENV``: environment name (tables, bus names from config/environments.json).
- ``EVENT_BUS_NAME``: the platform bus (default from config).
- ``QL_INSTRUMENTS_FILE``: today's instrument master CSV (the market-data refresher keeps it).
- ``QL_MARKET_DATA_ACCOUNT``: ``user_id/client_id`` of the LIVE account whose quote API prices
  leg resolution. Without it the engine uses the seeded simulator, which is only acceptable for
  PAPER trading: a LIVE account is then refused (RoutingClientProvider without live).
"""

from __future__ import annotations

import os
from functools import lru_cache

from aws_lambda_powertools import Metrics

from shared_utils.clock import default_clock
from shared_utils.config import current_environment
from shared_utils.execution.clients import PaperClientProvider, RoutingClientProvider
from shared_utils.execution.context import EngineContext, SimulatorMarketData
from shared_utils.execution.events import EventBridgePublisher
from shared_utils.persistence.repositories import Repositories

#: the engine's CloudWatch metrics (namespace from POWERTOOLS_METRICS_NAMESPACE)
metrics = Metrics()


@lru_cache(maxsize=1)
def engine_context() -> EngineContext:
    """Build (once per container) the context of the deployed engine."""
    from shared_utils.accounts.provider import BrokerClientProvider
    from shared_utils.accounts.secrets import BrokerSecretStore
    from shared_utils.market.calendar import default_calendar
    from shared_utils.market.simulator import MarketSimulator
    from shared_utils.services.market_data import instrument_master

    env = current_environment()
    clock = default_clock()
    repos = Repositories.for_environment(env)
    master = instrument_master()
    live = BrokerClientProvider(BrokerSecretStore(env), clock)
    data_account = os.environ.get("QL_MARKET_DATA_ACCOUNT")
    if data_account:
        from shared_utils.execution.market_data import BrokerMarketData

        user_id, client_id = data_account.split("/", 1)
        market = BrokerMarketData(live.client_for(repos.accounts.get(user_id, client_id)), master)
        paper_ltp = lambda exchange, symbol: market.quote(master.by_symbol(exchange, symbol)).ltp  # noqa: E731
        clients = RoutingClientProvider(PaperClientProvider(paper_ltp, master, now=clock.now), live)
    else:
        simulator = SimulatorMarketData(MarketSimulator(master, seed=int(os.environ.get("QL_SIM_SEED", "17")), clock=clock))
        market = simulator
        clients = RoutingClientProvider(PaperClientProvider(simulator.ltp, master, now=clock.now), live)
    publisher = EventBridgePublisher(os.environ.get("EVENT_BUS_NAME") or env.event_bus_name)
    return EngineContext(repos=repos, env=env, clock=clock, calendar=default_calendar(), master=master, market=market,
                         clients=clients, publisher=publisher, metric=_metric)


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
    if "orders" not in item:  # a reference (contract C1): the stored intents carry price, lot and tick
        for intent in repos.orders.list_for_execution(item["user_id"], item["execution_id"], item["client_id"]):
            symbol = intent.broker_tradingsymbol or intent.tradingsymbol
            if intent.ltp_at_decision is not None:
                prices[symbol] = intent.ltp_at_decision
            lots[symbol] = (intent.lot_size, intent.tick_size or Decimal("0.05"))
    paper = PaperClientProvider(lambda exchange, symbol: prices[symbol], None, now=clock.now,
                                lookup=lambda exchange, symbol: lots[symbol])
    return EngineContext(repos=repos, env=env, clock=clock, calendar=calendar, master=None, market=None,
                         clients=RoutingClientProvider(paper, live), publisher=None, metric=_metric)
