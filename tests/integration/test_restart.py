"""Issue 21, a new user's first hour: ``./deploy.sh -e local`` run twice in a row on the same state
trades both times (paper, then the broker fakes), a second instance on a running state dir is
refused without harming the first, and a run onto a day already traded says so.

Slow (two full demos, ~4-5 minutes): ``pytest -m slow tests/integration/test_restart.py``.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

#: short demo: entry one slot ahead, exit one minute later
FAST = ("--port", "0", "--lookahead", "1", "--exit-after", "1", "--quit-after-demo")


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for key in ("AWS_ENDPOINT_URL", "QL_ENV", "PYTHONPATH"):
        env.pop(key, None)
    return env


def _pump(proc: subprocess.Popen) -> None:
    """Copy the platform's output lines into ``proc.lines`` until it closes stdout."""
    for line in iter(proc.stdout.readline, ""):
        proc.lines.put(line)


def _deploy(state_dir: Path, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen(["./deploy.sh", "-e", "local", "--state-dir", str(state_dir), *FAST, *extra], cwd=ROOT,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # read in a thread: a silent platform fails a wait at its timeout instead of blocking readline()
    proc.lines = queue.Queue()
    threading.Thread(target=_pump, args=(proc,), daemon=True).start()
    return proc


def _read_until(proc: subprocess.Popen, needle: str, timeout: float, log: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = proc.lines.get(timeout=min(1.0, max(0.01, deadline - time.monotonic())))
        except queue.Empty:
            if proc.poll() is not None and proc.lines.empty():
                raise AssertionError(f"platform exited (rc {proc.returncode}) before '{needle}':\n"
                                     + "".join(log)) from None
            continue
        log.append(line)
        if needle in line:
            return
    raise AssertionError(f"'{needle}' not seen in {timeout} s:\n" + "".join(log))


def _finish(proc: subprocess.Popen, log: list[str], timeout: float = 420) -> str:
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    while True:
        try:
            log.append(proc.lines.get(timeout=2))
        except queue.Empty:
            break
    text = "".join(log)
    assert proc.returncode == 0, text
    assert "Traceback" not in text, text
    return text


def _traded(text: str, day: str) -> None:
    """Both the entry and the exit of ``day`` (YYYYMMDD) completed with all 8 orders."""
    for kind, suffix in (("ENTRY", "E"), ("EXIT", "X")):
        assert re.search(rf"{kind} stg_\w+\.{day}\.{suffix}: COMPLETED - 8/8 orders accepted; orders sent", text), \
            f"no completed {kind} on {day}:\n{text}"


def test_deploy_twice_on_the_same_state_trades_both_times(tmp_path):
    state = tmp_path / "state"
    # ---- first run (paper), fresh state
    log1: list[str] = []
    first = _deploy(state, "--at", "2026-08-17T09:29:50+05:30")
    try:
        _read_until(first, "REST API on", 180, log1)
        runtime = json.loads((state / "runtime.json").read_text())
        assert runtime["pid"] != os.getpid()
        # a second instance on the same state dir is refused, naming the first; it touches nothing
        second = subprocess.run(["./deploy.sh", "-e", "local", "--state-dir", str(state), "--port", "0", "--no-demo"],
                                cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
        assert second.returncode == 3, second.stdout + second.stderr
        assert "already running on this state dir" in second.stderr and f"pid {runtime['pid']}" in second.stderr
        assert runtime["api_url"] in second.stderr
        assert json.loads((state / "runtime.json").read_text()) == runtime
        # --token still reaches the first instance
        token = subprocess.run(["./deploy.sh", "-e", "local", "--state-dir", str(state), "--token", "demo@quantleap.local"],
                               cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
        assert token.returncode == 0 and token.stdout.count(".") == 2, token.stderr
        text1 = _finish(first, log1)
    finally:
        if first.poll() is None:
            first.kill()
    _traded(text1, "20260817")
    assert "stopping as asked (--quit-after-demo)" in text1 and "Ctrl-C stops" not in text1
    assert not (state / "runtime.json").exists()
    saved = json.loads((state / "state.json").read_text())
    assert saved["platform_clock"].startswith("2026-08-17")

    # ---- second run, same command on the same state (the fakes this time): it resumes and trades
    log2: list[str] = []
    again = _deploy(state, "--brokers", "fake")
    text2 = _finish(again, log2)
    assert "resuming" in text2 and "Tue 18 Aug 2026 09:29:30" in text2, text2
    for found in ("broker account ZERODHA123 found", "basket 'Conservative Income' found",
                  "strategy 'Weekly Iron Condor NIFTY' found"):
        assert found in text2, text2
    assert "POST /options/baskets " not in text2 and "already exists" not in text2
    _traded(text2, "20260818")

    # ---- onto a day already traded: said so, nothing waits
    log3: list[str] = []
    late = _deploy(state, "--at", "2026-08-18T09:29:40+05:30")
    text3 = _finish(late, log3, timeout=180)
    assert "already ran (COMPLETED" in text3 and "nothing is traded again today" in text3, text3
    assert "ORDER" not in text3
