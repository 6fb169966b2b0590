"""The local demo's exit lag, on the protocol-faithful broker fakes and on paper (issue 21, item 3).

Runs ``python -m local.platform`` on a fresh state dir with the demo (entry at 09:30:00 IST, exit
one minute later, two accounts: Zerodha and Angel One, four legs each), reads the narration and
takes each order's lag as the narrator prints it from the order's recorded ``sent_at``:
``lag = sent_at - target second`` (ms; UTC instants on both sides).

The figure, precisely: **the exit's lag is the lag of its LAST order to leave** - the largest
``sent_at - execute_at`` over every exit order of every account - i.e. when the whole exit has
left. The exit buys the shorts back first and sells a long only once the buy-backs are
confirmed FILLED by the broker (README "Safety", I3), so this is the last long sale and includes
the fill confirmation (placer.await_fills). Over ``runs`` demo runs the figure is the p99
(nearest rank) of the runs' values (one run: that run's value).

- ``demo_exit_lag_fake_p99_ms``: the figure on the fakes (``--brokers fake``; orders reach the
  fake exchange ``local.fakes.core.DEFAULT_EXCHANGE_LATENCY_S`` after the broker's answer);
- ``demo_exit_lag_paper_p99_ms``: the same on the paper broker (``paper=True``);
- beside them: ``demo_exit_first_order_lag_fake_ms`` (the first buy-back), ``demo_exit_orders``,
  ``demo_entry_lag_fake_p99_ms`` (the entry's last order, same definition), every order's lag
  in ``_notes``.

Run alone: ``python -m bench.demo_lag`` (about 90 s of wall time per demo run).
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


def _demo(brokers: str | None, timeout_s: float) -> dict[str, list[float]]:
    """One demo run; the lags of its entry and exit orders. Raises RuntimeError when it does not
    reach its exit."""
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "QL_CONFIG_FILE": str(ROOT / "config" / "environments.json")}
        cmd = [sys.executable, "-m", "local.platform", "--state-dir", state, "--port", str(_free_port()),
               "--at", "2026-08-17T09:29:40+05:30", "--lookahead", "1", "--exit-after", "1", "--quit-after-demo"]
        if brokers:
            cmd += ["--brokers", brokers]
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)
    lags = parse(proc.stdout.splitlines())
    if not lags["EXIT"]:
        raise RuntimeError(f"the demo ({brokers or 'paper'}) reached no exit (rc {proc.returncode}): "
                           f"{proc.stdout[-1500:]} {proc.stderr[-1500:]}")
    return lags


def run(runs: int = 1, paper: bool = True, timeout_s: float = 420.0) -> dict[str, Any]:
    """``runs`` fake-broker demos (and as many paper demos when ``paper``); the figures above."""
    load = os.getloadavg()
    started = time.monotonic()
    fake = [_demo("fake", timeout_s) for _ in range(runs)]
    out: dict[str, Any] = {
        "demo_exit_lag_fake_p99_ms": _p99([max(r["EXIT"]) for r in fake]),
        "demo_exit_first_order_lag_fake_ms": _p99([min(r["EXIT"]) for r in fake]),
        "demo_exit_orders": len(fake[0]["EXIT"]),
        "demo_entry_lag_fake_p99_ms": _p99([max(r["ENTRY"]) for r in fake if r["ENTRY"]]) if any(
            r["ENTRY"] for r in fake) else None,
    }
    notes: dict[str, Any] = {"definition": "lag of the exit's last order to leave: max(sent_at - execute_at) over "
                             "the exit's orders, ms; p99 nearest rank over runs",
                             "runs": runs, "fake_exit_lags_ms": [r["EXIT"] for r in fake],
                             "fake_entry_lags_ms": [r["ENTRY"] for r in fake]}
    if paper:
        papers = [_demo(None, timeout_s) for _ in range(runs)]
        out["demo_exit_lag_paper_p99_ms"] = _p99([max(r["EXIT"]) for r in papers])
        notes["paper_exit_lags_ms"] = [r["EXIT"] for r in papers]
    notes.update({"load_at_start": load, "load_at_end": os.getloadavg(),
                  "wall_s": round(time.monotonic() - started, 1)})
    out["_notes"] = notes
    return out


if __name__ == "__main__":
    import json

    import argparse

    parser = argparse.ArgumentParser(description="the local demo's exit lag (fakes and paper)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-paper", action="store_true")
    args = parser.parse_args()
    print(json.dumps(run(runs=args.runs, paper=not args.no_paper), indent=1))
