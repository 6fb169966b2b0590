"""[ddb_requests_per_execution], [ddb_requests_during_sends]: AWS requests of one entry execution,
counted through the execution state machine AS SYNTHESIZED (``shared_utils.execution.asl_runner``,
moto's ASL interpreter invoking the real handlers), not by calling the steps by hand.

How it counts (deterministic: counts, not wall-clock):

- Every botocore request of the process is seen by a hook on ``BaseClient._make_api_call`` (the
  one place every boto3 client call passes, whichever session or client made it); each is
  recorded with its service, operation, a global sequence number and the Lambda task the
  calling thread is running. The task comes from wrapping ``asl_runner.invoke_handler`` (the
  function the interpreter calls for each Lambda task, on the Map branch's own thread): the
  module (``prepare``, ``resolve``, ``place_orders``, ``finalize``...) and the work item's
  ``client_id``.
- Every broker send (``place_order`` of the client the engine obtains from ``ctx.clients``) is
  recorded the same way. ``ddb_requests_during_sends`` = DynamoDB requests made by a PlaceOrders
  task between ITS account's first and last send (sequence numbers of the same thread: exact).
- Scenarios: the seed (one strategy, the iron condor, 2 PAPER accounts: the config of the 55.5 of
  issue 14) and a batched slot (``strategies`` strategies of as many users due in one event, the
  emitter batching them into one execution as deployed), on in-process moto with a FixedClock
  (the Wait and the sleep to ``execute_at`` advance it instantly).

Figures: ``ddb_requests_per_execution`` (seed, all steps, per strategy-account: / its 2 accounts),
``ddb_requests_per_execution_<step>`` (the same by step; they sum to it),
``ddb_requests_per_entry_execution`` (seed, the whole execution: the unit of issue 14's 55.5),
``ddb_requests_per_execution_batched`` (batched slot, per strategy-account), ``ddb_requests_during_sends`` (max over every account of both
scenarios), ``secretsmanager_calls_per_execution``, ``kms_calls_per_execution`` (seed; the
cost model's per-call inputs).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Iterator

#: issue 14's count before the request diet, per entry execution (seed: 1 strategy, 2 accounts)
BEFORE = 55.5
#: the seed strategy's accounts (one Zerodha, one Angel, both PAPER)
ACCOUNTS = 2

_local = threading.local()


class Recorder:
    """AWS requests and broker sends, in one global order."""

    def __init__(self) -> None:
        self.seq = itertools.count()
        self.lock = threading.Lock()
        self.calls: list[tuple[int, str, str, str, str | None]] = []  # (seq, service, op, module, client_id)
        self.sends: list[tuple[int, int, str, str | None]] = []  # (start seq, end seq, module, client_id)
        #: wall ms of each task invocation, in-process and warm (moto's CPU included: an upper bound)
        self.durations: dict[str, list[float]] = {}

    def task(self) -> tuple[str, str | None]:
        return getattr(_local, "module", "outside"), getattr(_local, "client_id", None)

    def call(self, service: str, operation: str) -> None:
        module, client_id = self.task()
        with self.lock:
            self.calls.append((next(self.seq), service, operation, module, client_id))

    def next(self) -> int:
        with self.lock:
            return next(self.seq)


@contextmanager
def recording(ctx: Any) -> Iterator[Recorder]:
    """Install the botocore hook, the task tagging and the send recording for ``ctx``."""
    from botocore.client import BaseClient

    from shared_utils.execution import asl_runner

    rec = Recorder()
    original_call = BaseClient._make_api_call
    original_invoke = asl_runner.invoke_handler
    original_clients = ctx.clients

    def make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        rec.call(self.meta.service_model.service_name, operation_name)
        return original_call(self, operation_name, api_params)

    def invoke_handler(module: str, payload: Any, ctx_: Any, step: Any = None) -> Any:
        event = json.loads(payload)
        previous = (getattr(_local, "module", None), getattr(_local, "client_id", None))
        _local.module = module
        _local.client_id = event.get("client_id") if isinstance(event, dict) else None
        started = time.perf_counter()
        try:
            return original_invoke(module, payload, ctx_, step)
        finally:
            with rec.lock:
                rec.durations.setdefault(module, []).append((time.perf_counter() - started) * 1000)
            _local.module, _local.client_id = previous

    class CountingProvider:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def client_for(self, account: Any) -> Any:
            client = self.inner.client_for(account)
            if not getattr(client, "_bench_counted", False):
                send = client.place_order

                def place_order(request: Any, *args: Any, **kwargs: Any) -> Any:
                    start = rec.next()
                    try:
                        return send(request, *args, **kwargs)
                    finally:
                        module, client_id = rec.task()
                        with rec.lock:
                            rec.sends.append((start, next(rec.seq), module, client_id))

                client.place_order = place_order
                client._bench_counted = True
            return client

    BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
    asl_runner.invoke_handler = invoke_handler
    ctx.clients = CountingProvider(original_clients)
    try:
        yield rec
    finally:
        BaseClient._make_api_call = original_call  # type: ignore[method-assign]
        asl_runner.invoke_handler = original_invoke
        ctx.clients = original_clients


def _during_sends(rec: Recorder) -> dict[str, int]:
    """DynamoDB requests of each account's PlaceOrders between its first and last send."""
    windows: dict[tuple[str, str | None], list[int]] = {}
    for start, end, module, client_id in rec.sends:
        key = (module, client_id)
        low, high = windows.get(key, [start, end])
        windows[key] = [min(low, start), max(high, end)]
    found: dict[str, int] = {}
    for (module, client_id), (low, high) in windows.items():
        found[str(client_id)] = sum(1 for seq, service, _, m, c in rec.calls
                                    if service == "dynamodb" and m == module and c == client_id and low < seq < high)
    return found


def _during_sends_operations(rec: Recorder) -> dict[str, int]:
    """Which DynamoDB operations fell between an account's first and last send (all accounts)."""
    windows: dict[tuple[str, str | None], list[int]] = {}
    for start, end, module, client_id in rec.sends:
        low, high = windows.get((module, client_id), [start, end])
        windows[(module, client_id)] = [min(low, start), max(high, end)]
    ops: Counter = Counter()
    for seq, service, op, m, c in rec.calls:
        window = windows.get((m, c))
        if service == "dynamodb" and window and window[0] < seq < window[1]:
            ops[op] += 1
    return dict(ops)


def _scenario(users: int) -> tuple[dict[str, Any], Recorder, int]:
    """``users`` users with the seed strategy (2 PAPER accounts) due in the same slot, one
    "Strategy Execution Due" event through the real ASL. Returns (run summary, recorder,
    strategies)."""
    from bench.common import create_users, engine_context, fast_moto_transactions, moto_tables
    from shared_utils.clock import IST, FixedClock, to_ist
    from shared_utils.execution.asl_runner import run_events
    from shared_utils.execution.emitter import run_emitter
    from shared_utils.execution.events import EXECUTION_DUE

    with moto_tables() as (env, repos):
        clock = FixedClock(datetime(2026, 8, 17, 9, 28, 5, tzinfo=IST))
        ctx = engine_context(repos, env, clock, latency=0.0)
        slot = (to_ist(clock.now()) + timedelta(minutes=env.settings.execution_engine.lookahead_minutes)).strftime("%H:%M")
        with fast_moto_transactions():
            create_users(repos, env, users, 1, clock, entry_time=slot)
        run_emitter(ctx)
        details = [d for _, _, d in ctx.publisher.drain(EXECUTION_DUE) if d["execution_type"] == "ENTRY"]
        with recording(ctx) as rec:
            runs = [run_events(detail, ctx) for detail in details]
        statuses = [r.status for r in runs]
        sent = len(rec.sends)
    return {"runs": statuses, "events": len(details), "sends": sent}, rec, users


def run(batched_strategies: int = 10) -> dict[str, Any]:
    from bench.common import fake_aws_environment

    fake_aws_environment()
    seed_summary, seed, strategies = _scenario(1)
    batch_summary, batch, batch_strategies = _scenario(batched_strategies)
    by_step = Counter(m for _, service, _, m, _ in seed.calls if service == "dynamodb")
    ops = defaultdict(Counter)
    for _, service, op, m, _ in seed.calls:
        if service == "dynamodb":
            ops[m][op] += 1
    services = Counter(service for _, service, _, _, _ in seed.calls)
    during = {**{f"batch:{k}": v for k, v in _during_sends(batch).items()},
              **{f"seed:{k}": v for k, v in _during_sends(seed).items()}}
    total = sum(by_step.values())
    reads = sum(1 for _, service, op, _, _ in seed.calls if service == "dynamodb" and op in ("GetItem", "Query", "BatchGetItem", "Scan"))
    batch_total = sum(1 for _, service, _, _, _ in batch.calls if service == "dynamodb")
    out: dict[str, Any] = {
        "ddb_requests_per_execution": total / strategies / ACCOUNTS,
        "ddb_requests_per_entry_execution": total / strategies,
        "ddb_requests_per_execution_batched": batch_total / batch_strategies / ACCOUNTS,
        "ddb_requests_during_sends": max(during.values(), default=0),
        "requests_ddb_reads_per_execution": reads / strategies,
        "requests_ddb_writes_per_execution": (total - reads) / strategies,
        "ddb_requests_before_ratio": total / strategies / BEFORE,
        "secretsmanager_calls_per_execution": services.get("secretsmanager", 0) / strategies,
        "kms_calls_per_execution": services.get("kms", 0) / strategies,
        "requests_orders_sent_seed": seed_summary["sends"],
        "requests_orders_sent_batched": batch_summary["sends"],
    }
    for step, count in by_step.items():
        out[f"ddb_requests_per_execution_{step}"] = count / strategies / ACCOUNTS
    from bench.common import median

    for module, values in seed.durations.items():  # the cost model's Lambda durations (warm, in-process)
        out[f"requests_warm_duration_{module}_ms"] = median(values)
    out["_notes"] = {
        "seed": seed_summary, "batched": {**batch_summary, "strategies": batch_strategies},
        "seed_operations_by_step": {m: dict(c) for m, c in ops.items()},
        "during_sends_by_account": during,
        "during_sends_operations_seed": _during_sends_operations(seed),
        "services_seed": dict(services),
    }
    if set(seed_summary["runs"]) != {"SUCCEEDED"} or not seed_summary["sends"]:
        out["_notes"]["warning"] = f"seed run did not succeed with sends: {seed_summary}"
    return out


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(), indent=1, default=str))
