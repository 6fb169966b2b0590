"""Runs the state machine's steps in order in one process: the local platform, the functional
tests and the benchmarks. Same steps, same order as the Express state machine:
Prepare -> (claimed? else stop) -> [EXIT: Wait until ``cancel_at`` -> PreCancel] -> Wait until
``wait_until`` -> Resolve -> Map(PlaceOrders,
bounded concurrency) -> Finalize.
"""

from __future__ import annotations

import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared_utils.clock import parse_instant
from shared_utils.execution.context import EngineContext
from shared_utils.execution.exits import pre_cancel_exits
from shared_utils.execution.steps import finalize, place_orders, prepare, resolve


def run_state_machine(detail: dict[str, Any], ctx: EngineContext, run_id: str | None = None,
                      max_concurrency: int | None = None) -> dict[str, Any]:
    """One "Strategy Execution Due" event, start to finish. Returns Finalize's output (or
    Prepare's when nothing was claimed)."""
    run_id = run_id or f"local-{uuid.uuid4().hex[:12]}"
    state = prepare(detail, ctx, run_id)
    if state["claimed_count"] == 0:
        return {**state, "results": []}
    if state.get("cancel_at"):  # EXIT: resting stops cancelled ahead of the second (issue 21 item 3)
        ctx.clock.sleep_until(parse_instant(state["cancel_at"]))
        state = pre_cancel_exits(state, ctx)
    ctx.clock.sleep_until(parse_instant(state["wait_until"]))
    state = resolve(state, ctx)
    items = state["work_items"]
    concurrency = max(1, min(max_concurrency or ctx.env.settings.execution_engine.map_max_concurrency, len(items) or 1))

    def _place(item: dict[str, Any]) -> dict[str, Any]:
        # the Map state's Catch (States.ALL -> Pass storing the error at $.error): the placement
        # is the item plus ``error``, never a retry; Finalize settles what the branch left
        try:
            return place_orders(item, ctx)
        except Exception as exc:  # noqa: BLE001
            return {**item, "error": {"Error": type(exc).__name__, "Cause": str(exc)},
                    "trace": traceback.format_exc(limit=3)}

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="place") as pool:
        state["placements"] = list(pool.map(_place, items))
    return finalize(state, ctx)
