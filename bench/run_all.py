"""``make bench``: run every measure, write bench/results.json and BENCHMARKS.md.

Each measure runs in this process one after the other (timing first, on a quiet process);
``--quick`` runs tiny scales (the smoke test's path). Total wall time is in results.json
(``bench_total_s``, seconds).
"""

from __future__ import annotations

import inspect
import json
import math
import sys
import time
from typing import Any

import os

from bench import api, aws_requests, coldpath, coldstart, cost, demo_lag, discovery, payload, preview, timing
from bench.common import ROOT, fake_aws_environment, machine
from bench.report import write_report

#: "full" keeps ``make bench`` under 10 minutes on the shared 2-core machine (issue 14)
SCALES = {
    "full": {"timing": dict(users=50), "isolated": dict(samples=15), "discovery": dict(small_users=500, large_users=4000),
             # issue 20: the executions of 10,000 subscribers of one basket found by the slot index
             "subscribers": dict(count=10_000, other_users=1_000, sample=100),
             "api": dict(rounds=20), "api_cpu": dict(rounds=30), "coldstart": dict(runs=1), "cost": dict(synth=True),
             "preview": dict(rounds=20), "payload": {}, "requests": {}, "coldpath": dict(runs=2, import_runs=2),
             # one demo (~3 min): the paper demo beside it would double that (issue 21's figure is the fakes')
             "demo_lag": dict(runs=1, paper=False)},
    "quick": {"timing": dict(users=2, lead_s=2.5), "isolated": dict(samples=2), "discovery": dict(small_users=20, large_users=60, sample=10),
              "subscribers": dict(count=50, other_users=10, sample=5),
              "api": dict(rounds=3, warmup=1), "api_cpu": dict(rounds=3, warmup=1),
              "coldstart": dict(runs=1, modules=["lambda_functions.options_platform.baskets"]),
              "cost": dict(synth=False), "preview": dict(rounds=3, warmup=1), "payload": {},
              "requests": dict(batched_strategies=2),
              "coldpath": None,  # fresh 3.12 interpreters over built layers (~2 min): full scale only
              "demo_lag": None},  # a whole local demo (~3 min): full scale only
}

#: measures whose figures are timings on this machine: their load average is reported beside them
TIMED = ("timing", "isolated", "discovery", "subscribers", "api", "api_cpu", "preview", "coldstart", "coldpath", "demo_lag")
#: what a measure adds to the load average itself (busy processes at once): subtracted from the
#: load seen after it, so the column says what ELSE ran (the cold path runs two interpreters at
#: once, the Map's two branches; the demo runs the platform and its client)
OWN_LOAD = {"coldpath": 2.0, "demo_lag": 2.0}


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 3)
    return value


def _cost_inputs(results: dict[str, Any]) -> dict[str, Any]:
    """What the cost model takes from this run's measurements (falls back to its assumptions
    for whatever a failed measure did not produce)."""
    inputs: dict[str, Any] = {}
    ops = results.get("ddb_requests_per_entry_execution")
    if ops is not None:  # counted through the real ASL: reads ~ half (the notes split them by operation)
        inputs["dynamodb_reads_per_execution"] = results.get("requests_ddb_reads_per_execution", ops / 2)
        inputs["dynamodb_writes_per_execution"] = results.get("requests_ddb_writes_per_execution", ops / 2)
    durations = {step: results.get(f"requests_warm_duration_{step}_ms") for step in ("prepare", "resolve", "place_orders", "finalize")}
    if all(v is not None for k, v in durations.items() if k != "resolve") and durations["prepare"] is not None:
        inputs["durations_s"] = {k: (v or 0.0) / 1000 for k, v in durations.items()}
        if results.get("wait_lead_ms") is not None:
            inputs["wait_lead_s"] = results["wait_lead_ms"] / 1000
    init = {}
    for step, memory in (("prepare", 512), ("resolve", 1024), ("place_orders", 1024), ("finalize", 512)):
        ms = results.get(f"import_{step}_cold_ms")
        if ms is not None:
            init[step] = ms / 1000 * 1769 / memory  # one vCPU here -> the function's CPU share in Lambda
    if init:
        inputs["cold_init_s"] = init
    for service, key in (("secretsmanager", "secret_reads_per_account_execution"), ("kms", "kms_calls_per_account_execution")):
        calls = results.get(f"{service}_calls_per_execution")
        if calls:  # PAPER accounts make none: the model's one per LIVE account stays
            inputs[key] = calls / 2
    if results.get("requests_orders_sent_seed"):
        inputs["orders_per_execution"] = results["requests_orders_sent_seed"]
    return inputs


def run(scale: str = "full", write: bool = True) -> dict[str, Any]:
    fake_aws_environment()
    conf = SCALES[scale]
    started = time.perf_counter()
    results: dict[str, Any] = {}
    notes: dict[str, Any] = {}
    durations: dict[str, float] = {}
    for name, fn in (("requests", aws_requests.run), ("payload", payload.run), ("coldpath", coldpath.run),
                     ("api_cpu", api.run_cpu), ("timing", timing.run), ("isolated", timing.run_isolated),
                     ("discovery", discovery.run), ("subscribers", discovery.subscribers), ("api", api.run), ("preview", preview.run),
                     ("coldstart", coldstart.run), ("demo_lag", demo_lag.run)):
        if conf.get(name) is None:
            continue
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        try:
            accepted = inspect.signature(fn).parameters
            figures = fn(**{k: v for k, v in conf[name].items() if k in accepted})
        except Exception as exc:  # noqa: BLE001 - one broken measure must not lose the others
            figures = {"_notes": {"error": f"{type(exc).__name__}: {exc}"}}
            results[f"bench_{name}_failed"] = 1
        durations[name] = time.perf_counter() - t0
        if name in TIMED:  # the 1-minute load average of OTHER work around the measure
            load_after = os.getloadavg()[0]
            results[f"load_{name}"] = max(load_before, load_after - OWN_LOAD.get(name, 1.0))
            results[f"load_{name}_before"], results[f"load_{name}_after"] = load_before, load_after
        notes[name] = figures.pop("_notes", None)
        prefix = "timing_"
        for key, value in figures.items():
            results[key if name != "timing" or key.startswith(("first_", "all_", "orders_sent_early", "slot_"))
                    else prefix + key] = value
        if not figures:
            print(f"bench: {name} FAILED: {notes[name]}", flush=True)
        print(f"bench: {name} done in {durations[name]:.1f} s", flush=True)
    t0 = time.perf_counter()
    figures = cost.run(**_cost_inputs(results), **conf["cost"])
    durations["cost"] = time.perf_counter() - t0
    notes["cost"] = figures.pop("_notes", None)
    results.update(figures)
    results["bench_total_s"] = time.perf_counter() - started
    for name, seconds in durations.items():
        results[f"bench_{name}_s"] = seconds
    results = {k: _clean(v) for k, v in sorted(results.items())}
    document = {**results, "meta": {**machine(), "scale": scale, "notes": notes}}
    if write:
        (ROOT / "bench" / "results.json").write_text(json.dumps(document, indent=1, default=str) + "\n")
        write_report(document)
    return document


if __name__ == "__main__":
    run("quick" if "--quick" in sys.argv else "full")
