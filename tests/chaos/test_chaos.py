"""``make test``'s share of the chaos harness: a fixed set of 50 seeded days (seeds 0-49) on the
paper brokers and 5 on the protocol fakes, through the engine with injected faults, then I1-I8
(tests/chaos/harness.py; ``make chaos`` runs 500 + 40 and prints the summary line).

The days run in a subprocess (``python -m tests.chaos.run``): the harness patches the process
(an in-memory DynamoDB client, simulated ``time`` in the engine's modules, step wrappers), which
must not leak into the other tests of this pytest worker.

Each invariant is its own test. A violation fails its test unless the issue item it matches
is listed in ``KNOWN_OPEN`` (empty since every item of issue 13 is fixed): the harness holds
every invariant to 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PAPER_DAYS = 50
FAKE_DAYS = 5

#: issue 13 items still open, by owner. Empty: every item is fixed and ``make chaos`` reported 0
#: violations over 540 days (h13d), so any violation fails its invariant's test. Add an item here
#: only with the owner and the reason while its fix is in flight.
KNOWN_OPEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    out = tmp_path_factory.mktemp("chaos") / "days.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QL_CONFIG_FILE": str(ROOT / "config" / "environments.json")}
    run = subprocess.run([sys.executable, "-m", "tests.chaos.run", "--days", str(PAPER_DAYS), "--fake-days",
                          str(FAKE_DAYS), "--workers", "1", "--no-shrink", "--json", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert out.exists(), f"the harness did not finish:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
    print(run.stdout.splitlines()[0])  # chaos: N days, M faults injected, K violations
    return json.loads(out.read_text())


def _key(item: str) -> str:
    return item.split(" (")[0].split(":")[0].strip()


def _replay(day: dict) -> str:
    flag = " --brokers fake" if day["brokers"] == "fake" else ""
    return f"python -m tests.chaos.run --seed {day['seed']}{flag} --faults '{','.join(day['fired'])}'"


@pytest.mark.parametrize("invariant", ["I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8"])
def test_invariant_holds_over_the_chaos_days(days, invariant):
    assert len(days) == PAPER_DAYS + FAKE_DAYS
    errors = [f"seed {d['seed']} ({d['brokers']}): {d['error']}" for d in days if d["error"]]
    assert not errors, "the harness or the engine crashed:\n" + "\n".join(errors[:3])
    found = [(d, v) for d in days for v in d["violations"] if v["invariant"] == invariant]
    new = [(d, v) for d, v in found if _key(v["item"]) not in KNOWN_OPEN]
    assert not new, "\n".join(f"seed {d['seed']} ({d['brokers']}): {v['message']} [{v['item'] or 'no known item'}]"
                              f" -- replay: {_replay(d)}" for d, v in new[:8])
    if found:
        per_item = defaultdict(set)
        for d, v in found:
            per_item[_key(v["item"])].add(d["seed"])
        pytest.xfail("known open (issue 13): " + "; ".join(
            f"{item} ({KNOWN_OPEN[item].split(':')[0]}) on {len(seeds)} days, e.g. seed {min(seeds)}"
            for item, seeds in sorted(per_item.items())))


def test_the_fixed_days_inject_every_kind_of_fault(days):
    """The fixed days are not a quiet sample: every kind of fault fires, on both broker kinds."""
    fired = [f for d in days for f in d["fired"]]
    kinds = {f.split("@")[0] for f in fired}
    assert {"crash_write", "broker", "fill", "tick_lost", "tick_late", "tick_dup", "dup_event", "late_event",
            "late_start", "throttle", "retry_place", "kill"} <= kinds, sorted(kinds)
    broker_calls = {f.split("@")[1].split("#")[0] for f in fired if f.startswith("broker@")}
    assert {"place", "cancel"} <= broker_calls, sorted(broker_calls)
    assert any(f["fired"] for f in days if f["brokers"] == "fake")
    assert len(fired) >= 150


@pytest.mark.parametrize("mutation, invariants", [("double_send", {"I1"}), ("drop_positions", {"I4", "I5"})])
def test_the_checks_catch_a_deliberate_defect(mutation, invariants):
    """The checks are not vacuous: a day with no faults is clean, and the same day with every
    send made twice (I1) or every position write dropped (I4, I5) is caught."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QL_CONFIG_FILE": str(ROOT / "config" / "environments.json")}

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tests.chaos.run", "--seed", "2", "--faults", "", *extra],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    clean = run()
    assert clean.returncode == 0 and "0 violations" in clean.stdout, clean.stdout + clean.stderr[-2000:]
    broken = run("--mutation", mutation)
    assert broken.returncode == 1, broken.stdout + broken.stderr[-2000:]
    caught = {line.strip().split(":")[0] for line in broken.stdout.splitlines() if line.startswith("  I")}
    assert invariants <= caught, broken.stdout


def test_the_in_memory_store_gives_moto_s_verdicts():
    """The same 3 days on moto and on the harness's in-memory DynamoDB client: the same faults
    fire and the same violations (same ids, same words) are found."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QL_CONFIG_FILE": str(ROOT / "config" / "environments.json")}
    verdicts = {}
    for store in ("moto", "memory"):
        out = Path(os.environ.get("TMPDIR", "/tmp")) / f"chaos-{store}-{os.getpid()}.json"
        subprocess.run([sys.executable, "-m", "tests.chaos.run", "--days", "3", "--fake-days", "0", "--workers", "1",
                        "--no-shrink", "--store", store, "--json", str(out)], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=600)
        verdicts[store] = [(d["seed"], d["fired"], [v["message"] for v in d["violations"]], d["error"])
                           for d in json.loads(out.read_text())]
        out.unlink()
    assert verdicts["memory"] == verdicts["moto"]
