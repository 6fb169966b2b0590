"""Every entity round-trips through its repository against moto; the GSI2 slot index finds
exactly the ACTIVE strategies due in a slot across users; locking and claims hold."""

from datetime import date, datetime
from decimal import Decimal

import pytest

from shared_utils.clock import IST, UTC
from shared_utils.models.allocation import AdvancedAllocationRequest, Allocation
from shared_utils.models.basket import Basket
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.enums import EntityStatus, ExecutionType, OrderStatus, TransactionType
from shared_utils.models.execution import Execution, OrderRecord, Position
from shared_utils.models.leg import Leg, LegsCreate
from shared_utils.models.strategy import Strategy, StrategySpec
from shared_utils.persistence import keys
from shared_utils.persistence.repositories import AlreadyExists, NotFound, VersionConflict
from tests.conftest import seed_request


def make_strategy(user_id: str, strategy_id: str, entry="09:30", status=EntityStatus.ACTIVE, basket_id=None) -> Strategy:
    spec = StrategySpec.model_validate(dict(seed_request("02_create_strategy.json")["body"], entry_time=entry))
    data = spec.model_dump()
    data.update(status=status)
    return Strategy(strategy_id=strategy_id, user_id=user_id, basket_id=basket_id, **data)


def test_basket_round_trip_and_locking(repos):
    basket = Basket(basket_id="b1", user_id="u1", basket_name="Income", initial_capital=Decimal("500000"),
                    deployable_percentage=Decimal("80"), current_capital=Decimal("500000"), creator_user_id="u1")
    repos.baskets.create(basket)
    assert repos.baskets.get("u1", "b1") == basket
    with pytest.raises(AlreadyExists):
        repos.baskets.create(basket)
    updated = repos.baskets.update(basket.model_copy(update={"basket_name": "New"}), expected_version=1)
    assert updated.version == 2 and repos.baskets.get("u1", "b1").basket_name == "New"
    with pytest.raises(VersionConflict):
        repos.baskets.update(basket.model_copy(update={"basket_name": "Stale"}), expected_version=1)
    assert repos.baskets.get("u1", "b1").basket_name == "New"
    with pytest.raises(NotFound):
        repos.baskets.get("someone-else", "b1")


def test_strategy_legs_allocations_round_trip(repos):
    strategy = repos.strategies.create(make_strategy("u1", "s1"))
    assert repos.strategies.get("u1", "s1") == strategy
    legs = [Leg(user_id="u1", strategy_id="s1", **leg.model_dump())
            for leg in LegsCreate.model_validate(seed_request("03_add_legs.json")["body"]).legs]
    repos.legs.create_many(legs)
    assert repos.legs.list("u1", "s1") == legs
    with pytest.raises(AlreadyExists, match="leg_no 2"):
        repos.legs.create_many([legs[1]])
    specs = AdvancedAllocationRequest.model_validate(seed_request("04_leg_level_allocations.json")["body"]).allocations
    allocations = [Allocation(user_id="u1", strategy_id="s1", **s.model_dump()) for s in specs]
    repos.allocations.create_many(allocations)
    assert repos.allocations.list("u1", "s1") == allocations
    assert [a.client_id for a in repos.allocations.by_strategy("s1")] == ["ZERODHA123", "ANGELONE456"]
    repos.strategies.delete(strategy, legs, allocations)
    assert repos.legs.list("u1", "s1") == [] and repos.allocations.list("u1", "s1") == []
    assert repos.schedules.list_for_user("u1") == []
    with pytest.raises(NotFound):
        repos.strategies.get("u1", "s1")


def _slot_ids(repos, kind=ExecutionType.ENTRY, slot="09:30", page_size=None):
    return sorted((i["user_id"], i["strategy_id"]) for i in repos.schedules.due_in_slot(kind, slot, page_size))


def test_gsi2_slot_query_across_users_with_pagination(repos):
    repos.schedules.shards = 3
    expected = []
    for u in range(4):
        for s in range(3):
            repos.strategies.create(make_strategy(f"user{u}", f"s{u}_{s}"))
            expected.append((f"user{u}", f"s{u}_{s}"))
    repos.strategies.create(make_strategy("user9", "other_slot", entry="09:31"))
    repos.strategies.create(make_strategy("user9", "paused", status=EntityStatus.PAUSED))
    before = repos.table.request_count
    assert _slot_ids(repos, page_size=2) == sorted(expected)
    assert repos.table.request_count - before > 3, "page size 2 must have followed several pages"
    assert _slot_ids(repos, slot="09:31") == [("user9", "other_slot")]
    exits = _slot_ids(repos, ExecutionType.EXIT, "15:20")
    # a paused strategy keeps its EXIT slot (issue 13 item 3: positions held are still exited)
    assert ("user9", "paused") in exits and len(exits) == 14

    paused = repos.strategies.get("user1", "s1_0")
    repos.strategies.update(paused.model_copy(update={"status": EntityStatus.PAUSED}), paused.version)
    deleted = repos.strategies.get("user2", "s2_2")
    repos.strategies.delete(deleted, [], [])
    moved = repos.strategies.get("user3", "s3_1")
    repos.strategies.update(moved.model_copy(update={"entry_time": "10:00"}), moved.version)
    remaining = sorted(set(expected) - {("user1", "s1_0"), ("user2", "s2_2"), ("user3", "s3_1")})
    assert _slot_ids(repos, page_size=2) == remaining
    assert _slot_ids(repos, slot="10:00") == [("user3", "s3_1")]


def test_schedule_items_carry_projection_for_the_emitter(repos):
    repos.strategies.create(make_strategy("u1", "s1"))
    (item,) = list(repos.schedules.due_in_slot(ExecutionType.ENTRY, "09:30"))
    assert item["days"] == ["MONDAY"] and item["underlying"] == "NIFTY" and item["product"] == "NRML"


def test_execution_claim_is_exclusive(repos):
    now = datetime(2026, 8, 17, 9, 30, tzinfo=IST)
    eid = keys.execution_id("s1", ExecutionType.ENTRY, date(2026, 8, 17))
    execution = Execution(execution_id=eid, user_id="u1", strategy_id="s1", execution_type=ExecutionType.ENTRY,
                          trade_date=date(2026, 8, 17), execution_time="09:30", execute_at=now, claimed_by="run-1")
    assert repos.executions.claim(execution) is not None
    assert repos.executions.claim(execution.model_copy(update={"claimed_by": "run-2"})) is None
    stored = repos.executions.get_by_id("u1", eid)
    assert stored.claimed_by == "run-1" and stored.execute_at == now.astimezone(UTC)
    repos.executions.save(stored.model_copy(update={"reasons": ["done"]}), stored.version)
    with pytest.raises(VersionConflict):
        repos.executions.save(stored, stored.version)
    page = repos.executions.list_for_user("u1", ExecutionType.ENTRY)
    assert [e.execution_id for e in page.items] == [eid]


def test_order_intent_position_and_account_round_trip(repos):
    eid = keys.execution_id("s1", ExecutionType.ENTRY, date(2026, 8, 17))
    order_key = keys.order_sk(eid, "ZERODHA123", 1)
    order = OrderRecord(order_key=order_key, execution_id=eid, user_id="u1", strategy_id="s1", client_id="ZERODHA123",
                        broker="paper", leg_no=1, tag=keys.order_tag(order_key), exchange="NFO",
                        tradingsymbol="NIFTY2681824800PE", transaction_type=TransactionType.SELL, lots=3, lot_size=65,
                        quantity=195, product="NRML", order_type="LIMIT", price=Decimal("42.35"),
                        intent_at=datetime.now(UTC))
    stored, created = repos.orders.record_intent(order)
    assert created and stored == order
    again, created = repos.orders.record_intent(order.model_copy(update={"price": Decimal("1")}))
    assert not created and again.price == Decimal("42.35")
    sent = repos.orders.save(order.model_copy(update={"status": OrderStatus.OPEN, "broker_order_id": "X1"}), 1)
    assert repos.orders.by_tag(order.tag) == sent
    assert repos.orders.list_for_execution("u1", eid) == [sent]

    position = Position(user_id="u1", strategy_id="s1", client_id="ZERODHA123", tradingsymbol="NIFTY2681824800PE",
                        exchange="NFO", leg_no=1, product="NRML", lot_size=65)
    position.apply_fill(TransactionType.SELL, 195, Decimal("42.35"))
    repos.positions.create(position)
    assert repos.positions.get("u1", "s1", "ZERODHA123", "NIFTY2681824800PE") == position
    assert repos.positions.list("u1", client_id="ANGELONE456") == []

    account = BrokerAccount(user_id="u1", client_id="ZERODHA123", broker="zerodha", display_name="Main")
    repos.accounts.create(account)
    assert repos.accounts.get("u1", "ZERODHA123") == account
    assert repos.accounts.list("u2") == []


def test_strategy_delete_larger_than_one_transaction(repos):
    strategy = repos.strategies.create(make_strategy("u1", "big"))
    template = LegsCreate.model_validate(seed_request("03_add_legs.json")["body"]).legs[0].model_dump()
    legs = [Leg(user_id="u1", strategy_id="big", **dict(template, leg_no=n)) for n in range(1, 100)]
    for start in range(0, 99, 25):
        repos.legs.create_many(legs[start:start + 25])
    allocations = [Allocation(user_id="u1", strategy_id="big", client_id=f"C{i}", priority=1,
                              allocation_config={"type": "STRATEGY_LEVEL", "strategy_lots_multiplier": 1})
                   for i in range(5)]
    repos.allocations.create_many(allocations)
    repos.strategies.delete(strategy, legs, allocations)
    assert repos.legs.list("u1", "big") == [] and repos.allocations.list("u1", "big") == []
    with pytest.raises(NotFound):
        repos.strategies.get("u1", "big")


def test_pagination_of_lists(repos):
    for i in range(7):
        repos.baskets.create(Basket(basket_id=f"b{i}", user_id="u1", basket_name=f"B{i}", initial_capital=Decimal(1),
                                    deployable_percentage=Decimal(50), current_capital=Decimal(1), creator_user_id="u1"))
    seen, token = [], None
    while True:
        page = repos.baskets.list("u1", limit=3, next_token=token)
        seen += [b.basket_id for b in page.items]
        token = page.next_token
        if not token:
            break
    assert sorted(seen) == [f"b{i}" for i in range(7)]
