"""`./deploy.sh -e local` end to end: the platform's entry point in a subprocess on free ports
runs the demo (entry and exit), the API shows the executions over HTTP, and a restart keeps
the data."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from local.aws import free_port
from shared_utils.clock import parse_instant

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _pump(proc: subprocess.Popen) -> None:
    """Copy the platform's output lines into ``proc.lines`` until it closes stdout."""
    for line in iter(proc.stdout.readline, ""):
        proc.lines.put(line)


def _start(state_dir: Path, port: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    for key in ("AWS_ENDPOINT_URL", "QL_ENV"):
        env.pop(key, None)
    proc = subprocess.Popen([sys.executable, "-m", "local.platform", "--port", str(port), "--state-dir", str(state_dir),
                             *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # a reader thread, so a platform that goes silent fails the wait at its timeout instead of
    # blocking the test in readline() forever
    proc.lines = queue.Queue()
    threading.Thread(target=_pump, args=(proc,), daemon=True).start()
    return proc


def _wait_for(proc: subprocess.Popen, needle: str, timeout: float, log: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = proc.lines.get(timeout=min(1.0, max(0.01, deadline - time.monotonic())))
        except queue.Empty:
            if proc.poll() is not None and proc.lines.empty():
                raise AssertionError("platform exited:\n" + "".join(log)) from None
            continue
        log.append(line)
        if needle in line:
            return
    raise AssertionError(f"'{needle}' not seen in {timeout} s:\n" + "".join(log))


def _drain(proc: subprocess.Popen, log: list[str]) -> None:
    while True:
        try:
            log.append(proc.lines.get(timeout=2))
        except queue.Empty:
            return


def _token(state_dir: Path) -> str:
    out = subprocess.run([sys.executable, "-m", "local.platform", "--token", "demo@quantleap.local",
                          "--state-dir", str(state_dir)], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _get(port: int, path: str, token: str):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _stop(proc: subprocess.Popen, log: list[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    _drain(proc, log)
    assert proc.returncode == 0, "".join(log)


def test_demo_runs_and_state_survives_a_restart(tmp_path):
    port = free_port()
    log: list[str] = []
    proc = _start(tmp_path, port, "--at", "2026-08-17T09:29:40+05:30", "--lookahead", "1", "--exit-after", "1")
    try:
        _wait_for(proc, "demo complete", 240, log)
        token = _token(tmp_path)
        history = _get(port, "/options/executions/history", token)["items"]
        assert sorted((e["execution_type"], e["status"]) for e in history) == [("ENTRY", "COMPLETED"), ("EXIT", "COMPLETED")]
        entry = next(e for e in history if e["execution_type"] == "ENTRY")
        detail = _get(port, f"/options/executions/{entry['execution_id']}", token)
        orders = detail["orders"]
        assert len(orders) == 8
        lots = {(o["client_id"], o["leg_no"]): o["lots"] for o in orders}
        assert lots == {("ZERODHA123", 1): 3, ("ZERODHA123", 2): 3, ("ZERODHA123", 3): 1, ("ZERODHA123", 4): 1,
                        ("ANGELONE456", 1): 1, ("ANGELONE456", 2): 1, ("ANGELONE456", 3): 4, ("ANGELONE456", 4): 4}
        assert all(o["quantity"] == o["lots"] * 65 and o["tradingsymbol"].startswith("NIFTY26818") for o in orders)
        early = [o for o in orders if parse_instant(o["sent_at"]) < parse_instant(o["execute_at"])]
        assert not early, f"orders left before the target second: {early}"
        for client in ("ZERODHA123", "ANGELONE456"):
            sides = [o["transaction_type"] for o in sorted((o for o in orders if o["client_id"] == client),
                                                           key=lambda o: parse_instant(o["sent_at"]))]
            assert sides == ["BUY", "BUY", "SELL", "SELL"], (client, sides)
        positions = _get(port, "/options/positions", token)["items"]
        assert positions and all(p["quantity"] == 0 for p in positions)
        strategies_before = _get(port, "/options/strategies", token)["items"]
    finally:
        _stop(proc, log)
    assert (tmp_path / "state.json").exists()

    proc = _start(tmp_path, port, "--no-demo", "--at", "2026-08-17T10:00:00+05:30")
    log2: list[str] = []
    try:
        _wait_for(proc, "REST API on", 60, log2)
        token = _token(tmp_path)
        assert _get(port, "/options/strategies", token)["items"] == strategies_before
        history = _get(port, "/options/executions/history", token)["items"]
        assert len(history) == 2 and {e["status"] for e in history} == {"COMPLETED"}
    finally:
        _stop(proc, log2)
