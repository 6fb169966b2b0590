"""``make chaos``: play seeded trading days through the engine with injected faults and check
I1-I8 after each (tests/chaos/harness.py). Prints one line

    chaos: N days, M faults injected, K violations

(K = days with at least one violation), and for violations: per invariant the days and the
issue items they match, and for the first day of each invariant its seed and a SHRUNK fault
schedule (faults removed one at a time while the same invariant still breaks), so

    python -m tests.chaos.run --seed 123 --faults 'broker@place#3(2),fill@partial#1(2)'

replays it. Options: ``--days`` (500), ``--first`` (first seed, 0), ``--workers`` (2),
``--fake-days`` (40: the same scenarios on the protocol fakes through the real SDKs),
``--store memory|moto`` (the in-memory DynamoDB client, or moto for a fidelity check),
``--json FILE`` (every day's result). Exit status 1 when any day violated an invariant or
crashed the harness.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from typing import Any

FAULT_RE = re.compile(r"^(\w+)@([\w:]+)#(-?\d+)\((-?\d+)\)$")


def parse_faults(text: str) -> list[Any]:
    from tests.chaos.harness import Fault

    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = FAULT_RE.match(part)
        if not match:
            raise SystemExit(f"--faults: {part!r} is not kind@where#n(arg)")
        out.append(Fault(match.group(1), match.group(2), int(match.group(3)), int(match.group(4))))
    return out


def shrink(seed: int, faults: list[Any], invariant: str, budget: int = 14, brokers: str = "paper") -> list[Any]:
    """Remove faults one at a time (fired ones only matter) while ``invariant`` still breaks."""
    from tests.chaos.harness import play_day

    first = play_day(seed, faults, brokers)
    current = list(first.fired)
    if invariant not in {v.invariant for v in play_day(seed, current, brokers).violations}:
        current = list(faults)
    runs = 1
    i = 0
    while i < len(current) and runs < budget:
        trial = current[:i] + current[i + 1:]
        runs += 1
        if invariant in {v.invariant for v in play_day(seed, trial, brokers).violations}:
            current = trial
        else:
            i += 1
    return current


def _summary(result: Any, brokers: str = "paper") -> dict[str, Any]:
    return {"seed": result.seed, "brokers": brokers, "faults": [str(f) for f in result.faults], "fired": [str(f) for f in result.fired],
            "violations": [{"invariant": v.invariant, "message": v.message, "item": v.item} for v in result.violations],
            "error": result.error, "scenario": result.scenario}


def _worker(args: tuple[list[tuple[int, str]], str]) -> list[dict[str, Any]]:
    jobs, store = args
    from tests.chaos.harness import Process, play_day

    Process.get(store)
    return [_summary(play_day(seed, None, brokers), brokers) for seed, brokers in jobs]


def run_days(jobs: list[tuple[int, str]], workers: int, store: str) -> list[dict[str, Any]]:
    """Play ``jobs`` [(seed, "paper"|"fake")] on ``workers`` processes (one in-process store each)."""
    if workers <= 1:
        return _worker((jobs, store))
    import multiprocessing

    chunks = [jobs[i::workers] for i in range(workers)]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers) as pool:
        parts = pool.map(_worker, [(chunk, store) for chunk in chunks])
    return sorted((day for part in parts for day in part), key=lambda d: (d["brokers"] != "paper", d["seed"]))


def report(days: list[dict[str, Any]], elapsed: float, store: str, do_shrink: bool = True) -> int:
    faults = sum(len(d["fired"]) for d in days)
    bad = [d for d in days if d["violations"] or d["error"]]
    by_invariant: dict[str, list[dict[str, Any]]] = defaultdict(list)
    items: dict[str, set[str]] = defaultdict(set)
    for day in days:
        for inv in sorted({v["invariant"] for v in day["violations"]}):
            by_invariant[inv].append(day)
        for v in day["violations"]:
            if v["item"]:
                items[v["invariant"]].add(v["item"].split(":")[0])
    print(f"chaos: {len(days)} days, {faults} faults injected, {len(bad)} violations")
    fake = [d for d in days if d["brokers"] == "fake"]
    print(f"  ({len(days) - len(fake)} days on paper brokers, {len(fake)} on the protocol fakes through the real SDKs; "
          f"{elapsed:.1f} s wall, store={store})")
    errors = [d for d in days if d["error"]]
    for day in errors[:3]:
        print(f"  HARNESS/ENGINE ERROR seed {day['seed']}: {day['error'].splitlines()[0]}")
    for invariant in sorted(by_invariant):
        hit = by_invariant[invariant]
        example = hit[0]
        message = next(v["message"] for v in example["violations"] if v["invariant"] == invariant)
        print(f"  {invariant}: {len(hit)} days; matches {', '.join(sorted(items[invariant])) or 'no known item'}")
        flag = " --brokers fake" if example["brokers"] == "fake" else ""
        print(f"    e.g. seed {example['seed']}{flag}: {message}")
        if do_shrink:
            from tests.chaos.harness import Process

            Process.get(store)
            shrunk = shrink(example["seed"], parse_faults(",".join(example["faults"])), invariant,
                            brokers=example["brokers"])
            schedule = ",".join(str(f) for f in shrunk)
            print(f"    shrunk: python -m tests.chaos.run --seed {example['seed']}{flag} --faults '{schedule}'")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--store", choices=("memory", "moto"), default="memory")
    parser.add_argument("--fake-days", type=int, default=40,
                        help="extra days (seeds --first..) on the protocol fakes through the real SDKs (default 40)")
    parser.add_argument("--brokers", choices=("paper", "fake"), default="paper", help="with --seed: which brokers")
    parser.add_argument("--mutation", choices=("double_send", "drop_positions"),
                        help="with --seed: a deliberate defect the checks must catch (harness self-test)")
    parser.add_argument("--seed", type=int, help="replay one seed (with --faults: that schedule)")
    parser.add_argument("--faults", help="the fault schedule to replay, as printed (kind@where#n(arg),...)")
    parser.add_argument("--json", help="write every day's result to this file")
    parser.add_argument("--no-shrink", action="store_true")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.seed is not None:
        from tests.chaos.harness import Process, play_day

        Process.get(args.store)
        faults = parse_faults(args.faults) if args.faults is not None else None
        result = play_day(args.seed, faults, args.brokers, args.mutation)
        print(f"seed {args.seed}: scenario {result.scenario}")
        print("  faults fired: " + (", ".join(str(f) for f in result.fired) or "none"))
        for v in result.violations:
            print(f"  {v}")
        if result.error:
            print(result.error)
        print(f"chaos: 1 days, {len(result.fired)} faults injected, {1 if result.violations or result.error else 0} violations")
        return 1 if result.violations or result.error else 0
    jobs = [(seed, "paper") for seed in range(args.first, args.first + args.days)]
    jobs += [(seed, "fake") for seed in range(args.first, args.first + args.fake_days)]
    days = run_days(jobs, args.workers, args.store)
    elapsed = time.perf_counter() - start
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(days, handle, indent=1)
    return report(days, elapsed, args.store, not args.no_shrink)


if __name__ == "__main__":
    sys.exit(main())
