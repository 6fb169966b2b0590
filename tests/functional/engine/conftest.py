"""An engine over moto tables, the real market model (instrument extract of 2026-08-18, the
calendar) and a seeded market simulator; paper brokers by default."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from shared_utils.clock import IST, FixedClock
from shared_utils.execution.clients import PaperClientProvider, RoutingClientProvider
from shared_utils.execution.context import EngineContext, SimulatorMarketData
from shared_utils.execution.events import InMemoryPublisher
from shared_utils.market.calendar import default_calendar
from shared_utils.market.simulator import MarketSimulator
from shared_utils.models.enums import ExecutionType
from shared_utils.services.market_data import instrument_master
from tests.functional.api.journey import complete_legs, run_journey

#: Monday 17 Aug 2026, the trading morning of the seed's journey (NIFTY weekly expires Tue 18 Aug)
MONDAY = datetime(2026, 8, 17, 9, 28, 5, tzinfo=IST)


@dataclass
class EngineUnderTest(EngineContext):
    """The deployed context's typed dependencies plus the fakes the tests drive (declared here,
    not attributes bolted onto the context)."""

    paper: PaperClientProvider | None = None
    simulator: MarketSimulator | None = None
    events: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def engine(repos, env_config):
    clock = FixedClock(MONDAY)
    master = instrument_master()
    simulator = MarketSimulator(master, seed=17, spots={"NIFTY": Decimal("24850"), "SENSEX": Decimal("81200")},
                                clock=clock)
    market = SimulatorMarketData(simulator)
    paper = PaperClientProvider(market.ltp, master, now=clock.now)
    events: list[dict] = []
    return EngineUnderTest(repos=repos, env=env_config, clock=clock, calendar=default_calendar(), master=master,
                           market=market, clients=RoutingClientProvider(paper), publisher=InMemoryPublisher(),
                           observer=events.append, paper=paper, simulator=simulator, events=events)


@pytest.fixture
def seed_strategy(api, engine):
    """The seed's journey 1 through the API (completed selection values), entry moved to the
    slot under test. Returns (user_id, strategy_id)."""
    _, strategy_id = run_journey(api, link=api.link)
    complete_legs(api, strategy_id)
    status, body = api("PUT", f"/options/strategies/{strategy_id}", {"entry_time": "09:30", "exit_time": "15:20"})
    assert status == 200, body
    return "user-a", strategy_id


def due_event(engine, slot="09:30", execution_type=ExecutionType.ENTRY):
    """Run the emitter for the slot two minutes ahead and return its due events."""
    from shared_utils.execution.emitter import run_emitter
    from shared_utils.execution.events import EXECUTION_DUE

    run_emitter(engine)
    return [d for _, t, d in engine.publisher.drain(EXECUTION_DUE) if d["execution_type"] == execution_type.value]
