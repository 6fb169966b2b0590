"""Dependency layers: every function gets exactly the layers of the mapping in
``cdk_stacks/constructs/layers.py``, and (when ``deploy.sh`` has built ``build/layers``) every
function's code + layers fit Lambda's 250 MB unzipped limit, measured on the real wheels; with a
Python 3.12 interpreter around, each layer set is also imported the way Lambda would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cdk_stacks.constructs.layers import (
    FUNCTION_LAYERS,
    LAMBDA_UNZIPPED_LIMIT_BYTES,
    LAYER_NAMES,
    budget,
    layer_dir,
    layers_built,
)
from tests.infrastructure.helpers import ours

STACKS = ("auth-broker", "options-platform", "execution-engine")


def _layer_names(synth, stack: str) -> dict[str, str]:
    """LayerVersion logical id -> layer name (from its description ``<name>: ...``)."""
    return {k: r["Properties"]["Description"].split(":")[0]
            for k, r in synth.resources(stack, "AWS::Lambda::LayerVersion").items()}


def test_every_function_gets_the_layers_of_the_mapping(any_env):
    seen = set()
    for stack in STACKS:
        names = _layer_names(any_env, stack)
        for fn in ours(any_env, stack):
            short = fn["Properties"]["FunctionName"].removeprefix(f"ql-algo-trading-{any_env.env}-")
            got = {names[ref["Ref"]] for ref in fn["Properties"]["Layers"]}
            assert got == set(FUNCTION_LAYERS[short]), short
            seen.add(short)
    assert seen == set(FUNCTION_LAYERS), set(FUNCTION_LAYERS) ^ seen


def test_the_mapping_itself(dev):
    """Who needs what: science only where the engine context or the planner is imported,
    pyarrow only for the archiver, the executions history and the analytics routes (issue 18,
    archived orders), core everywhere."""
    assert all(layers[0] == "core" for layers in FUNCTION_LAYERS.values())
    assert {f for f, ls in FUNCTION_LAYERS.items() if "archive" in ls} == {"archiver", "api-executions", "api-analytics"}
    assert {f for f, ls in FUNCTION_LAYERS.items() if "science" in ls} == {
        "emitter", "prepare", "pre-cancel", "resolve", "finalize", "stop-loss-checker", "duplicate-checker",
        "market-data-refresher", "order-poller", "api-market", "api-actions"}
    assert not any({"science", "archive"} <= set(ls) for ls in FUNCTION_LAYERS.values())


def test_no_layer_ships_boto3_and_requirements_are_split():
    root = Path(__file__).resolve().parents[2]
    for name in LAYER_NAMES:
        text = (root / "requirements" / f"layer-{name}.txt").read_text().lower()
        assert "boto3" not in text.split("#")[0] and "\nboto3" not in text and "\nbotocore" not in text
    top = (root / "requirements.txt").read_text()
    assert all(f"-r requirements/layer-{n}.txt" in top for n in LAYER_NAMES) and "boto3==" in top


@pytest.mark.skipif(not layers_built(), reason="build/layers absent: run ./deploy.sh -e dev --synth-only")
def test_every_function_fits_with_the_real_wheels():
    for name in LAYER_NAMES:
        python = layer_dir(name) / "python"
        assert not (python / "boto3").exists() and not (python / "botocore").exists(), name
    over = {fn: total for fn, _, total in budget() if total > LAMBDA_UNZIPPED_LIMIT_BYTES}
    assert not over, {fn: f"{t / 1_048_576:.1f} MB" for fn, t in over.items()}


PY312 = shutil.which("python3.12") and subprocess.run(["python3.12", "-V"], capture_output=True).returncode == 0
PY312_PATH = "python3.12" if PY312 else next(iter(sorted(Path("/root/.pyenv/versions").glob("3.12*/bin/python3.12"))), None)

PROBES = {
    "core": "import pydantic, aws_lambda_powertools, jwt, cryptography, pyotp, requests, kiteconnect, SmartApi, logzero, websocket",
    "science": "from scipy.optimize import brentq; from scipy.special import ndtr; assert abs(ndtr(0) - 0.5) < 1e-12",
    "archive": ("import io, sys, pyarrow as pa, pyarrow.parquet as pq; "
                "t = pa.table({'a': pa.array([1], pa.int64())}); b = io.BytesIO(); pq.write_table(t, b, compression='zstd'); "
                "assert pq.read_table(io.BytesIO(b.getvalue())).num_rows == 1; assert 'numpy' not in sys.modules"),
}


@pytest.mark.skipif(not layers_built() or PY312_PATH is None, reason="needs build/layers and a Python 3.12")
@pytest.mark.parametrize("name", LAYER_NAMES)
def test_each_layer_imports_on_python312_alone(name):
    """The layer alone (no venv, ``-S``: no site-packages) on the Lambda's Python version."""
    python = str(layer_dir(name) / "python")
    paths = [python] if name != "science" else [python]
    code = f"import sys; sys.path[:0] = {paths!r}; {PROBES[name]}"
    out = subprocess.run([str(PY312_PATH), "-S", "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
