"""``run_state_machine``: one "Strategy Execution Due" event through the execution-engine state
machine, for the local platform, the functional tests and the benchmarks.

It runs the definition CloudFormation deploys (the synthesized ASL) with an ASL interpreter and
the real Lambda handlers in-process: see :mod:`shared_utils.execution.asl_runner`. (The
hand-written imitation of the state machine that lived here is retired: what runs locally is what
AWS runs.)
"""

from __future__ import annotations

from shared_utils.execution.asl_runner import StateMachineFailed, run_state_machine

__all__ = ["StateMachineFailed", "run_state_machine"]
