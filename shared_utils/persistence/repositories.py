"""One repository per aggregate over the single table (and the broker accounts table).

Every repository takes a :class:`~shared_utils.persistence.table.DynamoTable` and returns
domain objects. Rules kept here:

- Optimistic locking: ``update(entity, expected_version)`` writes ``version + 1`` only if the
  stored version is still ``expected_version``; otherwise :class:`VersionConflict`.
- Creation never overwrites: ``attribute_not_exists`` -> :class:`AlreadyExists`.
- A strategy and its SCHEDULE items (and their GSI2 slot keys) change in ONE transaction, so the
  emitter never sees a schedule that disagrees with its strategy.
- The execution claim is a conditional put: a second claim of the same strategy, date and type
  returns ``None`` (no exception escapes).
- Every list is paginated (``Page`` with ``next_token``) or follows every page explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Iterator, TypeVar

from pydantic import BaseModel

from shared_utils.clock import UTC
from shared_utils.config import EnvironmentConfig
from shared_utils.models.allocation import Allocation
from shared_utils.models.basket import Basket
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.enums import EntityStatus, ExecutionType
from shared_utils.models.execution import Execution, OrderRecord, Position
from shared_utils.models.leg import Leg
from shared_utils.models.schedule import ScheduleEntry
from shared_utils.models.strategy import Strategy
from shared_utils.persistence import keys
from shared_utils.persistence.table import (
    ConditionFailed,
    DynamoTable,
    TransactionCancelled,
    to_item,
)
from shared_utils.persistence.table_schema import GSI1, GSI2, GSI3

M = TypeVar("M", bound=BaseModel)


class NotFound(LookupError):
    """The item does not exist (or belongs to another user: callers answer 404 either way)."""


class AlreadyExists(Exception):
    """Creation found an item with the same key."""


class VersionConflict(Exception):
    """The item changed since it was read (optimistic locking); re-read and retry."""


@dataclass(frozen=True)
class ModelPage:
    items: list[Any]
    next_token: str | None


def _now() -> datetime:
    """Now (aware UTC) from the process clock (``shared_utils.clock.default_clock``): the same
    clock that stamps ``created_at``, so under the local platform's ``--at`` a record's
    ``updated_at`` follows the platform clock, never the wall clock."""
    from shared_utils.clock import default_clock

    return default_clock().now().astimezone(UTC)


def _bump(model: M, expected_version: int) -> M:
    return model.model_copy(update={"version": expected_version + 1, "updated_at": _now()})


_NOT_EXISTS = "attribute_not_exists(sort_key)"
_VERSION_IS = "version = :expected"


class _Repo:
    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def _put_new(self, item: dict[str, Any], what: str) -> None:
        try:
            self.table.put(item, condition=_NOT_EXISTS)
        except ConditionFailed as exc:
            raise AlreadyExists(f"{what} already exists") from exc

    def _put_versioned(self, item: dict[str, Any], expected_version: int, what: str) -> None:
        try:
            self.table.put(item, condition=_VERSION_IS, values={":expected": expected_version})
        except ConditionFailed as exc:
            raise VersionConflict(f"{what} was changed by someone else (version {expected_version} is stale)") from exc


# ---- baskets --------------------------------------------------------------------------------

class BasketRepository(_Repo):
    def create(self, basket: Basket) -> Basket:
        self._put_new(to_item(basket, user_id=basket.user_id, sort_key=keys.basket_sk(basket.basket_id)),
                      f"basket {basket.basket_id}")
        return basket

    def get(self, user_id: str, basket_id: str) -> Basket:
        item = self.table.get(user_id, keys.basket_sk(basket_id))
        if item is None:
            raise NotFound(f"basket {basket_id} not found")
        return Basket.model_validate(item)

    def list(self, user_id: str, limit: int | None = None, next_token: str | None = None) -> ModelPage:
        page = self.table.query(user_id, f"{keys.BASKET}{keys.SEP}", limit=limit, next_token=next_token)
        return ModelPage([Basket.model_validate(i) for i in page.items], page.next_token)

    def update(self, basket: Basket, expected_version: int) -> Basket:
        new = _bump(basket, expected_version)
        self._put_versioned(to_item(new, user_id=new.user_id, sort_key=keys.basket_sk(new.basket_id)),
                            expected_version, f"basket {basket.basket_id}")
        return new

    def item_ops_update(self, basket: Basket, expected_version: int) -> tuple[Basket, dict[str, Any]]:
        new = _bump(basket, expected_version)
        op = self.table.put_op(to_item(new, user_id=new.user_id, sort_key=keys.basket_sk(new.basket_id)),
                               condition=_VERSION_IS, values={":expected": expected_version})
        return new, op

    def delete_op(self, user_id: str, basket_id: str, expected_version: int) -> dict[str, Any]:
        return self.table.delete_op(user_id, keys.basket_sk(basket_id), condition=_VERSION_IS,
                                    values={":expected": expected_version})


# ---- strategies and their schedule ---------------------------------------------------------

def schedule_entries(strategy: Strategy, basket_active: bool = True) -> list[ScheduleEntry]:
    """The ENTRY and EXIT schedule entries of ``strategy``. ``active`` (which decides whether the
    GSI2 slot keys are present) is True for the ENTRY only for an ACTIVE strategy whose basket
    (if any) is ACTIVE, and for the EXIT of every strategy not ARCHIVED."""
    active = strategy.status is EntityStatus.ACTIVE and basket_active
    common = dict(user_id=strategy.user_id, strategy_id=strategy.strategy_id, basket_id=strategy.basket_id,
                  underlying=strategy.underlying, product=strategy.product)
    dte = strategy.entry_dte
    # pausing (the strategy or its basket) keeps the EXIT slot: positions opened before the pause
    # are still exited on time (issue 13 item 3, I5); Prepare skips it when nothing is open
    exit_active = strategy.status is not EntityStatus.ARCHIVED
    return [
        ScheduleEntry(execution_type=ExecutionType.ENTRY, schedule_time=strategy.entry_time, days=strategy.entry_days,
                      dte_min=dte.min_dte if dte else None, dte_max=dte.max_dte if dte else None, active=active,
                      **common),
        ScheduleEntry(execution_type=ExecutionType.EXIT, schedule_time=strategy.exit_time, days=strategy.exit_days,
                      active=exit_active, **common),
    ]


class ScheduleRepository(_Repo):
    """SCHEDULE items and the GSI2 slot query the emitter runs every minute."""

    def __init__(self, table: DynamoTable, shards: int = 1) -> None:
        super().__init__(table)
        self.shards = shards

    def item(self, entry: ScheduleEntry) -> dict[str, Any]:
        extra: dict[str, Any] = {"user_id": entry.user_id,
                                 "sort_key": keys.schedule_sk(entry.strategy_id, entry.execution_type)}
        if entry.active:
            extra.update(keys.gsi2_keys(entry.execution_type, entry.schedule_time, entry.user_id,
                                        entry.strategy_id, self.shards))
        return to_item(entry, **extra)

    def put_ops(self, entries: Iterable[ScheduleEntry]) -> list[dict[str, Any]]:
        return [self.table.put_op(self.item(e)) for e in entries]

    def delete_ops(self, user_id: str, strategy_id: str) -> list[dict[str, Any]]:
        return [self.table.delete_op(user_id, keys.schedule_sk(strategy_id, kind)) for kind in ExecutionType]

    def list_for_user(self, user_id: str) -> list[ScheduleEntry]:
        return [ScheduleEntry.model_validate(i) for i in self.table.query_all(user_id, keys.schedules_prefix())]

    def due_in_slot(self, execution_type: ExecutionType, hhmm: str, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Every ACTIVE schedule item of slot ``hhmm`` for ``execution_type`` across all users:
        one Query per shard, following every page. Yields the projected attributes (user_id,
        strategy_id, days, dte_min/max, underlying, product, basket_id...)."""
        for shard in range(self.shards):
            yield from self.table.query_all(keys.gsi2_pk(execution_type, hhmm, shard), index=GSI2.name,
                                            pk_name=GSI2.partition_key, sk_name=GSI2.sort_key, limit=page_size)


class StrategyRepository(_Repo):
    def __init__(self, table: DynamoTable, schedules: ScheduleRepository) -> None:
        super().__init__(table)
        self.schedules = schedules

    def _item(self, strategy: Strategy) -> dict[str, Any]:
        return to_item(strategy, user_id=strategy.user_id, sort_key=keys.strategy_sk(strategy.strategy_id))

    def create(self, strategy: Strategy, basket_active: bool = True, basket_version: int | None = None) -> Strategy:
        """Create the strategy and its schedule entries in one transaction. With
        ``basket_version`` the basket must still be at that version (its strategy count was
        checked against it)."""
        ops = [self.table.put_op(self._item(strategy), condition=_NOT_EXISTS)]
        ops += self.schedules.put_ops(schedule_entries(strategy, basket_active))
        if strategy.basket_id and basket_version is not None:
            ops.append(self.table.check_op(strategy.user_id, keys.basket_sk(strategy.basket_id), _VERSION_IS,
                                           values={":expected": basket_version}))
        try:
            self.table.transact(ops)
        except TransactionCancelled as exc:
            if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
                raise AlreadyExists(f"strategy {strategy.strategy_id} already exists") from exc
            raise VersionConflict("the basket changed while the strategy was being added; retry") from exc
        return strategy

    def get(self, user_id: str, strategy_id: str) -> Strategy:
        item = self.table.get(user_id, keys.strategy_sk(strategy_id))
        if item is None:
            raise NotFound(f"strategy {strategy_id} not found")
        return Strategy.model_validate(item)

    def list(self, user_id: str, basket_id: str | None = None, limit: int | None = None,
             next_token: str | None = None) -> ModelPage:
        """Strategies of a user (optionally of one basket). With a basket filter every page is
        read and filtered, so ``limit`` applies to the unfiltered page."""
        page = self.table.query(user_id, f"{keys.STRATEGY}{keys.SEP}", limit=limit, next_token=next_token)
        items = [Strategy.model_validate(i) for i in page.items]
        if basket_id is not None:
            items = [s for s in items if s.basket_id == basket_id]
        return ModelPage(items, page.next_token)

    def list_all(self, user_id: str, basket_id: str | None = None) -> list[Strategy]:
        items = [Strategy.model_validate(i) for i in self.table.query_all(user_id, f"{keys.STRATEGY}{keys.SEP}")]
        return [s for s in items if basket_id is None or s.basket_id == basket_id]

    def update(self, strategy: Strategy, expected_version: int, basket_active: bool = True) -> Strategy:
        """Write the strategy (version-checked) and rewrite its schedule entries, atomically."""
        new = _bump(strategy, expected_version)
        ops = [self.table.put_op(self._item(new), condition=_VERSION_IS, values={":expected": expected_version})]
        ops += self.schedules.put_ops(schedule_entries(new, basket_active))
        try:
            self.table.transact(ops)
        except TransactionCancelled as exc:
            raise VersionConflict(f"strategy {strategy.strategy_id} was changed by someone else") from exc
        return new

    def update_ops(self, strategy: Strategy, expected_version: int, basket_active: bool) -> tuple[Strategy, list[dict[str, Any]]]:
        new = _bump(strategy, expected_version)
        ops = [self.table.put_op(self._item(new), condition=_VERSION_IS, values={":expected": expected_version})]
        ops += self.schedules.put_ops(schedule_entries(new, basket_active))
        return new, ops

    def delete(self, strategy: Strategy, legs: list[Leg], allocations: list[Allocation]) -> None:
        """Delete the strategy with its legs, allocations and schedule entries.

        Up to 100 items go in one transaction. A larger strategy is deleted in stages that are
        safe to resume: first its schedule entries and the strategy's status (so it can no
        longer run), then its legs and allocations, then the strategy item itself.
        """
        user_id, strategy_id = strategy.user_id, strategy.strategy_id
        children = [self.table.delete_op(user_id, keys.leg_sk(strategy_id, leg.leg_no)) for leg in legs]
        children += [self.table.delete_op(user_id, keys.allocation_sk(strategy_id, a.client_id)) for a in allocations]
        head = self.schedules.delete_ops(user_id, strategy_id)
        strategy_delete = self.table.delete_op(user_id, keys.strategy_sk(strategy_id), condition=_VERSION_IS,
                                               values={":expected": strategy.version})
        try:
            if len(children) + len(head) + 1 <= 100:
                self.table.transact(head + children + [strategy_delete])
                return
            archived, ops = self.update_ops(strategy.model_copy(update={"status": EntityStatus.ARCHIVED}),
                                            strategy.version, basket_active=False)
            self.table.transact(ops)
            for start in range(0, len(children), 100):
                self.table.transact(children[start:start + 100])
            self.table.transact(head + [self.table.delete_op(user_id, keys.strategy_sk(strategy_id),
                                                             condition=_VERSION_IS,
                                                             values={":expected": archived.version})])
        except TransactionCancelled as exc:
            raise VersionConflict(f"strategy {strategy_id} changed while it was being deleted; retry") from exc


# ---- legs -----------------------------------------------------------------------------------

class LegRepository(_Repo):
    def _item(self, leg: Leg) -> dict[str, Any]:
        return to_item(leg, user_id=leg.user_id, sort_key=keys.leg_sk(leg.strategy_id, leg.leg_no))

    def create_many(self, legs: list[Leg], strategy: Strategy | None = None) -> list[Leg]:
        """Create legs atomically; any existing leg_no -> AlreadyExists naming it. With
        ``strategy`` the strategy must still be at its version (guards leg counting)."""
        ops = [self.table.put_op(self._item(leg), condition=_NOT_EXISTS) for leg in legs]
        if strategy is not None:
            ops.append(self.table.check_op(strategy.user_id, keys.strategy_sk(strategy.strategy_id),
                                           "attribute_exists(sort_key)"))
        try:
            self.table.transact(ops)
        except TransactionCancelled as exc:
            clashes = [legs[i].leg_no for i, r in enumerate(exc.reasons[:len(legs)]) if r == "ConditionalCheckFailed"]
            if clashes:
                raise AlreadyExists(f"leg_no {', '.join(map(str, clashes))} already exists") from exc
            raise NotFound("strategy not found") from exc
        return legs

    def list(self, user_id: str, strategy_id: str) -> list[Leg]:
        return [Leg.model_validate(i) for i in self.table.query_all(user_id, keys.legs_prefix(strategy_id), consistent=True)]

    def get(self, user_id: str, strategy_id: str, leg_no: int) -> Leg:
        item = self.table.get(user_id, keys.leg_sk(strategy_id, leg_no))
        if item is None:
            raise NotFound(f"leg {leg_no} of strategy {strategy_id} not found")
        return Leg.model_validate(item)

    def update(self, leg: Leg, expected_version: int) -> Leg:
        new = _bump(leg, expected_version)
        self._put_versioned(self._item(new), expected_version, f"leg {leg.leg_no}")
        return new

    def delete(self, leg: Leg) -> None:
        try:
            self.table.delete(leg.user_id, keys.leg_sk(leg.strategy_id, leg.leg_no), condition=_VERSION_IS,
                              values={":expected": leg.version})
        except ConditionFailed as exc:
            raise VersionConflict(f"leg {leg.leg_no} changed while being deleted") from exc


# ---- allocations ----------------------------------------------------------------------------

class AllocationRepository(_Repo):
    def _item(self, allocation: Allocation) -> dict[str, Any]:
        return to_item(allocation, user_id=allocation.user_id,
                       sort_key=keys.allocation_sk(allocation.strategy_id, allocation.client_id),
                       **keys.gsi1_keys(allocation.strategy_id, allocation.priority, allocation.client_id))

    def create_many(self, allocations: list[Allocation]) -> list[Allocation]:
        ops = [self.table.put_op(self._item(a), condition=_NOT_EXISTS) for a in allocations]
        try:
            self.table.transact(ops)
        except TransactionCancelled as exc:
            clashes = [allocations[i].client_id for i, r in enumerate(exc.reasons) if r == "ConditionalCheckFailed"]
            raise AlreadyExists(f"allocation for {', '.join(clashes)} already exists") from exc
        return allocations

    def get(self, user_id: str, strategy_id: str, client_id: str) -> Allocation:
        item = self.table.get(user_id, keys.allocation_sk(strategy_id, client_id))
        if item is None:
            raise NotFound(f"allocation of {client_id} to strategy {strategy_id} not found")
        return Allocation.model_validate(item)

    def list(self, user_id: str, strategy_id: str) -> list[Allocation]:
        """A user's allocations of one strategy, in priority order."""
        items = [Allocation.model_validate(i)
                 for i in self.table.query_all(user_id, keys.allocations_prefix(strategy_id), consistent=True)]
        return sorted(items, key=lambda a: (a.priority, a.client_id))

    def by_strategy(self, strategy_id: str) -> list[Allocation]:
        """GSI1 AllocationsByStrategy: the strategy's allocations in priority order (eventually
        consistent)."""
        return [Allocation.model_validate(i) for i in self.table.query_all(
            strategy_id, f"{keys.ALLOCATION}{keys.SEP}", index=GSI1.name, pk_name=GSI1.partition_key,
            sk_name=GSI1.sort_key)]

    def list_for_user(self, user_id: str) -> list[Allocation]:
        return [Allocation.model_validate(i) for i in self.table.query_all(user_id, f"{keys.ALLOCATION}{keys.SEP}")]

    def update(self, allocation: Allocation, expected_version: int) -> Allocation:
        new = _bump(allocation, expected_version)
        self._put_versioned(self._item(new), expected_version, f"allocation {allocation.client_id}")
        return new

    def delete(self, allocation: Allocation) -> None:
        try:
            self.table.delete(allocation.user_id, keys.allocation_sk(allocation.strategy_id, allocation.client_id),
                              condition=_VERSION_IS, values={":expected": allocation.version})
        except ConditionFailed as exc:
            raise VersionConflict(f"allocation {allocation.client_id} changed while being deleted") from exc


# ---- executions, orders, positions ----------------------------------------------------------

class ExecutionRepository(_Repo):
    def _item(self, execution: Execution) -> dict[str, Any]:
        return to_item(execution, user_id=execution.user_id,
                       sort_key=keys.execution_sk(execution.strategy_id, execution.execution_type, execution.trade_date))

    def claim(self, execution: Execution) -> Execution | None:
        """Claim an execution: the first caller gets the stored record, every later caller for
        the same strategy, date and type gets ``None``."""
        try:
            self.table.put(self._item(execution), condition=_NOT_EXISTS)
        except ConditionFailed:
            return None
        return execution

    def get(self, user_id: str, strategy_id: str, execution_type: ExecutionType, trade_date: date) -> Execution | None:
        item = self.table.get(user_id, keys.execution_sk(strategy_id, execution_type, trade_date))
        return Execution.model_validate(item) if item else None

    def get_by_id(self, user_id: str, execution_id: str) -> Execution:
        strategy_id, trade_date, kind = keys.parse_execution_id(execution_id)
        found = self.get(user_id, strategy_id, kind, trade_date)
        if found is None:
            raise NotFound(f"execution {execution_id} not found")
        return found

    def save(self, execution: Execution, expected_version: int) -> Execution:
        new = _bump(execution, expected_version)
        self._put_versioned(self._item(new), expected_version, f"execution {execution.execution_id}")
        return new

    def list_for_user(self, user_id: str, execution_type: ExecutionType, strategy_id: str | None = None,
                      limit: int | None = None, next_token: str | None = None, newest_first: bool = True) -> ModelPage:
        page = self.table.query(user_id, keys.executions_prefix(execution_type, strategy_id), limit=limit,
                                next_token=next_token, forward=not newest_first)
        return ModelPage([Execution.model_validate(i) for i in page.items], page.next_token)


class OrderRepository(_Repo):
    def _item(self, order: OrderRecord) -> dict[str, Any]:
        return to_item(order, user_id=order.user_id, sort_key=order.order_key, gsi3pk=keys.gsi3_order_tag_pk(order.tag))

    def record_intent(self, order: OrderRecord) -> tuple[OrderRecord, bool]:
        """Write the intent before the broker call. Returns (record, created): when the key
        exists already (a re-run) the STORED record comes back with created=False, and the
        caller must reconcile it instead of sending again."""
        try:
            self.table.put(self._item(order), condition=_NOT_EXISTS)
            return order, True
        except ConditionFailed:
            stored = self.table.get(order.user_id, order.order_key)
            assert stored is not None
            return OrderRecord.model_validate(stored), False

    def save(self, order: OrderRecord, expected_version: int) -> OrderRecord:
        new = _bump(order, expected_version)
        self._put_versioned(self._item(new), expected_version, f"order {order.order_key}")
        return new

    def get(self, user_id: str, order_key: str) -> OrderRecord:
        item = self.table.get(user_id, order_key)
        if item is None:
            raise NotFound(f"order {order_key} not found")
        return OrderRecord.model_validate(item)

    def list_for_execution(self, user_id: str, execution_id: str, client_id: str | None = None) -> list[OrderRecord]:
        return [OrderRecord.model_validate(i)
                for i in self.table.query_all(user_id, keys.orders_prefix(execution_id, client_id), consistent=True)]

    def record_intents(self, orders: list[OrderRecord]) -> list[OrderRecord]:
        """Write many intents at once (BatchWriteItem, 25 per request) and return the records
        as stored. Keys that exist already (a retried Resolve) are left as they are and their
        STORED records come back instead, so nothing that may have been sent is overwritten.
        Callers: Resolve, which is the only writer of an execution's first intents."""
        if not orders:
            return []
        stored = {item["sort_key"]: OrderRecord.model_validate(item)
                  for item in self.table.batch_get([(o.user_id, o.order_key) for o in orders])}
        fresh = [o for o in orders if o.order_key not in stored]
        self.table.batch_put([self._item(o) for o in fresh])
        return [stored.get(o.order_key, o) for o in orders]

    def claim_placement(self, user_id: str, execution_id: str, client_id: str, batch: str, claimant: str,
                        at: datetime) -> bool:
        """The PlaceOrders claim of one work item (one conditional put). True: this invocation
        may send its orders; False: an earlier invocation claimed the item (its sends may have
        begun), so the caller reconciles by tag and never sends."""
        try:
            self.table.put({"user_id": user_id, "sort_key": keys.placement_sk(execution_id, client_id, batch),
                            "execution_id": execution_id, "client_id": client_id, "claimed_by": claimant,
                            "claimed_at": at.isoformat(), "entity_type": "PLACEMENT"}, condition=_NOT_EXISTS)
            return True
        except ConditionFailed:
            return False

    def placement_claims(self, user_id: str, execution_id: str) -> list[dict[str, Any]]:
        """Every placement claim of an execution (Finalize: an intent of a claimed item may have
        been sent, one of an unclaimed item was not)."""
        return list(self.table.query_all(user_id, f"{keys.PLACEMENT}{keys.SEP}{execution_id}{keys.SEP}",
                                         consistent=True))

    def by_tag(self, tag: str) -> OrderRecord | None:
        for item in self.table.query_all(keys.gsi3_order_tag_pk(tag), index=GSI3.name, pk_name=GSI3.partition_key):
            return OrderRecord.model_validate(item)
        return None


class PositionRepository(_Repo):
    def _item(self, position: Position) -> dict[str, Any]:
        return to_item(position, user_id=position.user_id,
                       sort_key=keys.position_sk(position.strategy_id, position.client_id, position.tradingsymbol))

    def get(self, user_id: str, strategy_id: str, client_id: str, tradingsymbol: str) -> Position | None:
        item = self.table.get(user_id, keys.position_sk(strategy_id, client_id, tradingsymbol))
        return Position.model_validate(item) if item else None

    def create(self, position: Position) -> Position:
        self._put_new(self._item(position), f"position {position.tradingsymbol}")
        return position

    def save(self, position: Position, expected_version: int) -> Position:
        new = _bump(position, expected_version)
        self._put_versioned(self._item(new), expected_version, f"position {position.tradingsymbol}")
        return new

    def list(self, user_id: str, strategy_id: str | None = None, client_id: str | None = None) -> list[Position]:
        items = [Position.model_validate(i) for i in self.table.query_all(user_id, keys.positions_prefix(strategy_id))]
        return [p for p in items if client_id is None or p.client_id == client_id]


# ---- platform controls (kill switches) -------------------------------------------------------

class ControlRepository(_Repo):
    """Kill switches: ``CONTROL#KILL_SWITCH`` under the PLATFORM partition (global), under a
    user's partition (per user) and ``CONTROL#KILL_SWITCH#{client_id}`` under the user's
    partition (per broker account). A set switch stops new entries; exits still run. Each item
    records who set it and when (``set_by``, ``updated_at``)."""

    NAME = "KILL_SWITCH"

    def set_kill_switch(self, on: bool, reason: str, user_id: str | None = None, client_id: str | None = None,
                        set_by: str | None = None, at: datetime | None = None) -> dict[str, Any]:
        if client_id is not None and user_id is None:
            raise ValueError("a per-account kill switch needs the account's user_id")
        pk = user_id or keys.PLATFORM_PARTITION
        item = {"user_id": pk, "sort_key": keys.control_sk(self.NAME, client_id), "on": on, "reason": reason,
                "updated_at": (at or _now()).isoformat(), "set_by": set_by or "", "entity_type": "CONTROL",
                "scope": "ACCOUNT" if client_id else ("USER" if user_id else "GLOBAL")}
        if client_id:
            item["client_id"] = client_id
        self.table.put(item)
        return item

    def kill_switch(self, user_id: str | None = None, client_id: str | None = None) -> tuple[bool, str]:
        item = self.table.get(user_id or keys.PLATFORM_PARTITION, keys.control_sk(self.NAME, client_id))
        if not item:
            return False, ""
        return bool(item.get("on")), str(item.get("reason", ""))

    def kill_switches(self, user_id: str, client_id: str | None = None) -> dict[str, dict[str, Any]]:
        """The global, the user's and (with ``client_id``) the account's switch in ONE read
        (BatchGetItem), by scope ``GLOBAL``/``USER``/``ACCOUNT``; unset ones are absent."""
        wanted = {(keys.PLATFORM_PARTITION, keys.control_sk(self.NAME)): "GLOBAL",
                  (user_id, keys.control_sk(self.NAME)): "USER"}
        if client_id:
            wanted[(user_id, keys.control_sk(self.NAME, client_id))] = "ACCOUNT"
        found = self.table.batch_get(list(wanted))
        return {wanted[(i["user_id"], i["sort_key"])]: i for i in found if (i["user_id"], i["sort_key"]) in wanted}

    def list_for_user(self, user_id: str) -> list[dict[str, Any]]:
        """The user's own switches (per user and per account)."""
        return list(self.table.query_all(user_id, keys.control_sk(self.NAME)))


# ---- broker accounts (auth-broker table) -----------------------------------------------------

class BrokerAccountRepository:
    """Broker accounts table: PK user_id, SK client_id."""

    def __init__(self, table: DynamoTable) -> None:
        self.table = table

    def create(self, account: BrokerAccount) -> BrokerAccount:
        try:
            self.table.put(to_item(account), condition="attribute_not_exists(client_id)")
        except ConditionFailed as exc:
            raise AlreadyExists(f"broker account {account.client_id} already exists") from exc
        return account

    def get(self, user_id: str, client_id: str) -> BrokerAccount:
        item = self.table.get(user_id, client_id)
        if item is None:
            raise NotFound(f"broker account {client_id} not found")
        return BrokerAccount.model_validate(item)

    def find(self, user_id: str, client_id: str) -> BrokerAccount | None:
        item = self.table.get(user_id, client_id)
        return BrokerAccount.model_validate(item) if item else None

    def list(self, user_id: str) -> list[BrokerAccount]:
        return [BrokerAccount.model_validate(i) for i in self.table.query_all(user_id)]

    def save(self, account: BrokerAccount, expected_version: int) -> BrokerAccount:
        new = _bump(account, expected_version)
        try:
            self.table.put(to_item(new), condition=_VERSION_IS, values={":expected": expected_version})
        except ConditionFailed as exc:
            raise VersionConflict(f"broker account {account.client_id} was changed by someone else") from exc
        return new

    def delete(self, account: BrokerAccount) -> None:
        self.table.delete(account.user_id, account.client_id)


@dataclass
class Repositories:
    """All repositories of one environment, sharing one client."""

    table: DynamoTable
    accounts_table: DynamoTable
    shards: int = 1

    def __post_init__(self) -> None:
        self.baskets = BasketRepository(self.table)
        self.schedules = ScheduleRepository(self.table, self.shards)
        self.strategies = StrategyRepository(self.table, self.schedules)
        self.legs = LegRepository(self.table)
        self.allocations = AllocationRepository(self.table)
        self.executions = ExecutionRepository(self.table)
        self.orders = OrderRepository(self.table)
        self.positions = PositionRepository(self.table)
        self.controls = ControlRepository(self.table)
        self.accounts = BrokerAccountRepository(self.accounts_table)

    @classmethod
    def for_environment(cls, env: EnvironmentConfig, client: Any | None = None) -> "Repositories":
        table = DynamoTable(env.table_name, client)
        accounts = DynamoTable(env.broker_accounts_table_name, table.client, pk_name="user_id", sk_name="client_id")
        return cls(table=table, accounts_table=accounts, shards=env.settings.execution_engine.schedule_shards)
