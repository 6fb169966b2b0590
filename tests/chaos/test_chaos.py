"""``make test``'s share of the chaos harness: a fixed set of 50 seeded days (seeds 0-49)
through the engine with injected faults, then I1-I8 (tests/chaos/harness.py; ``make chaos``
runs 500 and prints the summary line).

Each invariant is its own test. A violation fails its test unless the issue item it matches
is listed in ``KNOWN_OPEN``: those are the items other helpers of issue 13 are fixing in
parallel (h13a: steps and placer; h13b: lifecycle and exits). The coordinator removes an item
from ``KNOWN_OPEN`` when its fix is merged; from then on the harness holds it to 0.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.chaos.harness import Process, play_day

pytestmark = pytest.mark.slow

SEEDS = range(50)

#: issue 13 items still open on this branch's base, by owner (the coordinator trims this list
#: as the fixes land). A violation whose item is not listed here fails its test.
KNOWN_OPEN = {
    "item 1": "h13a: a PlaceOrders that fails before its intents / never sends is not NOT_SENT; Finalize counts only what it finds",
    "item 2": "h13b: an exit that finds nothing consumes the day's exit claim",
    "item 3": "h13b: pause drops the exit; DELETE with open positions answers 200",
    "item 4": "h13a/h13b: a fill the records never booked (lost answer reconciled as FILLED 0; order and position written apart)",
    "item 5": "h13a: SELL legs not held back for an unfilled/UNKNOWN/late-rejected hedge; longs sold before shorts bought back",
    "item 6": "h13a/h13b: an order that never reached the broker stays UNKNOWN/working; the exit never finishes",
    "item 7": "h13a: no lateness limit for entries",
    "item 8": "h13a: kill switch read only in Prepare",
    "item 9": "h13a: no size limits",
    "item 12": "h13b: a stop whose send was lost is never resolved",
}


@pytest.fixture(scope="module")
def days():
    Process.get()
    return [play_day(seed) for seed in SEEDS]


def _key(item: str) -> str:
    return item.split(" (")[0].split(":")[0].strip()


@pytest.mark.parametrize("invariant", ["I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8"])
def test_invariant_holds_over_50_chaos_days(days, invariant):
    errors = [f"seed {d.seed}: {d.error.splitlines()[0]}" for d in days if d.error]
    assert not errors, "the harness or the engine crashed:\n" + "\n".join(errors[:5])
    found = [(d.seed, v, d.fired) for d in days for v in d.violations if v.invariant == invariant]
    new = [(seed, v, fired) for seed, v, fired in found if _key(v.item) not in KNOWN_OPEN]
    assert not new, "\n".join(
        f"seed {seed}: {v} -- replay: python -m tests.chaos.run --seed {seed} "
        f"--faults '{','.join(str(f) for f in fired)}'" for seed, v, fired in new[:8])
    if found:
        per_item = defaultdict(set)
        for seed, v, _ in found:
            per_item[_key(v.item)].add(seed)
        pytest.xfail("known open (issue 13): " + "; ".join(
            f"{item} ({KNOWN_OPEN[item].split(':')[0]}) on {len(seeds)} days, e.g. seed {min(seeds)}"
            for item, seeds in sorted(per_item.items())))


def test_protocol_fake_days_break_no_invariant_beyond_the_known_open_items():
    """Five of the same scenarios on the protocol fakes (kiteconnect -> Kite fake, smartapi-python
    -> SmartAPI fake, faults injected at the fake servers): the fakes' books are the truth."""
    Process.get()
    results = [play_day(seed, None, "fake") for seed in range(5)]
    errors = [f"seed {d.seed}: {d.error}" for d in results if d.error]
    assert not errors, errors[0]
    new = [(d.seed, v) for d in results for v in d.violations if _key(v.item) not in KNOWN_OPEN]
    assert not new, "\n".join(f"seed {seed} --brokers fake: {v}" for seed, v in new[:8])
    if any(d.violations for d in results):
        pytest.xfail("known open (issue 13): " + ", ".join(sorted({_key(v.item) for d in results for v in d.violations})))


def test_the_fixed_days_inject_every_kind_of_fault(days):
    """The 50 days are not a quiet sample: every fault kind fires at least once."""
    kinds = {(f.kind, f.where if f.kind == "broker" else "") for d in days for f in d.fired}
    expected = {("crash_write", ""), ("broker", "place"), ("broker", "cancel"), ("fill", ""), ("tick_lost", ""),
                ("tick_late", ""), ("tick_dup", ""), ("dup_event", ""), ("late_start", ""), ("throttle", ""),
                ("retry_place", ""), ("kill", "")}
    assert {(k, w) for k, w in expected} <= kinds | {(k, "") for k, _ in kinds}, sorted(kinds)
    assert sum(len(d.fired) for d in days) >= 150
