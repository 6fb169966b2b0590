"""Shared helpers of the benchmarks: machine facts, percentiles, moto tables, the seed strategy
bodies and an engine context over paper brokers.

Units: every duration a benchmark reports is in milliseconds (``*_ms``) or seconds (``*_s``);
money is rupees (``*_inr``) or US dollars (``*_usd``).
"""

from __future__ import annotations

import copy
import json
import os
import platform
import random
import subprocess
import sys
import threading
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures" / "seed_journey_1"

#: Monday 17 Aug 2026, the seed journey's trading morning (NIFTY weekly expires Tue 18 Aug).
TRADE_DATE = date(2026, 8, 17)

#: selection values the seed leaves out (same as tests/functional/api/journey.py)
COMPLETE_SELECTION = {
    1: {"method": "DELTA", "delta_value": 0.2},
    2: {"method": "STRIKE_DISTANCE", "strike_distance": 400},
    3: {"method": "DELTA", "delta_value": 0.2},
    4: {"method": "STRIKE_DISTANCE", "strike_distance": 400},
}


def fake_aws_environment() -> None:
    """Fake credentials and the local environment: nothing may reach AWS."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "ap-south-1", "AWS_REGION": "ap-south-1",
        "QL_ENV": "local", "POWERTOOLS_METRICS_NAMESPACE": "QlAlgoTradingBench", "POWERTOOLS_SERVICE_NAME": "bench",
        "QL_CONFIG_FILE": str(ROOT / "config" / "environments.json"),
    }.items():
        os.environ.setdefault(name, value)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks; NaN if empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def median(values: list[float]) -> float:
    return percentile(values, 50)


def machine() -> dict[str, Any]:
    """nproc, memory (MiB), CPU model, Python version, date: the "meta" of results.json."""
    memory_mib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_mib = int(line.split()[1]) // 1024
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None, None, None)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"nproc": os.cpu_count(), "memory_mib": memory_mib, "cpu": cpu, "python": sys.version.split()[0],
            "platform": platform.platform(), "date": datetime.now().astimezone().isoformat(timespec="seconds"),
            "loadavg_at_start": [round(x, 2) for x in load if x is not None], "git_commit": commit}


def seed_body(name: str) -> dict[str, Any]:
    """The body of one of the seed journey's requests (fixtures/seed_journey_1/)."""
    return copy.deepcopy(json.loads((FIXTURES / name).read_text())["body"])


def complete_legs_body() -> dict[str, Any]:
    """The seed's 4 legs (03_add_legs.json) with the selection values the seed leaves out."""
    body = seed_body("03_add_legs.json")
    for leg in body["legs"]:
        leg["strike_selection_config"] = COMPLETE_SELECTION[leg["leg_no"]]
    return body


def allocations_body(client_ids: tuple[str, str]) -> dict[str, Any]:
    """The seed's leg-level allocations (04) to two accounts of the caller."""
    body = seed_body("04_leg_level_allocations.json")
    for allocation, client_id in zip(body["allocations"], client_ids):
        allocation["client_id"] = client_id
    return body


@contextmanager
def moto_tables() -> Iterator[tuple[Any, Any]]:
    """In-process moto with the platform's two tables (same definitions as the CDK stack).
    Yields (env_config, repos)."""
    fake_aws_environment()
    import boto3
    from moto import mock_aws

    from shared_utils.config import load_environment
    from shared_utils.persistence.repositories import Repositories
    from shared_utils.persistence.table import reset_clients
    from shared_utils.persistence.table_schema import broker_accounts_create_table_kwargs, create_table_kwargs

    env = load_environment("local")
    reset_clients()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-south-1")
        client.create_table(**create_table_kwargs(env.table_name))
        client.create_table(**broker_accounts_create_table_kwargs(env.broker_accounts_table_name))
        yield env, Repositories.for_environment(env, client)
    reset_clients()


class SwitchClock:
    """A clock whose source can be swapped (the harness moves the real-time OffsetClock so the
    state machine's Wait ends exactly when the harness is ready), and which records every
    ``sleep_until`` call: (seconds late when the caller ARRIVED at its sleep, target)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.arrivals: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return self.inner.now()

    def sleep_until(self, instant: datetime) -> None:
        late_s = (self.inner.now() - instant).total_seconds()
        with self._lock:
            self.arrivals.append(late_s)
        self.inner.sleep_until(instant)


def seeded_latency(low_s: float, high_s: float, seed: int) -> Callable[[], float]:
    """A thread-safe random round trip in [low_s, high_s] seconds, reproducible by ``seed``."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def draw() -> float:
        with lock:
            return rng.uniform(low_s, high_s)

    return draw


def engine_context(repos: Any, env: Any, clock: Any, latency: float | Callable[[], float] = 0.0) -> Any:
    """An EngineContext like tests/functional/engine/conftest.py: the 2026-08-18 instrument
    extract, the calendar, a seeded market simulator, paper brokers with ``latency`` (seconds)."""
    from shared_utils.execution.clients import PaperClientProvider, RoutingClientProvider
    from shared_utils.execution.context import EngineContext, SimulatorMarketData
    from shared_utils.execution.events import InMemoryPublisher
    from shared_utils.market.calendar import default_calendar
    from shared_utils.market.simulator import MarketSimulator
    from shared_utils.services.market_data import instrument_master

    master = instrument_master()
    simulator = MarketSimulator(master, seed=17, spots={"NIFTY": Decimal("24850"), "SENSEX": Decimal("81200")},
                                clock=clock)
    market = SimulatorMarketData(simulator)
    paper = PaperClientProvider(market.ltp, master, now=clock.now, latency_s=latency)
    ctx = EngineContext(repos=repos, env=env, clock=clock, calendar=default_calendar(), master=master, market=market,
                        clients=RoutingClientProvider(paper), publisher=InMemoryPublisher())
    ctx.paper = paper  # type: ignore[attr-defined]
    return ctx


def create_users(repos: Any, env: Any, users: int, strategies_per_user: int, clock: Any,
                 entry_time: str = "09:30", prefix: str = "u") -> list[tuple[str, tuple[str, str], list[str]]]:
    """``users`` users, each with 2 linked PAPER accounts, one basket and ``strategies_per_user``
    copies of the seed iron condor (4 legs, leg-level allocations to both accounts), built through
    the OptionsService (validation included, no HTTP). Returns [(user_id, client_ids, strategy_ids)]."""
    from shared_utils.models.allocation import AdvancedAllocationRequest
    from shared_utils.models.basket import BasketCreate
    from shared_utils.models.broker_account import BrokerAccount
    from shared_utils.models.leg import LegsCreate
    from shared_utils.models.strategy import StrategySpec
    from shared_utils.services.options import OptionsService

    service = OptionsService(repos, env, clock=clock)
    basket_body = BasketCreate.model_validate(seed_body("01_create_basket.json"))
    legs_body = LegsCreate.model_validate(complete_legs_body())
    created = []
    for index in range(users):
        user_id = f"{prefix}{index:05d}"
        client_ids = (f"Z{prefix.upper()}{index:05d}", f"A{prefix.upper()}{index:05d}")
        repos.accounts.create(BrokerAccount(user_id=user_id, client_id=client_ids[0], broker="zerodha"))
        repos.accounts.create(BrokerAccount(user_id=user_id, client_id=client_ids[1], broker="angel"))
        basket = service.create_basket(user_id, basket_body)
        allocations = AdvancedAllocationRequest.model_validate(allocations_body(client_ids))
        strategy_ids = []
        for number in range(strategies_per_user):
            spec = seed_body("02_create_strategy.json")
            spec.update(strategy_name=f"{spec['strategy_name']} #{number + 1}", entry_time=entry_time)
            strategy = service.create_strategy(user_id, basket.basket_id, StrategySpec.model_validate(spec))
            service.add_legs(user_id, strategy.strategy_id, legs_body)
            service.add_advanced_allocations(user_id, strategy.strategy_id, allocations)
            strategy_ids.append(strategy.strategy_id)
        created.append((user_id, client_ids, strategy_ids))
    return created


@contextmanager
def fast_moto_transactions() -> Iterator[None]:
    """Bench SETUP only: moto's TransactWriteItems deep-copies the whole table before every
    transaction (a rollback backup), which makes loading N strategies O(N^2) (measured: 0.25 s
    per transaction at 20 users, growing). Inside this block the backup is skipped (a failed
    transaction would then not roll back; setup expects none). The engine's steps use no
    transactions; nothing measured runs inside this block."""
    import copy as _copy

    from moto.dynamodb import models as _models

    class _Shim:
        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if isinstance(value, _models.Table):
                return value
            return _copy.deepcopy(value, memo)

    saved = _models.copy
    _models.copy = _Shim  # type: ignore[assignment]
    try:
        yield
    finally:
        _models.copy = saved


_PARTITION = threading.local()


@contextmanager
def fast_moto_queries() -> Iterator[None]:
    """moto 5's base-table Query walks ``Table.all_items()``, which SORTS EVERY ITEM OF THE TABLE
    on every Query (O(n log n) in the table size: 69 ms per Query at 20 users, seconds at 10,000),
    then keeps the partition. DynamoDB reads only the partition. Inside this block a base-table
    Query (no IndexName) sees only its own partition's items, sorted the same way: same results,
    same order, same pages; GSI queries are untouched (they still scan, as moto does). This makes
    moto's cost per request roughly constant, closer to DynamoDB's, and keeps the benchmarks
    inside their time budget. Applied to every engine and discovery measure; stated in
    BENCHMARKS.md."""
    from moto.dynamodb.models.table import Table

    original_query, original_all = Table.query, Table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if index_name:
            return original_query(self, hash_key, *args, **kwargs)
        _PARTITION.key = hash_key
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _PARTITION.key = None

    def all_items(self: Any) -> list[Any]:
        key = getattr(_PARTITION, "key", None)
        if key is None or not self.range_key_attr:
            return original_all(self)
        return sorted(self.items.get(key, {}).values(), key=lambda x: x.range_key)

    Table.query, Table.all_items = query, all_items  # type: ignore[method-assign]
    restore_transact = _cheap_moto_transactions()
    try:
        yield
    finally:
        Table.query, Table.all_items = original_query, original_all  # type: ignore[method-assign]
        restore_transact()


def _cheap_moto_transactions() -> Any:
    """moto 5's TransactWriteItems deep-copies the WHOLE table once per operation (its rollback
    copy): ~0.7 s per transaction at 2,000 items, growing with the table. Every fill is booked
    with its position in one transaction (shared_utils.execution.booking), so at the benchmark's
    size that copy, not the engine, would dominate. For transactions without Update operations
    (the platform's are Put/Delete/ConditionCheck, which REPLACE items, never mutate them) the
    rollback copy is made of the table's partition dicts only, holding the same Item objects:
    same results, same rollback. Returns the function that restores moto."""
    from collections import defaultdict

    from moto.dynamodb import models as ddb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    real_copy = ddb_models.copy
    original = DynamoDBBackend.transact_write_items

    class _RollbackCopy:
        copy = staticmethod(real_copy.copy)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if isinstance(value, Table):
                snapshot = real_copy.copy(value)
                snapshot.items = defaultdict(dict, {h: (dict(p) if isinstance(p, dict) else p)
                                                    for h, p in value.items.items()})
                return snapshot
            return real_copy.deepcopy(value, memo)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if any("Update" in op for op in transact_items):
            return original(self, transact_items)
        ddb_models.copy = _RollbackCopy
        try:
            return original(self, transact_items)
        finally:
            ddb_models.copy = real_copy

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]

    def restore() -> None:
        DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]

    return restore
