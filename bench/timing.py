"""Measures 1 and 2: timing precision and slot throughput of the execution engine.

Scenario (defaults): 200 users x 2 PAPER accounts x 2 strategies (the seed iron condor, 4 legs,
leg-level allocations to both accounts) all due at 09:30:00 IST on Mon 17 Aug 2026, paper
brokers with a simulated round trip drawn uniformly from 20-50 ms per call (seeded), and the
platform's per-account limiter (10 orders/s, sliding window). Real time: an ``OffsetClock``,
so every lag is a real lag on this machine.

Method:

1. Build the users through the OptionsService over in-process moto.
2. Emitter (``run_emitter``) for the 09:30 slot -> "Strategy Execution Due" events (25
   strategies per event, as in AWS).
3. For each event, the state machine's steps exactly as ``runner.run_state_machine`` calls them:
   ``prepare`` then ``resolve`` (done ahead of time here; in AWS they are separate Lambdas of
   separate executions, running in parallel).
4. The Wait state ends: the clock is set to ``execute_at - lead_s`` and EVERY event's Map starts
   at once, each Map on its own thread pool (``map_concurrency``: "config" = the state machine's
   MaxConcurrency 40 per event, as in AWS; "all" = one thread per work item, i.e. as if every
   PlaceOrders were its own Lambda with nothing queued). ``place_orders`` writes its intents,
   sleeps to ``execute_at`` with the clock's ``sleep_until`` and sends.
5. ``finalize`` per event; the figures come from the stored OrderRecords (``sent_at``,
   ``acked_at``, ``execute_at``).

Figures (milliseconds): lag = sent_at - execute_at of each order; "first order" = the earliest
send of each ACCOUNT; slot completion = the last ``acked_at`` - execute_at; the rate-limit bound =
(busiest account's orders / 10 orders/s) + one round trip (the upper simulated round trip, 50 ms).
"""

from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from bench.common import (SwitchClock, create_users, engine_context, fast_moto_queries, fast_moto_transactions,
                          moto_tables, percentile, seeded_latency)

ORDERS_PER_SECOND = 10  # the per-account limiter of the paper broker (SEBI cap)


def _place_all(ctx: Any, states: list[dict[str, Any]], map_concurrency: str, configured: int) -> list[list[dict]]:
    """Run every event's Map at once; returns the placements of each event."""
    from shared_utils.execution.steps import place_orders

    def _place(item: dict[str, Any]) -> dict[str, Any]:
        try:
            return place_orders(item, ctx)
        except Exception as exc:  # noqa: BLE001 - the Map's Catch, as in the runner
            return {**item, "error": f"{type(exc).__name__}: {exc}"}

    if map_concurrency == "all":
        items = [(i, item) for i, state in enumerate(states) for item in state["work_items"]]
        results: list[list[dict]] = [[] for _ in states]
        with ThreadPoolExecutor(max_workers=max(1, len(items)), thread_name_prefix="place") as pool:
            for (i, _), placed in zip(items, pool.map(lambda pair: _place(pair[1]), items)):
                results[i].append(placed)
        return results

    def _map(state: dict[str, Any]) -> list[dict]:
        items = state["work_items"]
        with ThreadPoolExecutor(max_workers=max(1, min(configured, len(items))), thread_name_prefix="place") as pool:
            return list(pool.map(_place, items))

    with ThreadPoolExecutor(max_workers=max(1, len(states)), thread_name_prefix="map") as maps:
        return list(maps.map(_map, states))


def run(users: int = 200, strategies_per_user: int = 2, latency_ms: tuple[float, float] = (20.0, 50.0),
        map_concurrency: str = "config", lead_s: float | None = None, seed: int = 20260817) -> dict[str, Any]:
    """Run the slot; returns {figure_name: value} (ms, counts) plus "_notes" (strings).

    Args:
        users: users, each with 2 PAPER accounts and ``strategies_per_user`` strategies.
        latency_ms: (low, high) simulated broker round trip per call, uniform, seeded.
        map_concurrency: "config" (MaxConcurrency per event from the environment, 40) or "all".
        lead_s: seconds between the end of the Wait and execute_at for the Map (intent writes
            happen in it). Default: 2 s (the state machine's) plus 50 ms per work item, because
            this process writes every account's intents on 2 cores where AWS runs one Lambda per
            account; ``prewait_late_items`` says whether it sufficed.
    """
    from shared_utils.clock import IST, OffsetClock, parse_instant
    from shared_utils.execution.emitter import run_emitter
    from shared_utils.execution.events import EXECUTION_DUE
    from shared_utils.execution.steps import finalize, prepare, resolve

    out: dict[str, Any] = {}
    t_total = time.perf_counter()
    with moto_tables() as (env, repos), fast_moto_queries():
        clock = SwitchClock(OffsetClock(datetime(2026, 8, 17, 9, 29, 0, tzinfo=IST)))
        latency = seeded_latency(latency_ms[0] / 1000, latency_ms[1] / 1000, seed)
        ctx = engine_context(repos, env, clock, latency=latency)
        t0 = time.perf_counter()
        with fast_moto_transactions():
            created = create_users(repos, env, users, strategies_per_user, clock)
        out["setup_s"] = time.perf_counter() - t0

        clock.inner = OffsetClock(datetime(2026, 8, 17, 9, 29, 10, tzinfo=IST))
        emitted = run_emitter(ctx, lookahead_minutes=1)
        events = [d for _, t, d in ctx.publisher.drain(EXECUTION_DUE) if d["execution_type"] == "ENTRY"]
        assert emitted.due == users * strategies_per_user, (emitted.due, emitted.skipped)

        ops: dict[str, int] = defaultdict(int)
        repos.table.client.meta.events.register("before-call.dynamodb", lambda model, **kw: ops.__setitem__(
            model.name, ops[model.name] + 1))
        states, prep_ms = [], []
        prepared = []
        for n, detail in enumerate(events):
            t0 = time.perf_counter()
            prepared.append(prepare(detail, ctx, f"bench-{n}"))
            prep_ms.append((time.perf_counter() - t0) * 1000)
        # Resolve runs after the Wait (execute_at - 2 s), so limit prices are seconds old at the
        # send, as deployed: a hedge priced a minute early may not fill and then holds its shorts back
        clock.inner = OffsetClock(parse_instant(events[0]["wait_until"]))
        for n, state in enumerate(prepared):
            t0 = time.perf_counter()
            states.append(resolve(state, ctx))
            prep_ms[n] += (time.perf_counter() - t0) * 1000
        items = [item for s in states for item in s["work_items"]]
        configured = env.settings.execution_engine.map_max_concurrency
        execute_at = parse_instant(events[0]["execute_at"])
        lead = lead_s if lead_s is not None else 2.0 + 0.05 * len(items)

        clock.arrivals.clear()
        clock.inner = OffsetClock(execute_at - timedelta(seconds=lead))
        t0 = time.perf_counter()
        placements = _place_all(ctx, states, map_concurrency, configured)
        map_s = time.perf_counter() - t0
        statuses: dict[str, int] = defaultdict(int)
        for state, placed in zip(states, placements):
            for summary in finalize({**state, "placements": placed}, ctx)["results"]:
                statuses[summary["status"]] += 1

        orders = []
        for state in states:
            for ref in state["executions"]:
                orders += repos.orders.list_for_execution(ref["user_id"], ref["execution_id"])

    lags = [o.lag_ms for o in orders if o.lag_ms is not None]
    by_account: dict[str, list[Any]] = defaultdict(list)
    for order in orders:
        by_account[order.client_id].append(order)
    first = [min(o.lag_ms for o in account if o.lag_ms is not None) for account in by_account.values()]
    unqueued_keys = {(it["execution_id"], it["client_id"]) for st in states
                     for it in (st["work_items"] if map_concurrency == "all" else st["work_items"][:configured])}
    unqueued_accounts: dict[str, list[float]] = defaultdict(list)
    for order in orders:
        if (order.execution_id, order.client_id) in unqueued_keys and order.lag_ms is not None:
            unqueued_accounts[order.client_id].append(order.lag_ms)
    first_unqueued = [min(v) for v in unqueued_accounts.values()]
    acked = [o.acked_at for o in orders if o.acked_at is not None]
    completion_ms = (max(acked) - execute_at).total_seconds() * 1000 if acked else float("nan")
    busiest = max(len(account) for account in by_account.values())
    bound_ms = busiest / ORDERS_PER_SECOND * 1000 + latency_ms[1]
    per_item_queue = [max(0, len(s["work_items"]) - configured) for s in states]
    reads = sum(v for k, v in ops.items() if k in ("GetItem", "Query", "BatchGetItem"))
    writes = sum(v for k, v in ops.items() if k in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems",
                                                      "BatchWriteItem"))
    executions = max(1, emitted.due)
    out.update({
        "dynamodb_reads_per_execution": reads / executions, "dynamodb_writes_per_execution": writes / executions,
        "users": users, "accounts": len(by_account), "strategies": emitted.due, "events": len(events),
        "work_items": len(items), "orders": len(orders), "orders_sent": len(lags),
        "orders_accepted": sum(1 for o in orders if o.status.value in ("OPEN", "FILLED", "PARTIALLY_FILLED")),
        "executions_completed": statuses.get("COMPLETED", 0),
        "first_order_lag_p50_ms": percentile(first, 50), "first_order_lag_p99_ms": percentile(first, 99),
        "first_order_lag_max_ms": max(first) if first else float("nan"),
        "all_orders_lag_p50_ms": percentile(lags, 50), "all_orders_lag_p99_ms": percentile(lags, 99),
        "all_orders_lag_max_ms": max(lags) if lags else float("nan"),
        "unqueued_first_order_lag_p50_ms": percentile(first_unqueued, 50),
        "unqueued_first_order_lag_p99_ms": percentile(first_unqueued, 99),
        "unqueued_accounts": len(first_unqueued),
        "orders_sent_early": sum(1 for lag in lags if lag < 0),
        "slot_completion_ms": completion_ms, "slot_completion_bound_ms": bound_ms,
        "slot_completion_ratio": completion_ms / bound_ms,
        "slot_completion_ratio_vs_one_round_trip": completion_ms / latency_ms[1],
        "busiest_account_orders": busiest,
        "prepare_resolve_per_event_p50_ms": percentile(prep_ms, 50),
        "prepare_resolve_per_event_max_ms": max(prep_ms) if prep_ms else float("nan"),
        "map_lead_s": lead, "map_wall_s": map_s,
        "map_queued_items": sum(per_item_queue) if map_concurrency == "config" else 0,
        "prewait_late_items": sum(1 for late in clock.arrivals if late > 0),
        "total_s": time.perf_counter() - t_total,
    })
    out["_notes"] = {"map_concurrency": map_concurrency, "configured_max_concurrency": configured,
                     "latency_ms": list(latency_ms), "created_users": len(created)}
    return out


if __name__ == "__main__":  # pragma: no cover - manual runs
    import json
    import sys

    scale = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    mode = sys.argv[2] if len(sys.argv) > 2 else "config"
    print(json.dumps(run(users=scale, map_concurrency=mode), indent=1, default=str))


def run_isolated(samples: int = 30, latency_ms: tuple[float, float] = (20.0, 50.0), lead_s: float = 0.4,
                 seed: int = 20260818) -> dict[str, Any]:
    """What ONE PlaceOrders Lambda achieves: each account's work item placed alone.

    In AWS every (execution, account) branch of the Map is its own Lambda on its own hardware;
    in this process 800 concurrent branches share 2 cores and one GIL with moto, which measures
    the harness, not the engine. Here ``samples`` users (2 PAPER accounts, the seed strategy)
    are prepared and resolved, then each work item runs ``place_orders`` by itself: intents
    written, sleep to its ``execute_at`` (the clock is set ``lead_s`` before it), send, save.
    Same broker latency model (20-50 ms) and limiter. Figures in ms; the slot-completion ratio
    is the slowest account's last ack (what the slot's completion is when accounts run in
    parallel Lambdas) over the rate-limit bound.
    """
    from shared_utils.clock import IST, OffsetClock, parse_instant
    from shared_utils.execution.emitter import run_emitter
    from shared_utils.execution.events import EXECUTION_DUE
    from shared_utils.execution.placer import place_orders
    from shared_utils.execution.steps import prepare, resolve

    with moto_tables() as (env, repos), fast_moto_queries():
        clock = SwitchClock(OffsetClock(datetime(2026, 8, 17, 9, 29, 0, tzinfo=IST)))
        ctx = engine_context(repos, env, clock, latency=seeded_latency(latency_ms[0] / 1000, latency_ms[1] / 1000, seed))
        with fast_moto_transactions():
            create_users(repos, env, samples, 1, clock)
        clock.inner = OffsetClock(datetime(2026, 8, 17, 9, 29, 10, tzinfo=IST))
        run_emitter(ctx, lookahead_minutes=1)
        events = [d for _, t, d in ctx.publisher.drain(EXECUTION_DUE) if d["execution_type"] == "ENTRY"]
        prepared = [prepare(detail, ctx, f"iso-{n}") for n, detail in enumerate(events)]
        clock.inner = OffsetClock(parse_instant(events[0]["wait_until"]))  # Resolve runs after the Wait
        items = []
        for state in prepared:
            items += resolve(state, ctx)["work_items"]
        execute_at = parse_instant(events[0]["execute_at"])
        firsts, lags, completions, sizes = [], [], [], []
        for item in items:
            clock.inner = OffsetClock(execute_at - timedelta(seconds=lead_s))
            result = place_orders(item, ctx)
            records = repos.orders.list_for_execution(item["user_id"], item["execution_id"], item["client_id"])
            item_lags = [r.lag_ms for r in records if r.lag_ms is not None]
            firsts.append(min(item_lags))
            lags += item_lags
            acked = [r.acked_at for r in records if r.acked_at is not None]
            completions.append((max(acked) - execute_at).total_seconds() * 1000)
            assert set(result["statuses"]) <= {"OPEN", "FILLED"}, result
            sizes.append(len(records))
        busiest = max(sizes)
        bound_ms = busiest / ORDERS_PER_SECOND * 1000 + latency_ms[1]
    return {
        "isolated_accounts": len(items),
        "isolated_first_order_lag_p50_ms": percentile(firsts, 50),
        "isolated_first_order_lag_p99_ms": percentile(firsts, 99),
        "isolated_all_orders_lag_p50_ms": percentile(lags, 50),
        "isolated_all_orders_lag_p99_ms": percentile(lags, 99),
        "isolated_orders_sent_early": sum(1 for lag in lags if lag < 0),
        "isolated_slot_completion_ms": max(completions),
        "isolated_slot_completion_ratio": max(completions) / bound_ms,
        "_notes": {"samples": samples, "lead_s": lead_s},
    }
