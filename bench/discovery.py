"""Measure 3: finding the strategies due in one slot.

Data: ``users`` users x 5 strategies; 20% of the strategies (one in five, spread over all users)
enter at 09:30, the others at 09:31..09:34 (each strategy's ENTRY at its time and EXIT at 15:20),
written as the exact SCHEDULE items the platform writes (``ScheduleRepository.item(entry)``,
GSI2 slot keys on active entries), put straight into in-process moto's table (its backend
``put_item``: BatchWriteItem through botocore costs ~1.2 ms per item in moto, 2 minutes for
100,000 items; loading is not what is measured).

Compared on the same table:

- GSI2 (the platform): ``repos.schedules.due_in_slot(ENTRY, "09:30")``, one Query per shard
  following every page. moto does not cut pages at DynamoDB's 1 MB, so the page size is set to
  the number of projected items that fit in 1 MB (measured item size), which makes the request
  count the one DynamoDB would answer with.
- Seed per-user: one base-table Query per user on ``SCHEDULE#`` (the seed keyed GSI2 by user, so
  the only working equivalent is one Query per user), keeping ENTRY items of 09:30.

Figures: DynamoDB requests (``DynamoTable.request_count``) and wall time (ms, moto in-process:
moto answers a GSI Query by scanning and sorting the whole table, so the GSI wall time here is
moto's, not DynamoDB's; the request counts are the figure that carries over).
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from bench.common import fast_moto_queries, moto_tables

PAGE_BYTES = 1024 * 1024


def _load(repos: Any, start: int, stop: int, strategies_per_user: int) -> int:
    """Write SCHEDULE items of users [start, stop); returns the number written."""
    from shared_utils.models.enums import ExecutionType
    from shared_utils.models.schedule import ScheduleEntry
    from shared_utils.persistence.table import serialize


    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["ap-south-1"]
    name = repos.table.name
    written = 0

    for user in range(start, stop):
        user_id = f"user-{user:06d}"
        for number in range(strategies_per_user):
            strategy_id = f"stg-{user:06d}-{number}"
            slot = f"09:{30 + (user * strategies_per_user + number) % 5:02d}"
            common = dict(user_id=user_id, strategy_id=strategy_id, basket_id=f"bkt-{user:06d}", underlying="NIFTY",
                          product="NRML", active=True)
            for entry in (ScheduleEntry(execution_type=ExecutionType.ENTRY, schedule_time=slot, days=["MONDAY"],
                                        dte_min=0, dte_max=7, **common),
                          ScheduleEntry(execution_type=ExecutionType.EXIT, schedule_time="15:20", days=["FRIDAY"],
                                        **common)):
                backend.put_item(name, serialize(repos.schedules.item(entry)))
                written += 1
    return written


def _projected_bytes(item: dict[str, Any]) -> int:
    """DynamoDB item size: attribute names + values (strings/numbers as text, lists summed)."""
    return len(json.dumps(item, default=str, separators=(",", ":")).encode())


def _measure(repos: Any, users: int, sample: int) -> dict[str, Any]:
    from shared_utils.models.enums import ExecutionType
    from shared_utils.persistence import keys

    table = repos.table
    # page size as DynamoDB would cut it: items per 1 MB of projected data
    probe = list(itertools.islice(repos.schedules.due_in_slot(ExecutionType.ENTRY, "09:30", page_size=50), 50))
    size = max(1, int(sum(_projected_bytes(i) for i in probe) / max(1, len(probe))))
    page_items = max(1, PAGE_BYTES // size)

    before, t0 = table.request_count, time.perf_counter()
    due = list(repos.schedules.due_in_slot(ExecutionType.ENTRY, "09:30", page_size=page_items))
    gsi_ms = (time.perf_counter() - t0) * 1000
    gsi_requests = table.request_count - before

    # one Query per user; moto in-process answers ~30 ms per request (its own overhead), so the
    # wall time is measured on ``sample`` users spread over all users and scaled to ``users``
    sample_users = list(range(0, users, max(1, users // sample)))
    before, t0 = table.request_count, time.perf_counter()
    found = 0
    for user in sample_users:
        for item in table.query_all(f"user-{user:06d}", keys.schedules_prefix()):
            if item.get("execution_type") == "ENTRY" and item.get("schedule_time") == "09:30":
                found += 1
    scale = users / len(sample_users)
    per_user_ms = (time.perf_counter() - t0) * 1000 * scale
    per_user_requests = round((table.request_count - before) * scale)
    found_scaled = round(found * scale)
    assert abs(found_scaled - len(due)) <= max(1, len(due) // 20), (found_scaled, len(due))
    return {"due": len(due), "gsi_requests": gsi_requests, "gsi_wall_ms": gsi_ms,
            "per_user_requests": per_user_requests, "per_user_wall_ms": per_user_ms,
            "item_bytes": size, "items_per_page": page_items, "per_user_sampled_users": len(sample_users)}


def run(small_users: int = 1000, large_users: int = 10000, strategies_per_user: int = 5,
        sample: int = 200) -> dict[str, Any]:
    """Load ``small_users``, measure, load up to ``large_users``, measure again. Returns figures
    (requests: counts; times: ms; load: s)."""
    out: dict[str, Any] = {}
    with moto_tables() as (_env, repos), fast_moto_queries():
        t0 = time.perf_counter()
        written = _load(repos, 0, small_users, strategies_per_user)
        small = _measure(repos, small_users, sample)
        written += _load(repos, small_users, large_users, strategies_per_user)
        out["load_s"] = time.perf_counter() - t0
        large = _measure(repos, large_users, sample)
    out["items_written"] = written
    for label, data, users in (("small", small, small_users), ("large", large, large_users)):
        out[f"discovery_{label}_users"] = users
        for key, value in data.items():
            out[f"discovery_{label}_{key}"] = value
    out["discovery_due_strategies"] = large["due"]
    out["discovery_gsi_requests"] = large["gsi_requests"]
    out["discovery_per_user_requests"] = large["per_user_requests"]
    out["discovery_requests_ratio"] = large["per_user_requests"] / max(1, large["gsi_requests"])
    out["discovery_gsi_requests_growth"] = large["gsi_requests"] / max(1, small["gsi_requests"])
    out["discovery_users_growth"] = large_users / small_users
    out["discovery_gsi_wall_ms"] = large["gsi_wall_ms"]
    out["discovery_per_user_wall_ms"] = large["per_user_wall_ms"]
    return out


def subscribers(count: int = 10_000, other_users: int = 1_000, strategies_per_user: int = 5,
                sample: int = 200) -> dict[str, Any]:
    """Issue 20: requests to find the executions of ``count`` subscribers of ONE marketplace
    basket (one strategy entering at 09:30), among ``other_users`` ordinary users' schedules.

    Each subscriber's SCHEDULE items are the ones a subscription writes
    (``MarketplaceService._schedule_items``: the admin's schedule, ``user_id`` = the subscriber,
    GSI2 slot keys), put straight into moto's table (loading is not measured). Figures:

    - ``discovery_subscribers_gsi_requests``: the emitter's slot Query (every shard, every page at
      DynamoDB's 1 MB): what finds all ``count`` subscribers' executions;
    - ``discovery_subscribers_per_subscriber_requests``: the alternative the issue rules out (one
      Query per subscriber), measured on ``sample`` subscribers and scaled;
    - ``discovery_subscribers_prepare_extra_requests``: what Prepare reads MORE for one
      subscriber's execution than for an own strategy (definitions.load: the link, the owner's
      strategy, basket and legs), counted on a real subscription.
    Request counts carry over to DynamoDB; wall times are moto's (stated)."""
    from datetime import datetime, timezone

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from shared_utils.marketplace.definitions import load
    from shared_utils.marketplace.models import SubscriptionAccount, SubscriptionLink, SubscriptionStatus
    from shared_utils.marketplace.service import MarketplaceService
    from shared_utils.models.basket import Basket
    from shared_utils.models.enums import ExecutionType
    from shared_utils.models.leg import Leg
    from shared_utils.models.strategy import Strategy
    from shared_utils.persistence import keys
    from shared_utils.persistence.table import serialize, to_item

    out: dict[str, Any] = {}
    with moto_tables() as (env, repos), fast_moto_queries():
        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID]["ap-south-1"]
        name = repos.table.name
        admin = "admin-000001"
        basket = Basket(basket_id="bkt-market", user_id=admin, basket_name="Market", initial_capital=100000,
                        deployable_percentage=100, current_capital=100000, creator_user_id=admin)
        strategy = Strategy(strategy_id="stg-market", user_id=admin, basket_id=basket.basket_id,
                            strategy_name="Iron condor", entry_time="09:30", exit_time="15:20",
                            entry_days=["MONDAY"], exit_days=["MONDAY"], product="MIS", underlying="NIFTY",
                            is_intra_day=True)
        repos.baskets.create(basket)
        repos.strategies.create(strategy)
        repos.legs.create_many([Leg(user_id=admin, strategy_id=strategy.strategy_id, leg_no=n, lots=1,
                                    transaction_type="SELL" if n in (2, 3) else "BUY",
                                    leg_type="PUT" if n < 3 else "CALL", underlying="NIFTY", entry_by="ATM_OFFSET",
                                    expiry_type="WEEKLY") for n in range(1, 5)])
        service = MarketplaceService(repos, env)
        t0 = time.perf_counter()
        written = _load(repos, 0, other_users, strategies_per_user)
        for number in range(count):
            for item in service._schedule_items(f"sub-{number:06d}", strategy, True, True):
                backend.put_item(name, serialize(item))
                written += 1
        out["discovery_subscribers_load_s"] = time.perf_counter() - t0
        out["discovery_subscribers_items_written"] = written
        probe = list(itertools.islice(repos.schedules.due_in_slot(ExecutionType.ENTRY, "09:30", page_size=50), 50))
        size = max(1, int(sum(_projected_bytes(i) for i in probe) / max(1, len(probe))))
        page_items = max(1, PAGE_BYTES // size)
        table = repos.table
        before, t0 = table.request_count, time.perf_counter()
        due = list(repos.schedules.due_in_slot(ExecutionType.ENTRY, "09:30", page_size=page_items))
        out["discovery_subscribers_gsi_wall_ms"] = (time.perf_counter() - t0) * 1000
        out["discovery_subscribers_gsi_requests"] = table.request_count - before
        found = sum(1 for i in due if i["strategy_id"] == strategy.strategy_id)
        assert found == count + 1, (found, count)  # every subscriber and the admin
        out["discovery_subscribers_found"] = found - 1
        out["discovery_subscribers_due_total"] = len(due)
        out["discovery_subscribers_items_per_page"] = page_items
        picked = list(range(0, count, max(1, count // sample)))
        before = table.request_count
        for number in picked:
            list(table.query_all(f"sub-{number:06d}", keys.schedules_prefix()))
        out["discovery_subscribers_per_subscriber_requests"] = round((table.request_count - before) * count / len(picked))
        # Prepare's reads for one subscriber's execution vs an own strategy's
        link = SubscriptionLink(user_id="sub-000000", strategy_id=strategy.strategy_id, owner_user_id=admin,
                                basket_id=basket.basket_id, subscription_id="sub_x", status=SubscriptionStatus.ACTIVE,
                                allocations=[SubscriptionAccount(client_id="C1")])
        repos.table.put(to_item(link, user_id=link.user_id, sort_key=keys.subscribed_sk(strategy.strategy_id)))
        before = table.request_count
        load(repos, admin, strategy.strategy_id)
        own = table.request_count - before
        before = table.request_count
        load(repos, "sub-000000", strategy.strategy_id)
        out["discovery_subscribers_prepare_extra_requests"] = (table.request_count - before) - own
    out["discovery_subscribers"] = count
    out["discovery_subscribers_missed"] = count - out.get("discovery_subscribers_found", 0)
    out["discovery_subscribers_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return out


if __name__ == "__main__":  # pragma: no cover
    import sys

    if sys.argv[1:2] == ["subscribers"]:
        print(json.dumps(subscribers(*(int(a) for a in sys.argv[2:4])), indent=1))
    else:
        print(json.dumps(run(int(sys.argv[1]), int(sys.argv[2])), indent=1))
