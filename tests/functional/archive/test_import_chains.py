"""pyarrow stays out of every Lambda's import chain but the archiver's (the executions API
imports it only when a history request reaches into the archive), and numpy/scipy stay out of
the functions that do not get the science layer (cdk_stacks/constructs/layers.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_stacks.constructs.layers import FUNCTION_LAYERS

ROOT = Path(__file__).resolve().parents[3]

#: function short name -> handler module (the ones present in the tree)
HANDLERS = {
    **{n.replace("_", "-"): f"lambda_functions.auth_broker.{n}" for n in
       ("broker_accounts", "broker_sessions", "session_refresh", "session_daily", "health_check", "profile")},
    **{f"api-{n}": f"lambda_functions.options_platform.{n}" for n in ("baskets", "strategies", "allocations", "executions",
                                                                                 "analytics", "market", "marketplace",
                                                                                 "actions", "notifications")},
    **{f"live-{n}": f"lambda_functions.live.{n}" for n in ("authorizer", "connections", "stream")},
    "api-postbacks": "lambda_functions.execution_engine.postbacks",
    **{n.replace("_", "-"): f"lambda_functions.execution_engine.{n}" for n in
       ("emitter", "prepare", "resolve", "place_orders", "finalize", "stop_loss_checker", "duplicate_checker",
        "market_data_refresher", "order_poller", "pre_cancel", "archiver", "notifier")},
}
PRESENT = {name: module for name, module in HANDLERS.items()
           if (ROOT / (module.replace(".", "/") + ".py")).is_file()}


def _imported(module: str) -> set[str]:
    code = (f"import sys, json; import {module}; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'pyarrow', 'numpy', 'scipy'})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"QL_ENV": "local", "AWS_DEFAULT_REGION": "ap-south-1", "PATH": "/usr/bin:/bin",
                              "POWERTOOLS_METRICS_NAMESPACE": "Test", "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_every_handler_has_a_layer_mapping():
    assert set(HANDLERS) == set(FUNCTION_LAYERS)


@pytest.mark.parametrize("name", sorted(PRESENT))
def test_handler_imports_only_what_its_layers_hold(name):
    imported = _imported(PRESENT[name])
    layers = FUNCTION_LAYERS[name]
    if name == "archiver":
        assert "pyarrow" in imported
    else:
        assert "pyarrow" not in imported, f"{name} imports pyarrow at load"
    if "archive" in layers and "pyarrow" in imported:
        imported.discard("numpy")  # pyarrow imports numpy when present; the layer has none and works without
    if "science" not in layers:
        assert not imported & {"numpy", "scipy"}, f"{name} imports {imported} but has no science layer"
