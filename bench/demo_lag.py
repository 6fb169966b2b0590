"""The local demo's exit lag on the protocol-faithful broker fakes (issue 21, item 3).

Runs ``python -m local.platform --brokers fake`` on a fresh state dir with the demo (entry at
09:31, exit one minute later), reads the narration, and reports the lag of every exit order from
the target second, as the narrator prints it from each order's recorded ``sent_at`` (ms, UTC
instants on both sides). Figures:

- ``demo_exit_lag_fake_p99_ms``: p99 (nearest rank) of the exit orders' lags, ms;
- ``demo_exit_lag_fake_max_ms``, ``demo_exit_orders``; ``demo_entry_lag_fake_p99_ms`` beside it.

The exit buys the shorts back first and sells a long only once its short is confirmed bought
back (README "Safety", I3), so the longs' lag includes the fake broker's fill confirmation.
Run alone: ``python -m bench.demo_lag`` (about 3 minutes of wall time).
"""

from __future__ import annotations

import math
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ORDER = re.compile(r"\] ORDER\s+([+-]\d+\.\d) ms\s+(\S+)\s+(BUY|SELL)\s")
EXECUTION = re.compile(r"\] (ENTRY|EXIT) \S+: (\w+) - ")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def parse(lines: list[str]) -> dict[str, list[float]]:
    """Lags (ms) of the entry's and the exit's orders from the narration: ORDER lines before the
    ENTRY summary belong to the entry, those between it and the EXIT summary to the exit."""
    phase, lags = "ENTRY", {"ENTRY": [], "EXIT": []}
    for line in lines:
        order = ORDER.search(line)
        if order and phase in lags:
            lags[phase].append(float(order.group(1)))
            continue
        summary = EXECUTION.search(line)
        if summary:
            phase = "EXIT" if summary.group(1) == "ENTRY" else "DONE"
    return lags


def run(timeout_s: float = 420.0) -> dict[str, Any]:
    """One fake-broker demo; raises RuntimeError when it does not reach its exit."""
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "QL_CONFIG_FILE": str(ROOT / "config" / "environments.json")}
        cmd = [sys.executable, "-m", "local.platform", "--state-dir", state, "--port", str(_free_port()),
               "--at", "2026-08-17T09:29:40+05:30", "--lookahead", "1", "--exit-after", "1", "--quit-after-demo",
               "--brokers", "fake"]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)
        lines = proc.stdout.splitlines()
    lags = parse(lines)
    if not lags["EXIT"]:
        raise RuntimeError(f"the demo reached no exit (rc {proc.returncode}): {proc.stdout[-1500:]} {proc.stderr[-1500:]}")
    return {
        "demo_exit_lag_fake_p99_ms": _p99(lags["EXIT"]),
        "demo_exit_lag_fake_max_ms": max(lags["EXIT"]),
        "demo_exit_orders": len(lags["EXIT"]),
        "demo_entry_lag_fake_p99_ms": _p99(lags["ENTRY"]) if lags["ENTRY"] else None,
        "_notes": {"exit_lags_ms": lags["EXIT"], "entry_lags_ms": lags["ENTRY"], "load_at_start": load,
                   "load_at_end": os.getloadavg(), "wall_s": round(time.monotonic() - started, 1)},
    }


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=1))
