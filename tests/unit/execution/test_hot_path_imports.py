"""Issue 14 item 6: the engine's state-machine handlers import no SciPy/NumPy (pricing is on
``math``), and PlaceOrders none of the instrument master or strike selection: measured in a
fresh interpreter, as a cold Lambda imports them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _modules_after_import(module: str) -> set[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_no_scipy_or_numpy_in_the_state_machine_handlers():
    for handler in ("prepare", "resolve", "place_orders", "finalize", "pre_cancel"):
        loaded = _modules_after_import(f"lambda_functions.execution_engine.{handler}")
        heavy = sorted(m for m in loaded if m.split(".")[0] in ("scipy", "numpy", "pandas"))
        assert not heavy, (handler, heavy[:5])


def test_place_orders_imports_no_market_model():
    loaded = _modules_after_import("lambda_functions.execution_engine.place_orders")
    assert not {"shared_utils.market.strikes", "shared_utils.market.instruments",
                "shared_utils.execution.planner", "shared_utils.market.simulator"} & loaded
