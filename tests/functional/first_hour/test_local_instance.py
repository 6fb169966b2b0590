"""Issue 21 items 1, 2 and 7 without servers: where a restart's clock starts, the one-instance
lock of a state dir, ``--token`` against a stale runtime.json, ``--help`` listing every flag, and
the narrator telling an already-done run and lags from the orders' ``sent_at``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from local.platform import (DEFAULT_AT, InstanceLock, InstanceRunning, Narrator, build_parser, print_token,
                            start_instant)
from shared_utils.clock import IST, FixedClock, parse_instant

ROOT = Path(__file__).resolve().parents[3]


def _state(path: Path, **extra) -> Path:
    path.write_text(json.dumps({**extra, "tables": {}, "users": []}))
    return path


def test_fresh_state_starts_at_the_default_morning(tmp_path):
    start, why = start_instant(None, tmp_path / "state.json")
    assert start == parse_instant(DEFAULT_AT)


def test_a_restart_resumes_on_the_next_trading_morning(tmp_path):
    saved = _state(tmp_path / "state.json", platform_clock="2026-08-17T04:02:01+00:00")  # Mon 09:32 IST
    start, why = start_instant(None, saved)
    assert start == datetime(2026, 8, 18, 9, 29, 30, tzinfo=IST) and "resuming" in why
    friday = _state(tmp_path / "f.json", platform_clock="2026-08-21T10:00:00+05:30")
    assert start_instant(None, friday)[0] == datetime(2026, 8, 24, 9, 29, 30, tzinfo=IST)  # over the weekend
    before_holiday = _state(tmp_path / "h.json", platform_clock="2026-10-01T10:00:00+05:30")
    assert start_instant(None, before_holiday)[0] == datetime(2026, 10, 5, 9, 29, 30, tzinfo=IST)  # 2 Oct closed
    # --at always wins; 'now' is the real clock
    assert start_instant("2026-08-17T10:00:00+05:30", saved)[0] == datetime(2026, 8, 17, 10, 0, tzinfo=IST)
    assert start_instant("now", saved)[0] is None


def test_a_state_file_from_before_the_clock_was_saved_uses_its_latest_record(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"tables": {"t": [{"created_at": {"S": "2026-08-17T04:01:00.000000+00:00"}},
                                                 {"created_at": {"S": "2026-08-17T03:59:00.000000+00:00"}}]},
                                "users": []}))
    assert start_instant(None, path)[0] == datetime(2026, 8, 18, 9, 29, 30, tzinfo=IST)


def test_one_instance_per_state_dir(tmp_path):
    first = InstanceLock(tmp_path).acquire()
    first.write(port=8123, api_url="http://127.0.0.1:8123")
    with pytest.raises(InstanceRunning) as refused:
        InstanceLock(tmp_path).acquire()
    message = str(refused.value)
    assert f"pid {os.getpid()}" in message and "http://127.0.0.1:8123" in message
    assert "--state-dir" in message and "Ctrl-C" in message
    first.release()
    InstanceLock(tmp_path).acquire().release()  # free again


def test_a_dead_holder_never_blocks(tmp_path):
    # a process that took the lock and died (kill -9): the OS dropped its flock
    code = ("import sys; sys.path.insert(0, %r); from pathlib import Path; from local.platform import InstanceLock; "
            "InstanceLock(Path(%r)).acquire(); import os; os._exit(0)") % (str(ROOT), str(tmp_path))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert json.loads((tmp_path / "instance.lock").read_text())["pid"] != os.getpid()
    InstanceLock(tmp_path).acquire().release()


def test_token_against_a_stale_runtime_file_says_not_running(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "runtime.json").write_text(json.dumps({"pid": dead.pid, "moto_endpoint": "http://127.0.0.1:1"}))
    assert print_token("demo@quantleap.local", tmp_path) == 2
    err = capsys.readouterr().err
    assert "not running" in err and f"pid {dead.pid}" in err and f"--state-dir {tmp_path}" in err


def test_help_lists_every_flag():
    text = subprocess.run(["./deploy.sh", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout
    flags = [opt for action in build_parser()._actions for opt in action.option_strings if opt.startswith("--")]
    assert {"--state-dir", "--seed", "--exit-after", "--quit-after-demo", "--lookahead"} <= set(flags)
    missing = [flag for flag in flags if flag != "--help" and flag not in text]
    assert not missing, (missing, text)
    assert "--synth-only" in text and "--diff" in text


class _Order:
    def __init__(self, purpose, lag):
        self.purpose, self.lag_ms = purpose, lag


def test_narrator_tells_lags_from_the_orders_and_already_done_runs(capsys):
    narrator = Narrator(FixedClock(datetime(2026, 8, 18, 9, 31, 3, tzinfo=IST)))  # 3 s after the target
    narrator.orders_of = lambda user_id, execution_id: [_Order("EXIT", 4.0), _Order("EXIT", 1.5),
                                                        _Order("STOP_LOSS", None)]
    narrator.watch.update({"s.20260818.E", "s.20260818.X"})
    narrator.on_event({"event": "execution", "execution_id": "s.20260818.X", "user_id": "u", "execution_type": "EXIT",
                       "status": "COMPLETED", "accepted": 2, "orders": 2, "reasons": [],
                       "first_order_lag_ms": 3000.0, "last_order_lag_ms": 3100.0})
    out = capsys.readouterr().out
    assert "orders sent +1.5 ms to +4.0 ms after the target second (their recorded sent_at)" in out, out
    assert "3000" not in out
    narrator.on_event({"event": "already_done", "execution_id": "s.20260818.E", "execution_type": "ENTRY",
                       "status": "COMPLETED", "when": "Tue 18 Aug 09:30:00 IST"})
    out = capsys.readouterr().out
    assert "ENTRY s.20260818.E: already done (COMPLETED, at Tue 18 Aug 09:30:00 IST)" in out
    assert "nothing is sent again" in out
    assert narrator.finished.is_set()


def test_runtime_json_of_another_process_is_never_deleted(tmp_path):
    from argparse import Namespace

    from local.platform import LocalPlatform

    (tmp_path / "runtime.json").write_text(json.dumps({"pid": 1, "api_url": "http://127.0.0.1:1"}))
    platform = LocalPlatform(Namespace(state_dir=str(tmp_path)))
    platform.stop()  # never started: nothing to save, and the file is not ours
    assert json.loads((tmp_path / "runtime.json").read_text())["pid"] == 1


def test_a_taken_port_is_named_before_anything_starts():
    import socket

    from local.platform import port_problem

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        problem = port_problem(port)
    assert problem and f"port {port}" in problem and "--port" in problem
    assert port_problem(0) is None


def test_narrator_tells_cancels_stops_and_alerts(capsys):
    narrator = Narrator(FixedClock(datetime(2026, 8, 18, 9, 30, 59, 500000, tzinfo=IST)))
    narrator.on_event({"event": "cancel", "order_key": "k1", "client_id": "ZERODHA123", "purpose": "STOP_LOSS",
                       "status": "CANCELLED"})
    narrator.on_event({"event": "stop_loss_placed", "order_key": "k2", "client_id": "ANGELONE456", "leg_no": 1,
                       "trigger_price": "40.5", "price": "41", "status": "TRIGGER_PENDING"})
    narrator.on_event({"event": "alert", "kind": "EXIT", "message": "leg 1: close by hand"})
    out = capsys.readouterr().out
    assert "[09:30:59.500 IST] CANCEL ZERODHA123   STOP_LOSS k1: CANCELLED" in out, out
    assert "STOP   ANGELONE456  leg 1 trigger 40.5: TRIGGER_PENDING" in out
    assert "ALERT leg 1: close by hand" in out


def test_an_announced_run_that_already_ran_is_told_already_done(repos, capsys):
    """The emitter announces an entry whose execution already exists: the platform says it was
    already done (it printed "1 execution due", then nothing) and the demo stops waiting."""
    from types import SimpleNamespace

    from local.platform import LocalPlatform
    from shared_utils.models.enums import ExecutionStatus, ExecutionType
    from shared_utils.models.execution import Execution
    from shared_utils.persistence import keys

    target = datetime(2026, 8, 18, 9, 31, tzinfo=IST)
    execution_id = keys.execution_id("stg_1", ExecutionType.ENTRY, target.date())
    repos.executions.claim(Execution(execution_id=execution_id, user_id="u1", strategy_id="stg_1",
                                     execution_type=ExecutionType.ENTRY, trade_date=target.date(),
                                     execution_time="09:31", execute_at=target, status=ExecutionStatus.COMPLETED,
                                     completed_at=target + timedelta(seconds=1)))
    platform = LocalPlatform.__new__(LocalPlatform)
    platform.ctx = SimpleNamespace(repos=repos)
    platform.narrator = Narrator(FixedClock(target))
    platform.narrator.watch.add(execution_id)
    detail = {"execution_type": "ENTRY", "trade_date": "2026-08-18", "execute_at": "2026-08-18T04:01:00.000Z",
              "strategies": [{"user_id": "u1", "strategy_id": "stg_1"}, {"user_id": "u1", "strategy_id": "stg_2"}]}
    platform._already_done(detail)
    out = capsys.readouterr().out
    assert f"ENTRY {execution_id}: already done (COMPLETED, at Tue 18 Aug 09:31:01 IST)" in out, out
    assert "stg_2" not in out  # not run yet: its own run reports it
    assert platform.narrator.finished.is_set()


def test_a_crashed_run_releases_the_demo_instead_of_hanging(capsys):
    from local.platform import LocalPlatform

    platform = LocalPlatform.__new__(LocalPlatform)
    platform.narrator = Narrator(FixedClock(datetime(2026, 8, 17, 9, 31, tzinfo=IST)))
    platform.narrator.watch.add("stg_1.20260817.E")

    def crash(detail, ctx):
        raise RuntimeError("moto went away")

    platform.ctx = None
    platform._already_done = lambda detail: None
    platform._run(crash, {"execution_type": "ENTRY", "trade_date": "2026-08-17",
                          "strategies": [{"user_id": "u1", "strategy_id": "stg_1"}]})
    assert "execution failed" in capsys.readouterr().out
    assert platform.narrator.finished.is_set() and platform.narrator.failures == ["stg_1.20260817.E"]
