"""The local platform (``./deploy.sh -e local``) serves live updates: its runtime and the web
app's config name the WebSocket URL, the page's CSP allows it, and a write made through the REST
API (the trader's own kill switch) reaches that trader's socket as an alert, not another's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

from websockets.sync.client import connect

from tests.integration.test_local_platform import ROOT, _start, _stop, _wait_for


def _token(state_dir, username: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ENDPOINT_URL", "QL_ENV")}
    out = subprocess.run([sys.executable, "-m", "local.platform", "--token", username, "--state-dir", str(state_dir)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60, env={**env, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_platform_serves_the_live_feed_to_its_own_user(tmp_path):
    proc = _start(tmp_path, 0, "--no-demo")
    log: list[str] = []
    try:
        _wait_for(proc, "live updates (WebSocket) on ws://127.0.0.1:", 90, log)
        _wait_for(proc, "web app:", 30, log)
        runtime = json.loads((tmp_path / "runtime.json").read_text())
        live_url, api = runtime["live_url"], runtime["api_url"]
        with urllib.request.urlopen(f"{api}/app/config.json", timeout=10) as response:
            assert json.loads(response.read())["liveUrl"] == live_url
            origin = live_url.split("/execution")[0]
            assert origin in response.headers["Content-Security-Policy"]
        me, other = _token(tmp_path, "ivy.live@example.com"), _token(tmp_path, "jack.live@example.com")
        with connect(f"{live_url}?token={me}") as mine, connect(f"{live_url}?token={other}") as theirs:
            request = urllib.request.Request(f"{api}/options/kill-switch", method="PUT",
                                             data=json.dumps({"on": True, "reason": "lunch"}).encode(),
                                             headers={"Authorization": f"Bearer {me}", "Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200
            alert = json.loads(mine.recv(timeout=10))
            assert alert["type"] == "SYSTEM_ALERT" and alert["data"]["kind"] == "KILL_SWITCH_ON"
            assert "all your accounts" in alert["data"]["message"] and "lunch" in alert["data"]["message"]
            try:
                leaked = theirs.recv(timeout=1)
            except TimeoutError:
                leaked = None
            assert leaked is None
    finally:
        _stop(proc, log)
