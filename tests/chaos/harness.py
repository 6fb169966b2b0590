"""The fault-injection harness (issue 13, "Proof"): whole trading days through the engine
against paper brokers whose own order books are the truth, with faults injected at every step
boundary, and the invariants I1-I8 checked after each day.

One day (``play_day(seed, faults)``):

- a fresh pair of moto tables (``mock_aws`` in-process, started once per worker process);
- 1-2 copies of the seed's iron condor (journey 1) created through the real API handlers, with
  seeded entry/exit slots, product, partial-fill policy, per-leg targets and MTM limits, two
  PAPER accounts each;
- the engine driven as the local platform drives it: the emitter at each scheduled tick, every
  "Strategy Execution Due" through ``runner.run_state_machine``, "Execution Completed" through
  the order poller, and each minute's order poller + stop-loss checker; manual exits, pause,
  delete and kill switches through the API/repositories at seeded minutes; prices shocked at
  seeded minutes so stops, targets and MTM limits trigger;
- faults (``Fault``), each fired at most once, from a seeded schedule: a crash at the n-th
  table write of a step (the process dies: every later table or broker call of that step
  fails too; the platform's retry runs the step again), lost broker answers (accepted, answer
  lost), 429 / 503 / timeouts before acting, RMS rejections, late / partial fills and late
  rejections, lost / late / duplicate emitter ticks, duplicate "Execution Due" delivery (at once,
  or minutes later after the original ran), late state-machine starts, PlaceOrders throttled (Map retry) or run twice, kill switches set
  during the Wait;
- a settle phase without faults (three more minutes of the per-minute jobs), then the checks.

Quantities are units, prices Decimal rupees, instants aware (IST for market logic).
"""

from __future__ import annotations

import os
import random
import sys
import traceback
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any, Callable

DAY = date(2026, 8, 17)  # Monday; the bundled instrument extract is of 2026-08-18
USER = "chaos-user"
ACCOUNTS = (("ZERODHA123", "zerodha"), ("ANGELONE456", "angel"))
#: policy defaults the checks use (README "Safety"; h13a chooses the final numbers)
MAX_ENTRY_DELAY_MS = int(os.environ.get("CHAOS_MAX_ENTRY_DELAY_MS", "5000"))
#: the issue's reproduction of item 9: accepted lots that no platform limit should allow
ABSURD_LOTS = 10_000

FINAL = {"FILLED", "REJECTED", "CANCELLED", "NOT_SENT"}
NOT_ACCEPTED = {"REJECTED", "NOT_SENT", "UNKNOWN", "PENDING", "SENT"}


class InjectedCrash(Exception):
    """The process died here (injected). Not a BrokerError: nothing in the engine expects it."""


def ist(hhmm: str, second: int = 0) -> datetime:
    from shared_utils.clock import IST

    h, m = (int(x) for x in hhmm.split(":"))
    return datetime(DAY.year, DAY.month, DAY.day, h, m, second, tzinfo=IST)


def hhmm(instant: datetime) -> str:
    from shared_utils.clock import to_ist

    return to_ist(instant).strftime("%H:%M")


# ============================================================================ faults

@dataclass(frozen=True)
class Fault:
    """One fault: ``kind`` at ``where`` (a step label or a broker call kind), the ``n``-th
    occurrence there, with an ``arg`` (meaning per kind)."""

    kind: str
    where: str
    n: int = 0
    arg: int = 0

    def __str__(self) -> str:
        return f"{self.kind}@{self.where}#{self.n}({self.arg})"


BROKER_ERRORS = {0: "429 rate limited", 1: "503 unavailable", 2: "accepted, answer lost",
                 3: "timeout before acting", 4: "RMS rejection"}


def random_faults(seed: int) -> list[Fault]:
    """The seeded fault schedule of one day (independent of the scenario's random draws, so a
    schedule can be shrunk and replayed)."""
    rng = random.Random(seed * 7919 + 17)
    faults: list[Fault] = []
    steps = ["sm:ENTRY", "sm:EXIT", "poller", "stops", "duplicates"]
    for _ in range(rng.randint(0, 3)):
        faults.append(Fault("crash_write", rng.choice(steps), rng.randint(1, 24)))
    for _ in range(rng.randint(0, 3)):
        faults.append(Fault("broker", "place", rng.randint(0, 14), rng.choice([0, 0, 1, 2, 2, 3, 4])))
    if rng.random() < 0.3:
        faults.append(Fault("broker", "cancel", rng.randint(0, 6), rng.choice([1, 2, 3])))
    if rng.random() < 0.3:
        faults.append(Fault("broker", rng.choice(["book", "positions"]), rng.randint(0, 10), 1))
    for _ in range(rng.randint(0, 2)):
        faults.append(Fault("fill", rng.choice(["late", "partial", "reject"]), rng.randint(0, 10), rng.randint(1, 4)))
    if rng.random() < 0.25:
        faults.append(Fault("tick_lost", rng.choice(["ENTRY", "EXIT"]), 0, rng.randint(1, 3)))
    if rng.random() < 0.2:
        faults.append(Fault("tick_late", rng.choice(["ENTRY", "EXIT"]), 0, rng.choice([20, 57, 100])))
    if rng.random() < 0.2:
        faults.append(Fault("tick_dup", rng.choice(["ENTRY", "EXIT"])))
    if rng.random() < 0.25:
        faults.append(Fault("dup_event", rng.choice(["sm:ENTRY", "sm:EXIT"])))
    if rng.random() < 0.15:
        faults.append(Fault("late_start", rng.choice(["sm:ENTRY", "sm:EXIT"]), 0, rng.choice([8, 40])))
    if rng.random() < 0.15:
        faults.append(Fault("late_event", "sm:ENTRY"))
    if rng.random() < 0.25:
        faults.append(Fault("throttle", rng.choice(["sm:ENTRY", "sm:EXIT"]), rng.randint(0, 1)))
    if rng.random() < 0.25:
        faults.append(Fault("retry_place", rng.choice(["sm:ENTRY", "sm:EXIT"]), rng.randint(0, 1)))
    if rng.random() < 0.15:
        faults.append(Fault("kill", rng.choice(["global", "user", "account"]), 0, rng.choice([1, 30, -120])))
    return faults


class World:
    """The fault plan of the running day and the per-step state (what step runs, how many
    writes and broker calls it made, whether its process is dead)."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.fired: list[Fault] = []
        self.enabled = True
        self.step = "setup"
        self.dead = False
        self.writes = 0
        self.counters: dict[str, int] = defaultdict(int)
        #: harness self-test only: a deliberate defect ("double_send", "drop_positions") the
        #: checks must catch (tests/chaos/test_chaos.py proves they are not vacuous)
        self.mutation: str | None = None

    def begin(self, step: str) -> None:
        self.step, self.dead, self.writes = step, False, 0
        self.counters["place_items"] = 0

    def end(self) -> None:
        self.step, self.dead = "idle", False

    def take(self, kind: str, where: str, n: int | None = None) -> Fault | None:
        """The unfired fault matching (kind, where[, n]), marked fired; else None."""
        if not self.enabled:
            return None
        for fault in self.faults:
            if fault.kind == kind and fault.where == where and (n is None or fault.n == n) and fault not in self.fired:
                self.fired.append(fault)
                return fault
        return None

    def alive(self) -> None:
        if self.dead:
            raise InjectedCrash(f"process of {self.step} is dead")

    def on_write(self) -> None:
        self.alive()
        self.writes += 1
        if self.take("crash_write", self.step, self.writes):
            self.dead = True
            raise InjectedCrash(f"crash before write {self.writes} of {self.step}")


_WRITES = {"put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"}
_READS = {"get_item", "query", "batch_get_item", "scan", "transact_get_items"}


def _is_position(item: dict[str, Any] | None) -> bool:
    return bool(item) and str(item.get("sort_key", {}).get("S", "")).startswith("POSITION#")


def _without_positions(name: str, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """The "drop_positions" mutation: the write without its position items (None: nothing left)."""
    if name == "put_item":
        return None if _is_position(kwargs.get("Item")) else kwargs
    if name in ("update_item", "delete_item"):
        return None if _is_position(kwargs.get("Key")) else kwargs
    if name == "transact_write_items":
        ops = [op for op in kwargs["TransactItems"]
               if not _is_position(next(iter(op.values())).get("Item") or next(iter(op.values())).get("Key"))]
        return {**kwargs, "TransactItems": ops} if ops else None
    if name == "batch_write_item":
        items = {t: [r for r in reqs if not _is_position((r.get("PutRequest") or r.get("DeleteRequest") or {}).get("Item")
                                                          or (r.get("DeleteRequest") or {}).get("Key"))]
                 for t, reqs in kwargs["RequestItems"].items()}
        items = {t: reqs for t, reqs in items.items() if reqs}
        return {**kwargs, "RequestItems": items} if items else None
    return kwargs


class CrashingClient:
    """A DynamoDB client proxy: counts the step's writes and crashes at the chosen one."""

    def __init__(self, inner: Any, world: World) -> None:
        self._inner, self._world = inner, world

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name in _WRITES:
            def write(*a, **k):
                self._world.on_write()
                if self._world.mutation == "drop_positions":
                    k = _without_positions(name, k)
                    if k is None:
                        return {}
                return attr(*a, **k)
            return write
        if name in _READS:
            def read(*a, **k):
                self._world.alive()
                return attr(*a, **k)
            return read
        return attr


# ============================================================================ clock and market

class ChaosClock:
    """A FixedClock with callbacks at instants (kill switches set during the Wait)."""

    def __init__(self, start: datetime) -> None:
        from shared_utils.clock import FixedClock

        self._clock = FixedClock(start)
        self._at: list[tuple[datetime, Callable[[], None]]] = []

    def now(self) -> datetime:
        return self._clock.now()

    def at(self, instant: datetime, action: Callable[[], None]) -> None:
        self._at.append((instant, action))
        self._fire()

    def _fire(self) -> None:
        now = self._clock.now()
        due = [(t, a) for t, a in self._at if t <= now]
        self._at = [(t, a) for t, a in self._at if t > now]
        for _, action in sorted(due, key=lambda x: x[0]):
            action()

    def set(self, instant: datetime) -> None:
        """Move to ``instant`` (never backwards)."""
        self.sleep_until(instant)

    def advance(self, delta: timedelta) -> None:
        self.sleep_until(self.now() + delta)

    def sleep_until(self, instant: datetime) -> None:
        pending = sorted((t for t, _ in self._at if t <= instant))
        for t in pending:  # stop at each callback's instant so it sees its own time
            self._clock.sleep_until(t)
            self._fire()
        self._clock.sleep_until(instant)
        self._fire()


class ChaosMarket:
    """The simulator's quotes times a per-option-type factor (``CE``/``PE``) the day script
    moves, so stops, targets and MTM limits trigger. Rupees on the tick, at least one tick."""

    def __init__(self, simulator: Any) -> None:
        self.simulator = simulator
        self.factor = {"CE": Decimal(1), "PE": Decimal(1)}

    def _scale(self, contract: Any, value: Decimal | None) -> Decimal | None:
        if value is None:
            return None
        factor = self.factor.get(contract.option_type or "", Decimal(1))
        if factor == 1:
            return value
        tick = contract.tick_size
        return max(tick, ((value * factor) / tick).to_integral_value(ROUND_CEILING) * tick)

    def chain(self, underlying: str, expiry: date, at: datetime | None = None) -> Any:
        return self.simulator.chain(underlying, expiry, at)

    def quote(self, contract: Any, at: datetime | None = None) -> Any:
        q = self.simulator.quote(contract, at)
        return replace(q, ltp=self._scale(contract, q.ltp), bid=self._scale(contract, q.bid),
                       ask=self._scale(contract, q.ask))

    def ltp(self, exchange: str, tradingsymbol: str) -> Decimal:
        contract = self.simulator.master.by_symbol(exchange, tradingsymbol)
        return self.quote(contract).ltp


# ============================================================================ brokers

def make_broker_class():
    from shared_utils.brokers.errors import BrokerUnavailable, OrderRejected, OutcomeUnknown, RateLimited
    from shared_utils.brokers.paper import PaperBroker
    from shared_utils.clock import IST
    from shared_utils.models.enums import OrderStatus, OrderType, TransactionType

    class ChaosBroker(PaperBroker):
        """A paper account whose calls fail as the fault plan says, and whose fills can come
        late, in part, or turn into a late rejection. Its book is the truth."""

        def __init__(self, world: World, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            self.world = world
            self.holds: dict[str, tuple[str, datetime]] = {}

        def _fault(self, kind: str) -> Fault | None:
            self.world.alive()
            n = self.world.counters[kind]
            self.world.counters[kind] += 1
            return self.world.take("broker", kind, n)

        def place_order(self, request):
            fault = self._fault("place")
            n = self.world.counters["place"] - 1
            if fault is not None:
                if fault.arg == 0:
                    raise RateLimited("chaos: 429", broker=self.broker, code="429", http_status=429)
                if fault.arg == 1:
                    raise BrokerUnavailable("chaos: 503", broker=self.broker, code="503", http_status=503)
                if fault.arg == 2:
                    super().place_order(request)
                    raise OutcomeUnknown("chaos: read timeout after sending", broker=self.broker, tag=request.tag)
                if fault.arg == 3:
                    raise OutcomeUnknown("chaos: timeout, request never arrived", broker=self.broker, tag=request.tag)
                raise OrderRejected("chaos: RMS", broker=self.broker, broker_message="RMS: margin exceeds limit")
            if self.world.mutation == "double_send":
                super().place_order(request)
            for kind in ("late", "partial", "reject"):
                hold = self.world.take("fill", kind, n)
                if hold is not None and request.order_type in (OrderType.LIMIT, OrderType.MARKET):
                    self.holds[request.tag] = (kind, self._now() + timedelta(minutes=hold.arg))
                    break
            return super().place_order(request)

        def cancel_order(self, order_id):
            fault = self._fault("cancel")
            if fault is not None:
                if fault.arg == 2:
                    super().cancel_order(order_id)
                    raise OutcomeUnknown("chaos: cancel answer lost", broker=self.broker)
                if fault.arg == 3:
                    raise OutcomeUnknown("chaos: cancel timed out", broker=self.broker)
                raise BrokerUnavailable("chaos: 503 on cancel", broker=self.broker, http_status=503)
            return super().cancel_order(order_id)

        def modify_order(self, request):
            self.world.alive()
            return super().modify_order(request)

        def order_book(self):
            if self._fault("book") is not None:
                raise BrokerUnavailable("chaos: order book 503", broker=self.broker, http_status=503)
            return super().order_book()

        def positions(self):
            if self._fault("positions") is not None:
                raise BrokerUnavailable("chaos: positions 503", broker=self.broker, http_status=503)
            return super().positions()

        # ---- fills --------------------------------------------------------------------
        def _marketable(self, req) -> Decimal | None:
            ltp = Decimal(str(self._md.ltp(req.exchange.value, req.tradingsymbol)))
            buy = req.transaction_type is TransactionType.BUY
            limit = req.price if req.order_type in (OrderType.LIMIT, OrderType.SL) else None
            if limit is not None and not (limit >= ltp if buy else limit <= ltp):
                return None
            return ltp

        def _fill_rest(self, order_id: str) -> None:
            rep, req = self._orders[order_id], self._requests[order_id]
            ltp = self._marketable(req)
            if ltp is None:
                return
            rest = req.quantity - rep.filled_quantity
            price = self._fill_price(req, ltp)
            now = self._now().astimezone(IST)
            average = (rep.average_price * rep.filled_quantity + price * rest) / req.quantity
            self._orders[order_id] = replace(rep, status=OrderStatus.FILLED, filled_quantity=req.quantity,
                                             pending_quantity=0, average_price=average, updated_at=now)
            self._book_trade(replace(req, quantity=rest), price, now, order_id)

        def _try_fill(self, order_id: str) -> None:
            rep, req = self._orders[order_id], self._requests[order_id]
            if rep.is_terminal:
                return
            hold = self.holds.get(req.tag)
            if hold is not None and rep.status is not OrderStatus.TRIGGER_PENDING:
                kind, release_at = hold
                now = self._now()
                if now >= release_at:
                    del self.holds[req.tag]
                    if kind == "reject":
                        self._orders[order_id] = replace(rep, status=OrderStatus.REJECTED, pending_quantity=0,
                                                         message="RMS: rejected after acceptance (chaos)",
                                                         updated_at=now.astimezone(IST))
                        return
                elif kind == "partial" and rep.filled_quantity == 0:
                    lot, _ = self._contract(req.exchange, req.tradingsymbol)
                    lots = req.quantity // lot
                    ltp = self._marketable(req)
                    if lots >= 2 and ltp is not None:
                        part = (lots // 2) * lot
                        price = self._fill_price(req, ltp)
                        self._orders[order_id] = replace(rep, status=OrderStatus.PARTIALLY_FILLED, filled_quantity=part,
                                                         pending_quantity=req.quantity - part, average_price=price,
                                                         updated_at=now.astimezone(IST))
                        self._book_trade(replace(req, quantity=part), price, now.astimezone(IST), order_id)
                    return
                else:
                    return
            if rep.filled_quantity:
                self._fill_rest(order_id)
            else:
                super()._try_fill(order_id)

        def release_due(self) -> None:
            with self._lock:
                for order_id in list(self._orders):
                    self._try_fill(order_id)

    return ChaosBroker


class ChaosClients:
    """ClientProvider: one ChaosBroker per account (PAPER accounts only, as deployed)."""

    def __init__(self, world: World, market: ChaosMarket, master: Any, clock: ChaosClock) -> None:
        self.world, self.market, self.master, self.clock = world, market, master, clock
        self.brokers: dict[str, Any] = {}
        self._cls = make_broker_class()

    def _lookup(self, exchange: str, tradingsymbol: str) -> tuple[int, Decimal]:
        try:
            contract = self.master.by_symbol(exchange, tradingsymbol)
        except Exception as exc:  # noqa: BLE001
            raise KeyError(tradingsymbol) from exc
        return contract.lot_size, contract.tick_size

    def client_for(self, account: Any) -> Any:
        self.world.alive()
        broker = self.brokers.get(account.client_id)
        if broker is None:
            class _Ltp:
                def ltp(_self, exchange, tradingsymbol):  # noqa: N805
                    return self.market.ltp(getattr(exchange, "value", exchange), tradingsymbol)

            broker = self._cls(self.world, _Ltp(), self._lookup, slippage_bps=5, now=self.clock.now,
                               account_id=account.client_id, rate_limiter=_NoLimit())
            self.brokers[account.client_id] = broker
        return broker


class FaultyFakeClient:
    """A real SDK-backed adapter on a protocol fake (Kite / SmartAPI over HTTP), with the fault
    plan applied AT THE FAKE SERVER: the n-th place answers 429 / 503 / 500 (not acted), is
    recorded and then stalls past the client's timeout (acted, answer lost), or 400 (refused);
    cancels and book/position reads answer 503/500. The fake's OrderEngine is the truth."""

    def __init__(self, world: World, inner: Any, server: Any) -> None:
        self.world, self.inner, self.server = world, inner, server

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _fault(self, kind: str) -> Fault | None:
        self.world.alive()
        n = self.world.counters[kind]
        self.world.counters[kind] += 1
        return self.world.take("broker", kind, n)

    def place_order(self, request):
        fault = self._fault("place")
        if fault is not None:
            if fault.arg == 2:
                self.server.faults.stall_after_accept(FAKE_TIMEOUT_S + 0.3)
            else:
                self.server.faults.fail_next({0: 429, 1: 503, 3: 500, 4: 400}[fault.arg])
        return self.inner.place_order(request)

    def cancel_order(self, order_id):
        fault = self._fault("cancel")
        if fault is not None:
            self.server.faults.fail_next(503 if fault.arg == 1 else 500)
        return self.inner.cancel_order(order_id)

    def modify_order(self, request):
        self.world.alive()
        return self.inner.modify_order(request)

    def order_book(self):
        if self._fault("book") is not None:
            self.server.faults.fail_next(503)
        return self.inner.order_book()

    def positions(self):
        if self._fault("positions") is not None:
            self.server.faults.fail_next(503)
        return self.inner.positions()

    def find_order_by_tag(self, tag):
        self.world.alive()
        return self.inner.find_order_by_tag(tag)


#: the SDK clients' timeout on the fakes (a stalled answer waits this long, in real time)
FAKE_TIMEOUT_S = 0.4


class ChaosFakeClients:
    """ClientProvider of the protocol-fake days: ZERODHA123 on the Kite fake through
    kiteconnect, ANGELONE456 on the SmartAPI fake through smartapi-python (LIVE accounts)."""

    def __init__(self, world: World, fakes: Any) -> None:
        self.world, self.fakes = world, fakes
        self.clients: dict[str, FaultyFakeClient] = {}
        self.brokers: dict[str, Any] = {}  # no paper brokers on these days

    def client_for(self, account: Any) -> Any:
        from shared_utils.brokers import create_broker_client
        from shared_utils.brokers.base import BrokerCredentials, BrokerSession

        self.world.alive()
        client = self.clients.get(account.client_id)
        if client is None:
            fakes, broker = self.fakes, account.broker.value
            if broker == "zerodha":
                inner = create_broker_client("zerodha", BrokerCredentials(api_key="kite_key", api_secret="kite_secret"),
                                             BrokerSession(access_token=fakes.kite.access_token), root=fakes.kite.url,
                                             account_id=account.client_id, timeout=FAKE_TIMEOUT_S)
                server = fakes.kite
            else:
                inner = create_broker_client(
                    "angel", BrokerCredentials(api_key="angel_key", client_code="A1", password="1234",
                                               totp_secret=fakes.totp_secret),
                    BrokerSession(access_token=fakes.angel.jwt, refresh_token=fakes.angel.refresh_token),
                    root=fakes.angel.url, account_id=account.client_id, timeout=FAKE_TIMEOUT_S)
                server = fakes.angel
            inner.rate_limiter = _NoLimit()
            client = self.clients[account.client_id] = FaultyFakeClient(self.world, inner, server)
        return client


# ============================================================================ the process

class Process:
    """Per worker process: moto started once, the environment, the instrument master."""

    _instance: "Process | None" = None

    def __init__(self, store: str | None = None) -> None:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        os.environ.setdefault("AWS_DEFAULT_REGION", "ap-south-1")
        os.environ.setdefault("AWS_REGION", "ap-south-1")
        os.environ.setdefault("QL_ENV", "local")
        os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "QlChaos")
        os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "chaos")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")
        import logging

        logging.disable(logging.CRITICAL)
        import boto3
        from moto import mock_aws

        from shared_utils.config import load_environment
        from shared_utils.market.calendar import default_calendar
        from shared_utils.persistence.table import reset_clients
        from shared_utils.services.market_data import instrument_master

        reset_clients()
        _fast_moto_dynamodb()
        self.mock = mock_aws()
        self.mock.start()
        self.env = load_environment("local")
        self.store = store or os.environ.get("CHAOS_STORE", "memory")
        if self.store == "memory":
            from shared_utils.persistence import table as table_module
            from tests.chaos.memory_dynamo import MemoryDynamoDB

            self.client = MemoryDynamoDB()
            table_module.dynamodb_client = lambda *a, **k: self.client  # the API's repositories too
        else:
            self.client = boto3.client("dynamodb", region_name="ap-south-1")
        self.master = instrument_master()
        self.calendar = default_calendar()
        self.world = World()
        self.crashing = CrashingClient(self.client, self.world)
        _install_place_wrapper(self.world)

    @classmethod
    def get(cls, store: str | None = None) -> "Process":
        """The worker's process state; ``store`` "memory" (default, ``CHAOS_STORE``) or "moto"."""
        if cls._instance is None:
            cls._instance = Process(store)
        return cls._instance

    def fresh_tables(self) -> None:
        from shared_utils.persistence.table_schema import broker_accounts_create_table_kwargs, create_table_kwargs

        existing = set(self.client.list_tables()["TableNames"])
        for name in (self.env.table_name, self.env.broker_accounts_table_name):
            if name in existing:
                self.client.delete_table(TableName=name)
        self.client.create_table(**create_table_kwargs(self.env.table_name))
        self.client.create_table(**broker_accounts_create_table_kwargs(self.env.broker_accounts_table_name))


_REAL_PLACE: dict[str, Any] = {}


def _fast_moto_dynamodb() -> None:
    """moto 5.2 serialises every DynamoDB answer by walking botocore's shapes (~50 ms for a
    query of a few orders, 90 % of a day's time). Item answers are already in wire form
    ({"S": ...}) after ``dynamo_to_dict``, so JSON-encode them directly; anything else (bytes,
    datetimes: table descriptions) falls back to moto's serializer. Same bytes on the wire."""
    import json

    from moto.dynamodb.responses import DynamoResult

    if getattr(DynamoResult, "_chaos_fast", False):
        return
    original = DynamoResult.execute_result

    def _refuse(value: Any) -> Any:
        raise TypeError(type(value).__name__)

    def execute_result(self, context):  # noqa: ANN001
        try:
            body = json.dumps(self.result, default=_refuse)
        except TypeError:
            return original(self, context)
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    DynamoResult.execute_result = execute_result
    DynamoResult._chaos_fast = True
    # moto sizes EVERY item of the partition on each query (for the 1 MB page limit, ~40 % of
    # the remaining time); the harness's partitions are a few hundred KB at most, so a cheap
    # estimate keeps the page limit out of reach exactly as the real sizes would
    from moto.dynamodb.models.dynamo_type import Item

    Item.size = lambda self: 128 * len(self.attrs)


class _SimTime:
    """Stands in for the ``time`` module inside the engine's modules: ``sleep`` advances the
    day's simulated clock instead of the process (a 0.3 s reconcile pause costs nothing, and
    simulated time passes as it would)."""

    def __init__(self) -> None:
        import time as real

        self._real = real
        self.clock: ChaosClock | None = None
        #: simulated seconds slept so far: the interval clocks run ahead by it, so a
        #: ``while time.monotonic() < deadline: time.sleep(0.1)`` loop ends as it would for real
        self.slept = 0.0

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept += seconds
            if self.clock is not None:
                self.clock.advance(timedelta(seconds=seconds))

    def monotonic(self) -> float:
        return self._real.monotonic() + self.slept

    def perf_counter(self) -> float:
        return self._real.perf_counter() + self.slept

    def time(self) -> float:
        return self._real.time() + self.slept

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


SIM_TIME = _SimTime()


def _install_sim_time() -> None:
    """Point every loaded engine module's ``time`` at :data:`SIM_TIME` (modules added by other
    helpers included: it runs at each day's start)."""
    import sys
    import time as real

    for name, module in list(sys.modules.items()):
        if name.startswith(("shared_utils.execution", "shared_utils.brokers")) and getattr(module, "time", None) is real:
            module.time = SIM_TIME


class _NoLimit:
    """The paper accounts' rate limiter in the harness: the limiter is not under test and its
    real sleeps would only cost wall time."""

    def acquire(self, *a: Any, **k: Any) -> Any:
        import contextlib

        return contextlib.nullcontext()

    def __getattr__(self, name: str) -> Any:
        import contextlib

        return lambda *a, **k: contextlib.nullcontext()


def _install_place_wrapper(world: World) -> None:
    """Step Functions around PlaceOrders: a throttled invoke (never ran) is retried by the Map's
    Retry; a Lambda that ran but whose result was lost is invoked again (C1: must be safe)."""
    from shared_utils.execution import runner, steps

    for module in (runner, steps):
        real = getattr(module, "place_orders", None)
        if real is None or getattr(real, "_chaos", False):
            continue
        _REAL_PLACE.setdefault(module.__name__, real)

        def wrapped(item, ctx, _real=real):
            world.dead = False  # each branch is its own Lambda invocation
            index = world.counters["place_items"]
            world.counters["place_items"] += 1
            if world.take("throttle", world.step, index):
                ctx.clock.advance(timedelta(milliseconds=500))  # Lambda.TooManyRequestsException, retried
            result = _real(item, ctx)
            if world.take("retry_place", world.step, index):
                result = _real(item, ctx)
            return result

        wrapped._chaos = True  # type: ignore[attr-defined]
        module.place_orders = wrapped
    for module in (runner, steps):
        for name in ("prepare", "resolve", "finalize"):
            real = getattr(module, name, None)
            if real is None or getattr(real, "_chaos", False):
                continue

            def step(*a, _real=real, **k):
                # a Lambda invocation of its own: a crash kills only it, and the state machine's
                # Retry invokes the step again (at most twice more)
                for attempt in range(3):
                    world.dead = False
                    try:
                        return _real(*a, **k)
                    except InjectedCrash:
                        if attempt == 2:
                            raise
                return None

            step._chaos = True  # type: ignore[attr-defined]
            setattr(module, name, step)


# ============================================================================ one day

@dataclass
class Violation:
    invariant: str
    message: str
    item: str = ""

    def __str__(self) -> str:
        return f"{self.invariant}: {self.message}" + (f" [{self.item}]" if self.item else "")


@dataclass
class DayResult:
    seed: int
    faults: list[Fault]
    fired: list[Fault]
    violations: list[Violation] = field(default_factory=list)
    error: str | None = None
    scenario: dict[str, Any] = field(default_factory=dict)


@dataclass
class StrategyPlan:
    strategy_id: str = ""
    entry: str = "09:30"
    exit: str = "09:40"
    product: str = "MIS"
    policy: str = "LEAVE"
    mtm_stop_loss: int | None = None
    targets: dict[int, int] = field(default_factory=dict)


@dataclass
class Scenario:
    strategies: list[StrategyPlan]
    shocks: list[tuple[str, str, Decimal]]  # (HH:MM, CE|PE, factor)
    manual_exit: tuple[int, str] | None = None   # (strategy index, HH:MM)
    pause: tuple[int, str] | None = None
    delete: tuple[int, str] | None = None
    probe_size: bool = False


def random_scenario(seed: int) -> Scenario:
    rng = random.Random(seed)
    plans = []
    for _ in range(rng.choice([1, 1, 2])):
        entry_minute = rng.randint(30, 34)
        exit_minute = entry_minute + rng.randint(4, 12)
        plans.append(StrategyPlan(
            entry=f"09:{entry_minute:02d}", exit=f"09:{exit_minute:02d}" if exit_minute < 60 else f"10:{exit_minute - 60:02d}",
            product=rng.choice(["MIS", "NRML"]), policy=rng.choice(["LEAVE", "COMPLETE", "SQUARE_OFF"]),
            mtm_stop_loss=rng.choice([None, None, 3000, 8000]),
            targets={leg: rng.choice([30, 60]) for leg in (1, 3) if rng.random() < 0.3}))
    first = min(p.entry for p in plans)
    last = max(p.exit for p in plans)
    minutes = _minutes_between(first, last)
    shocks = []
    for _ in range(rng.randint(0, 3)):
        shocks.append((rng.choice(minutes[1:] or minutes), rng.choice(["CE", "PE"]),
                       Decimal(rng.choice(["0.4", "0.7", "1.3", "1.8", "2.5"]))))
    scenario = Scenario(strategies=plans, shocks=sorted(shocks), probe_size=rng.random() < 0.2)
    if rng.random() < 0.25:
        scenario.manual_exit = (rng.randrange(len(plans)), rng.choice(minutes[:4]))
    if rng.random() < 0.2:
        scenario.pause = (rng.randrange(len(plans)), rng.choice(minutes[1:] or minutes))
    if rng.random() < 0.15:
        scenario.delete = (rng.randrange(len(plans)), rng.choice(minutes[1:] or minutes))
    return scenario


def _minutes_between(first: str, last: str) -> list[str]:
    out, t = [], ist(first)
    while t <= ist(last):
        out.append(hhmm(t))
        t += timedelta(minutes=1)
    return out


class Day:
    """One trading day of one seed. ``run()`` returns the DayResult."""

    def __init__(self, seed: int, faults: list[Fault] | None = None, brokers: str = "paper") -> None:
        self.seed = seed
        self.brokers = brokers
        self.fakes: Any = None
        self.scenario = random_scenario(seed)
        self.faults = list(random_faults(seed) if faults is None else faults)
        self.proc = Process.get()
        self.world = self.proc.world
        self.alerts: list[dict[str, Any]] = []
        self.violations: list[Violation] = []
        self.kills: list[tuple[str | None, datetime]] = []  # (user or None=global, since)
        self.late_events: list[dict[str, Any]] = []
        self.run_ids = 0

    # ---- setup ---------------------------------------------------------------------------
    def _setup(self) -> None:
        from lambda_functions.options_platform import common
        from local.apigw import call
        from shared_utils.clock import set_default_clock
        from shared_utils.execution.context import EngineContext
        from shared_utils.execution.events import InMemoryPublisher, set_default_publisher
        from shared_utils.market.simulator import MarketSimulator
        from shared_utils.models.broker_account import BrokerAccount
        from shared_utils.persistence.repositories import Repositories
        from tests.functional.api.journey import complete_legs, run_journey

        proc = self.proc
        proc.fresh_tables()
        common.repositories.cache_clear()
        self.clock = ChaosClock(ist("09:20"))
        set_default_clock(self.clock)
        _install_sim_time()
        SIM_TIME.clock = self.clock
        self.publisher = InMemoryPublisher()
        set_default_publisher(self.publisher)
        simulator = MarketSimulator(proc.master, seed=self.seed % 997, clock=self.clock,
                                    spots={"NIFTY": Decimal(24850), "SENSEX": Decimal(81200)})
        self.market = ChaosMarket(simulator)
        self.clients = ChaosClients(self.world, self.market, proc.master, self.clock)
        self.plain = Repositories.for_environment(proc.env, proc.client)
        repos = Repositories.for_environment(proc.env, proc.crashing)
        self.ctx = EngineContext(repos=repos, env=proc.env, clock=self.clock, calendar=proc.calendar,
                                 master=proc.master, market=self.market, clients=self.clients,
                                 publisher=self.publisher)

        def api(method, path, body=None, user=USER, query=None):
            return call(method, path, body, user_id=user, query=query)

        self.api = api

        def link(user, client_id, broker="paper"):
            self.plain.accounts.create(BrokerAccount(user_id=user, client_id=client_id, broker=broker))

        if self.brokers == "fake":
            from local.fake_brokers import FakeBrokers
            from shared_utils.models.enums import TradingMode

            self.fakes = FakeBrokers(proc.master, lambda contract: self.market.quote(contract).ltp, ["NIFTY"])
            self.clients = ChaosFakeClients(self.world, self.fakes)
            self.ctx.clients = self.clients
            self.ctx.symbol_masters = dict(self.fakes.symbol_masters)
            self.ctx.effective_broker = lambda account: account.broker.value
        for index, plan in enumerate(self.scenario.strategies):
            _, strategy_id = run_journey(api, user=USER, link=link if index == 0 else None)
            if index == 0 and self.brokers == "fake":
                for client_id, _ in ACCOUNTS:
                    account = self.plain.accounts.get(USER, client_id)
                    self.plain.accounts.save(account.model_copy(update={"trading_mode": TradingMode.LIVE}),
                                             account.version)
            complete_legs(api, strategy_id, user=USER)
            body: dict[str, Any] = {"entry_time": plan.entry, "exit_time": plan.exit, "entry_days": ["MONDAY"],
                                    "exit_days": ["MONDAY"], "product": plan.product,
                                    "partial_fill_policy": plan.policy}
            if plan.mtm_stop_loss:
                body["risk"] = {"mtm_stop_loss": plan.mtm_stop_loss}
            status, answer = api("PUT", f"/options/strategies/{strategy_id}", body)
            if status != 200:
                raise RuntimeError(f"setup: PUT strategy {status} {answer}")
            for leg_no, target in plan.targets.items():
                api("PUT", f"/options/strategies/{strategy_id}/legs/{leg_no}", {"target": target})
            plan.strategy_id = strategy_id

    def truth(self, canonical: dict[tuple[str, str], str]) -> dict[str, tuple]:
        """Per account: the broker's own orders, trades and net positions (the truth)."""
        if self.fakes is not None:
            return {client_id: fake_truth(client.server.engine, client_id, canonical)
                    for client_id, client in self.clients.clients.items()}
        return {client_id: paper_truth(broker) for client_id, broker in self.clients.brokers.items()}

    # ---- driving the engine ----------------------------------------------------------------
    def _step(self, label: str, fn: Callable[[], Any], retries: int = 3) -> Any:
        """Run one Lambda-like step; a crash is retried (the platform's retry) up to ``retries``."""
        for _attempt in range(retries + 1):
            self.world.begin(label)
            try:
                return fn()
            except InjectedCrash:
                continue
            finally:
                self.world.end()
        return None

    def _run_due(self, detail: dict[str, Any]) -> None:
        from shared_utils.clock import parse_instant
        from shared_utils.execution.runner import run_state_machine

        label = f"sm:{detail['execution_type']}"
        late = self.world.take("late_start", label)
        if late is not None:
            self.clock.set(parse_instant(detail["execute_at"]) + timedelta(seconds=late.arg))
        self.run_ids += 1
        run_id = f"chaos-{self.seed}-{self.run_ids}"
        # the Map one branch at a time: the fault plan counts calls, so the order must replay
        self._step(label, lambda: run_state_machine(detail, self.ctx, run_id=run_id, max_concurrency=1))
        if self.world.take("dup_event", label):
            self.run_ids += 1
            again = f"chaos-{self.seed}-{self.run_ids}"
            self._step(label, lambda: run_state_machine(detail, self.ctx, run_id=again, max_concurrency=1))
        if self.world.take("late_event", label):
            self.late_events.append(detail)  # delivered again minutes later (replayed by run())

    def _deliver_late_events(self) -> None:
        """A duplicate delivered long after the original ran (EventBridge retries, a replayed
        archive): it must find its execution claimed and send nothing."""
        from shared_utils.execution.runner import run_state_machine

        pending, self.late_events = self.late_events, []
        for detail in pending:
            self.run_ids += 1
            run_id = f"chaos-{self.seed}-{self.run_ids}"
            self._step(f"sm:{detail['execution_type']}",
                       lambda: run_state_machine(detail, self.ctx, run_id=run_id, max_concurrency=1))

    def pump(self) -> None:
        """Deliver the bus's events as the stack's rules do, until it is empty."""
        from shared_utils.execution.events import EXECUTION_COMPLETED, EXECUTION_DUE, ORDER_ALERT
        from shared_utils.execution.order_poller import run_order_poller

        for _ in range(20):
            events = self.publisher.drain()
            if not events:
                return
            for _, detail_type, detail in events:
                if detail_type == EXECUTION_DUE:
                    self._run_due(detail)
                elif detail_type == EXECUTION_COMPLETED:
                    scope = [{"user_id": detail["user_id"], "strategy_id": detail["strategy_id"]}] \
                        if detail.get("user_id") else None
                    self._step("poller", lambda: run_order_poller(self.ctx, scope=scope))
                elif detail_type == ORDER_ALERT:
                    self.alerts.append(detail)

    def tick(self, scheduled: datetime, late_s: int = 0) -> None:
        from shared_utils.execution.emitter import run_emitter

        self.clock.set(scheduled + timedelta(seconds=1 + late_s))
        self._step("emitter", lambda: run_emitter(self.ctx, scheduled_at=scheduled))

    def jobs(self) -> None:
        from shared_utils.execution.order_poller import run_order_poller
        from shared_utils.execution.duplicate_checker import run_duplicate_checker
        from shared_utils.execution.risk_monitor import run_stop_loss_checker

        for broker in self.clients.brokers.values():
            broker.release_due()
        self._step("poller", lambda: run_order_poller(self.ctx))
        self.pump()
        self._step("stops", lambda: run_stop_loss_checker(self.ctx))
        self.pump()
        self._step("duplicates", lambda: run_duplicate_checker(self.ctx))
        self.pump()

    def _kill(self, scope: str, reason: str) -> Callable[[], None] | None:
        """The action that sets a kill switch (global, the user's, or one account's: C3; the
        per-account switch only where the repository offers it). None: not supported here."""
        import inspect

        controls = self.plain.controls
        params = inspect.signature(controls.set_kill_switch).parameters

        def call(**wanted: Any) -> None:
            # C3 may add parameters (client_id, who set it): pass what the repository takes
            extra = {"set_by": "chaos-admin", "who": "chaos-admin", "by": "chaos-admin"}
            kwargs = {k: v for k, v in {**extra, **wanted}.items() if k in params}
            controls.set_kill_switch(True, reason, **kwargs)

        if scope == "account":
            if "client_id" not in params:
                return None
            client_id = ACCOUNTS[0][0]

            def account_action() -> None:
                call(user_id=USER, client_id=client_id)
                self.kills.append((f"{USER}/{client_id}", self.clock.now()))
            return account_action

        user = None if scope == "global" else USER

        def action() -> None:
            call(user_id=user)
            self.kills.append((user, self.clock.now()))
        return action

    def _actions(self, minute: str) -> None:
        s = self.scenario
        for when, kind, factor in s.shocks:
            if when == minute:
                self.market.factor[kind] = factor
        if s.manual_exit and s.manual_exit[1] == minute:
            plan = s.strategies[s.manual_exit[0]]
            self.api("POST", "/options/executions/manual", {"strategy_id": plan.strategy_id, "execution_type": "EXIT"})
            self.pump()
        if s.pause and s.pause[1] == minute:
            plan = s.strategies[s.pause[0]]
            self.api("POST", f"/options/strategies/{plan.strategy_id}/pause")
        if s.delete and s.delete[1] == minute:
            plan = s.strategies[s.delete[0]]
            open_before = [p for p in self.plain.positions.list(USER, plan.strategy_id) if p.quantity]
            status, body = self.api("DELETE", f"/options/strategies/{plan.strategy_id}")
            if status == 200 and open_before:
                self.violations.append(Violation(
                    "I5", f"DELETE of {plan.strategy_id} answered 200 with {len(open_before)} open positions",
                    "item 3 (h13b)"))

    def _probe_size(self) -> None:
        plan = self.scenario.strategies[0]
        status, _ = self.api("PUT", f"/options/strategies/{plan.strategy_id}/legs/1", {"lots": ABSURD_LOTS})
        if status == 200:
            self.violations.append(Violation("I8", f"leg lots {ABSURD_LOTS} accepted by PUT .../legs/1", "item 9 (h13a)"))
            self.api("PUT", f"/options/strategies/{plan.strategy_id}/legs/1", {"lots": 2})

    def _slot_ticks(self, slot: str, kind: str) -> None:
        """The emitter's tick(s) for ``slot`` (scheduled lookahead minutes before it), with lost,
        late and duplicate ticks."""
        from shared_utils.execution.emitter import slot_for, write_marker

        lookahead = self.proc.env.settings.execution_engine.lookahead_minutes
        first = ist(slot) - timedelta(minutes=lookahead)
        # every tick before this one was delivered (and found nothing of ours): the marker says so
        self.world.begin("emitter")
        try:
            write_marker(self.ctx, slot_for(first - timedelta(minutes=1), lookahead), self.clock.now())
        finally:
            self.world.end()
        lost = self.world.take("tick_lost", kind)
        late = self.world.take("tick_late", kind)
        scheduled = first + timedelta(minutes=lost.arg if lost else 0)
        self.tick(scheduled, late.arg if late else 0)
        if self.world.take("tick_dup", kind):
            self.tick(scheduled, 2)
        self.pump()

    def run(self) -> DayResult:
        import uuid

        self.world.faults, self.world.fired, self.world.enabled = list(self.faults), [], True
        self.world.counters.clear()
        result = DayResult(self.seed, list(self.faults), self.world.fired)
        # ids (strategies, runs) from the seed, so a day replays exactly (shrinking, --store moto)
        ids = random.Random(self.seed * 31 + 7)
        real_uuid4 = uuid.uuid4

        def seeded_uuid4() -> uuid.UUID:
            # the platform's ids come from the seed; moto's request ids keep their own source,
            # so a day replays the same ids on either store
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if caller.startswith(("moto", "botocore", "boto3", "werkzeug", "responses")):
                return real_uuid4()
            return uuid.UUID(int=ids.getrandbits(128), version=4)

        uuid.uuid4 = seeded_uuid4
        try:
            self.world.enabled = False
            self._setup()
            if self.scenario.probe_size:
                self._probe_size()
            self.world.enabled = True
            plans = self.scenario.strategies
            for scope in ("global", "user", "account"):
                if self._kill(scope, "") is None:
                    continue
                kill = self.world.take("kill", scope)
                if kill is not None:
                    first_entry = min(ist(p.entry) for p in plans)
                    self.clock.at(first_entry - timedelta(seconds=kill.arg), self._kill(scope, "chaos kill switch"))
            slots = sorted({(p.entry, "ENTRY") for p in plans} | {(p.exit, "EXIT") for p in plans},
                           key=lambda s: s[0])
            first, last = min(p.entry for p in plans), max(p.exit for p in plans)
            ticks_at = defaultdict(list)
            lookahead = self.proc.env.settings.execution_engine.lookahead_minutes
            for slot, kind in slots:
                ticks_at[hhmm(ist(slot) - timedelta(minutes=lookahead))].append((slot, kind))
            # the per-minute jobs run every minute on the platform; the harness runs them at the
            # minutes where something can change (after an entry, a price move, an action, the
            # exit): a minute with nothing new is a no-op for them
            sc = self.scenario
            job_minutes = {hhmm(ist(p.entry) + timedelta(minutes=1)) for p in plans}
            job_minutes |= {hhmm(ist(p.exit) + timedelta(minutes=d)) for p in plans for d in (1, 2)}
            job_minutes |= {m for m, _, _ in sc.shocks}
            job_minutes |= {a[1] for a in (sc.manual_exit, sc.pause, sc.delete) if a}
            for minute in _minutes_between(hhmm(ist(first) - timedelta(minutes=lookahead)), hhmm(ist(last) + timedelta(minutes=3))):
                self.clock.set(ist(minute))
                for slot, kind in ticks_at.get(minute, []):
                    self._slot_ticks(slot, kind)
                self.clock.set(ist(minute, 20))
                self._actions(minute)
                if minute in job_minutes:
                    self.clock.set(ist(minute, 30))
                    self.jobs()
                if self.late_events and minute >= hhmm(ist(first) + timedelta(minutes=3)):
                    self.clock.set(ist(minute, 40))
                    self._deliver_late_events()
                    self.pump()
            # settle: the platform's own recovery, no more faults
            self.world.enabled = False
            end = ist(last) + timedelta(minutes=4)
            for i in range(2):
                self.clock.set(end + timedelta(minutes=i, seconds=30))
                self.jobs()
            self.violations += check_invariants(self)
        except Exception as exc:  # noqa: BLE001 - a harness or engine bug: reported, never hidden
            result.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
        finally:
            uuid.uuid4 = real_uuid4
            self.world.enabled = False
            self.world.end()
            if self.fakes is not None:
                self.fakes.stop()
        result.violations = self.violations
        result.fired = list(self.world.fired)
        result.scenario = {"strategies": [(p.entry, p.exit, p.product, p.policy) for p in self.scenario.strategies]}
        return result


def _trader_has_mfa() -> None:
    """The harness's trader has TOTP MFA (issue 16 gates LIVE allocations on it): the protocol-fake
    days trade LIVE accounts, and what is checked here is the engine, not the MFA gate (that is
    tests/functional/egress and the auth-broker tests)."""
    from shared_utils.accounts.mfa import MfaChecker

    MfaChecker.check = lambda self, claims, action: None  # type: ignore[method-assign]


def play_day(seed: int, faults: list[Fault] | None = None, brokers: str = "paper",
             mutation: str | None = None) -> DayResult:
    """One seeded day; ``brokers`` "paper" (the paper broker) or "fake" (the protocol fakes
    through the real SDKs; fill faults do not apply there). ``mutation``: harness self-test."""
    world = Process.get().world
    world.mutation = mutation
    _trader_has_mfa()
    try:
        return Day(seed, faults, brokers).run()
    finally:
        world.mutation = None


# ============================================================================ invariants

def _records(day: Day) -> list[Any]:
    from shared_utils.models.enums import ExecutionType
    from shared_utils.persistence import keys

    out = []
    for plan in day.scenario.strategies:
        for kind in ExecutionType:
            out.extend(day.plain.orders.list_for_execution(USER, keys.execution_id(plan.strategy_id, kind, DAY)))
    return out


def _cover_key(day: Day, symbol: str) -> tuple[str, str, str] | None:
    try:
        contract = day.proc.master.by_symbol("NFO", symbol)
    except Exception:  # noqa: BLE001
        return None
    return (contract.underlying, str(contract.expiry), str(contract.option_type or ""))


@dataclass
class TruthOrder:
    """One order as the broker's own book has it (platform status vocabulary)."""

    order_id: str
    tag: str
    status: str
    filled: int
    terminal: bool
    placed_at: datetime | None


def owner_symbols(records: list[Any]) -> dict[tuple[str, str], str]:
    """(client_id, broker symbol) -> canonical (Kite) symbol, from the platform's orders."""
    return {(r.client_id, r.broker_tradingsymbol or r.tradingsymbol): r.tradingsymbol for r in records}


def paper_truth(broker: Any) -> tuple[list[TruthOrder], list[tuple[str, str, str, int]], dict[str, int]]:
    """(orders, trades in order as (tag, symbol, side, units), net units per symbol) of a
    ChaosBroker, read from its internals (no injected fault applies)."""
    orders = [TruthOrder(r.order_id, r.tag or "", r.status.value, r.filled_quantity, r.is_terminal, r.placed_at)
              for r in broker._orders.values()]
    trades = [(broker._requests[t["order_id"]].tag or "", t["tradingsymbol"], t["transaction_type"].value,
               t["quantity"]) for t in broker.trades]
    positions: dict[str, int] = defaultdict(int)
    for (_, symbol, _), position in broker._positions.items():
        positions[symbol] += position.qty
    return orders, trades, dict(positions)


_FAKE_STATUS = {"COMPLETE": "FILLED", "OPEN": "OPEN", "TRIGGER_PENDING": "TRIGGER_PENDING",
                "CANCELLED": "CANCELLED", "REJECTED": "REJECTED",
                # accepted, not yet at the exchange (the fakes fill asynchronously, as brokers do):
                # still working, so the truth counts it as an open order
                "PENDING": "OPEN"}


def fake_truth(engine: Any, client_id: str, canonical: dict[tuple[str, str], str]
               ) -> tuple[list[TruthOrder], list[tuple[str, str, str, int]], dict[str, int]]:
    """The same from a protocol fake's OrderEngine (its symbols mapped back to Kite's)."""
    def sym(symbol: str) -> str:
        return canonical.get((client_id, symbol), symbol)

    engine.match()  # orders whose exchange latency has passed move on before the truth is read
    with engine.lock:
        orders = [TruthOrder(o.order_id, o.tag, _FAKE_STATUS.get(o.status, o.status), o.filled,
                             o.status in ("COMPLETE", "CANCELLED", "REJECTED"), None) for o in engine.orders.values()]
        trades = [(engine.orders[t["order_id"]].tag, sym(t["tradingsymbol"]), t["side"], t["quantity"])
                  for t in engine.trades]
    positions: dict[str, int] = defaultdict(int)
    for _tag, symbol, side, quantity in trades:
        positions[symbol] += quantity if side == "BUY" else -quantity
    return orders, trades, dict(positions)


def _context(day: Day, strategy_id: str | None) -> str:
    """The issue item a left-open position or working order points to, from what the day did
    to its strategy: paused or deleted (item 3), a manual exit (item 2), else the exit path."""
    from shared_utils.models.enums import ExecutionType

    s = day.scenario
    for action, item in ((s.delete, "item 3 (h13b): deleted with open positions"),
                         (s.pause, "item 3 (h13b): paused strategy lost its exit")):
        if action and s.strategies[action[0]].strategy_id == strategy_id:
            return item
    if strategy_id:
        execution = day.plain.executions.get(USER, strategy_id, ExecutionType.EXIT, DAY)
        if execution is not None and execution.status.value == "SKIPPED":
            return "item 2 (h13b): an exit that found nothing consumed the day's exit"
    return "item 6 (h13b): exit did not finish"


def check_invariants(day: Day) -> list[Violation]:
    """I1-I8 against the brokers' own books (the truth) and the platform's records. Each
    violation names the issue item it matches (empty: no known item, a new finding)."""
    from shared_utils.clock import to_ist
    from shared_utils.execution.placer import KILL_SWITCH_READ_LEAD_MS
    from shared_utils.models.enums import ExecutionType

    v: list[Violation] = []
    records = _records(day)
    by_tag = {r.tag: r for r in records}
    owner = {(r.client_id, r.tradingsymbol): r.strategy_id for r in records}
    for client_id, (book, trades, broker_qty) in sorted(day.truth(owner_symbols(records)).items()):
        # I1 at most once
        tags = defaultdict(int)
        for report in book:
            tags[report.tag] += 1
        for tag, count in tags.items():
            if count > 1:
                record = by_tag.get(tag)
                v.append(Violation("I1", f"{client_id}: order tag {tag} ({record.order_key if record else '?'}) "
                                         f"reached the broker {count} times"))
        # I2: every broker order is one the platform knows, in the state the broker says
        for report in book:
            record = by_tag.get(report.tag)
            if record is None:
                v.append(Violation("I2", f"{client_id}: broker order {report.order_id} tag {report.tag} has no record"))
                continue
            if report.terminal and (record.status.value != report.status or record.filled_quantity != report.filled):
                v.append(Violation("I4", f"{client_id} {record.order_key}: record {record.status.value} "
                                         f"{record.filled_quantity} vs broker {report.status} {report.filled}",
                                   "item 4 (h13a/h13b): a fill the records never booked"))
            # when it reached the broker: the broker's stamp (paper: the day's clock), else the
            # platform's own sent_at (the protocol fakes stamp the machine's clock)
            sent = report.placed_at or record.sent_at
            # I6 late is refused (entries)
            if record.purpose.value == "ENTRY" and sent and record.execute_at:
                late_ms = (sent - record.execute_at).total_seconds() * 1000
                if late_ms > MAX_ENTRY_DELAY_MS + 1000:
                    v.append(Violation("I6", f"{client_id} {record.order_key}: entry sent {late_ms:.0f} ms after "
                                             f"execute_at (limit {MAX_ENTRY_DELAY_MS})", "item 7 (h13a)"))
            # I7 stop means stop. The placer reads the switches KILL_SWITCH_READ_LEAD_MS before the
            # entry's second (so the read adds nothing to the send's lag) and again immediately
            # before the shorts and before every completion: a switch set inside that lead stops
            # the shorts but not the hedges (BUY, attempt 0) leaving on the second (README Safety,
            # "kill switch read"). Anything else sent after a switch is a violation.
            if record.purpose.value == "ENTRY" and sent:
                for who, since in day.kills:
                    in_lead = (record.transaction_type.value == "BUY" and record.attempt == 0 and record.execute_at
                               and since >= record.execute_at - timedelta(milliseconds=KILL_SWITCH_READ_LEAD_MS)
                               and sent <= record.execute_at + timedelta(seconds=1))
                    if who in (None, record.user_id, f"{record.user_id}/{record.client_id}") and sent >= since \
                            and not in_lead:
                        v.append(Violation("I7", f"{client_id} {record.order_key}: entry sent at "
                                                 f"{to_ist(sent):%H:%M:%S} after the "
                                                 f"{'global' if who is None else 'account' if '/' in who else 'user'} kill switch "
                                                 f"({to_ist(since):%H:%M:%S})", "item 8 (h13a)"))
        # I3 no naked short: replay the broker's trades, per strategy. I3 is about a strategy's
        # own legs ("that account's BUY hedges of the same execution", "the shorts it
        # protects"): a long covers the shorts of its strategy. Netting every strategy of the
        # account together would blame one strategy's exit for the short another strategy left
        # uncovered (e.g. by a stop the trader set on its hedge: stop trades are the trader's
        # configuration and not checked here), and would let one strategy's hedge excuse another
        # strategy's unhedged entry.
        held: dict[tuple, dict[str, int]] = defaultdict(lambda: {"long": 0, "short": 0})
        net: dict[tuple[str | None, str], int] = defaultdict(int)
        for tag, symbol, side, quantity in trades:
            record = by_tag.get(tag)
            strategy = record.strategy_id if record is not None else None
            cover = _cover_key(day, symbol)
            key = (strategy, *cover) if cover else None
            signed = quantity if side == "BUY" else -quantity

            def uncovered() -> int:
                return max(0, held[key]["short"] - held[key]["long"]) if key else 0

            before = uncovered()
            old = net[(strategy, symbol)]
            net[(strategy, symbol)] += signed
            if key:
                held[key]["long"] += max(net[(strategy, symbol)], 0) - max(old, 0)
                held[key]["short"] += max(-net[(strategy, symbol)], 0) - max(-old, 0)
            after = uncovered()
            if after > before and record is not None and side == "SELL":
                if record.purpose.value == "ENTRY":
                    v.append(Violation("I3", f"{client_id} {record.order_key}: SELL entry left {after} units short "
                                             f"without a filled hedge", "item 5 (h13a): SELL not held back for the hedge"))
                elif record.purpose.value in ("EXIT", "TARGET"):
                    v.append(Violation("I3", f"{client_id} {record.order_key}: long sold while {after} units "
                                             f"short were still open",
                                       "item 5 (h13a): long sold before its short was bought back"))
        # I4 books agree; I5 every position is exited
        recorded: dict[str, int] = defaultdict(int)
        for position in day.plain.positions.list(USER, client_id=client_id):
            recorded[position.tradingsymbol] += position.quantity
        for symbol in sorted(set(broker_qty) | set(recorded)):
            if broker_qty.get(symbol, 0) != recorded.get(symbol, 0):
                v.append(Violation("I4", f"{client_id} {symbol}: records hold {recorded.get(symbol, 0)} units, "
                                         f"the broker {broker_qty.get(symbol, 0)}",
                                   "item 4 (h13a/h13b): records and broker disagree"))
            if broker_qty.get(symbol, 0):
                v.append(Violation("I5", f"{client_id} {symbol}: {broker_qty[symbol]} units still open at the "
                                         "broker after the exit time",
                                   _context(day, owner.get((client_id, symbol)))))
    # I2: nothing silent
    for record in records:
        status = record.status.value
        if record.purpose.value in ("ENTRY", "EXIT", "TARGET") and status not in FINAL:
            if status in ("PENDING", "SENT"):
                item = "item 1 (h13a): never sent and never marked NOT_SENT"
            elif status == "UNKNOWN":
                item = "item 6 (h13a/h13b): an order that never reached the broker stays UNKNOWN"
            else:
                item = _context(day, record.strategy_id)
            v.append(Violation("I2", f"{record.order_key}: left {status} at the end of the day", item))
        if record.purpose.value == "STOP_LOSS" and status in ("PENDING", "SENT", "UNKNOWN"):
            v.append(Violation("I2", f"{record.order_key}: stop left {status} at the end of the day",
                               "item 12 (h13b): a stop whose send was lost is never resolved"))
    alerted = {a.get("execution_id") for a in day.alerts} | {a.get("execution_id") for a in day.alerts if a}
    for plan in day.scenario.strategies:
        for kind in ExecutionType:
            execution = day.plain.executions.get(USER, plan.strategy_id, kind, DAY)
            if execution is None:
                continue
            mine = [r for r in records if r.execution_id == execution.execution_id
                    and r.purpose.value == kind.value and r.slice_no < 50]
            bad = [r for r in mine if r.status.value in NOT_ACCEPTED
                   or (r.status.value == "CANCELLED" and not r.filled_quantity and not r.broker_order_id)]
            if execution.status.value == "COMPLETED" and bad:
                v.append(Violation("I2", f"{execution.execution_id} COMPLETED while "
                                         + ", ".join(f"{r.client_id} leg {r.leg_no} {r.status.value}" for r in bad[:4]),
                                   "item 1 (h13a): Finalize counts what it finds"))
            if execution.status.value in ("PARTIAL", "FAILED") and execution.execution_id not in alerted:
                v.append(Violation("I2", f"{execution.execution_id} {execution.status.value} without an Order Alert",
                                   "item 1 (h13a)"))
            if kind is ExecutionType.ENTRY and execution.status.value == "COMPLETED":
                accounts = {r.client_id for r in mine}
                missing = [c for c, _ in ACCOUNTS if c not in accounts]
                if missing:
                    v.append(Violation("I2", f"{execution.execution_id} COMPLETED but {', '.join(missing)} sent "
                                             "nothing", "item 1 (h13a)"))
    return v


__all__ = ["play_day", "Day", "DayResult", "Fault", "Violation", "random_faults", "random_scenario", "keys_of"]


def keys_of(result: DayResult) -> set[str]:
    """The invariants a day violated."""
    return {v.invariant for v in result.violations}
