"""``run_state_machine``: one "Strategy Execution Due" event through the execution-engine state
machine, for the local platform, the functional tests and the benchmarks.

It runs the definition CloudFormation deploys (the synthesized ASL) with an ASL interpreter and
the real Lambda handlers in-process: see :mod:`shared_utils.execution.asl_runner`. (The
hand-written imitation of the state machine that lived here is retired: what runs locally is what
AWS runs.)

A test may replace ``runner.place_orders`` (e.g. with a branch that dies): the PlaceOrders task
then runs that function in the handler's place, invoked and marshalled like the handler.
"""

from __future__ import annotations

from typing import Any

from shared_utils.execution import asl_runner
from shared_utils.execution.asl_runner import StateMachineFailed
from shared_utils.execution.steps import place_orders

_PLACE_ORDERS = place_orders

__all__ = ["StateMachineFailed", "place_orders", "run_state_machine"]


def run_state_machine(detail: dict[str, Any], ctx: Any, run_id: str | None = None,
                      max_concurrency: int | None = None) -> dict[str, Any]:
    """One "Strategy Execution Due" event, start to finish, through the synthesized ASL.
    Returns Finalize's output, or Prepare's (with ``results: []``) when nothing was claimed;
    raises :class:`StateMachineFailed` when the run fails."""
    replaced = globals()["place_orders"]
    steps = {"place_orders": replaced} if replaced is not _PLACE_ORDERS else None
    return asl_runner.run_state_machine(detail, ctx, run_id=run_id, max_concurrency=max_concurrency, steps=steps)
