"""``make bench``: run every measure, write bench/results.json and BENCHMARKS.md.

Each measure runs in this process one after the other (timing first, on a quiet process);
``--quick`` runs tiny scales (the smoke test's path). Total wall time is in results.json
(``bench_total_s``, seconds).
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any

from bench import api, coldstart, cost, demo_lag, discovery, payload, preview, timing
from bench.common import ROOT, fake_aws_environment, machine
from bench.report import write_report

SCALES = {
    "full": {"timing": dict(users=200), "isolated": dict(samples=30), "discovery": dict(small_users=1000, large_users=10000),
             "api": dict(rounds=60), "coldstart": dict(runs=3), "cost": dict(synth=True), "preview": dict(rounds=60), "payload": {}, "demo_lag": {}},
    "quick": {"timing": dict(users=2, lead_s=2.5), "isolated": dict(samples=2), "discovery": dict(small_users=20, large_users=60, sample=10),
              "api": dict(rounds=3, warmup=1),
              "coldstart": dict(runs=1, modules=["lambda_functions.options_platform.baskets"]),
              "cost": dict(synth=False), "preview": dict(rounds=3, warmup=1), "payload": {},
              "demo_lag": None},  # a whole local demo (~3 min): full scale only
}


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 3)
    return value


def run(scale: str = "full", write: bool = True) -> dict[str, Any]:
    fake_aws_environment()
    conf = SCALES[scale]
    started = time.perf_counter()
    results: dict[str, Any] = {}
    notes: dict[str, Any] = {}
    durations: dict[str, float] = {}
    for name, fn in (("timing", timing.run), ("isolated", timing.run_isolated), ("discovery", discovery.run),
                     ("api", api.run), ("preview", preview.run), ("coldstart", coldstart.run), ("payload", payload.run),
                     ("demo_lag", demo_lag.run)):
        if conf.get(name) is None:
            continue
        t0 = time.perf_counter()
        try:
            figures = fn(**conf[name])
        except Exception as exc:  # noqa: BLE001 - one broken measure must not lose the others
            figures = {"_notes": {"error": f"{type(exc).__name__}: {exc}"}}
            results[f"bench_{name}_failed"] = 1
        durations[name] = time.perf_counter() - t0
        notes[name] = figures.pop("_notes", None)
        prefix = "timing_"
        for key, value in figures.items():
            results[key if name != "timing" or key.startswith(("first_", "all_", "orders_sent_early", "slot_"))
                    else prefix + key] = value
        if not figures:
            print(f"bench: {name} FAILED: {notes[name]}", flush=True)
        print(f"bench: {name} done in {durations[name]:.1f} s", flush=True)
    t0 = time.perf_counter()
    figures = cost.run(dynamodb_reads_per_execution=results.get("timing_dynamodb_reads_per_execution", 30.0),
                       dynamodb_writes_per_execution=results.get("timing_dynamodb_writes_per_execution", 15.0),
                       **conf["cost"])
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
