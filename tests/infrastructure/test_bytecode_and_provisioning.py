"""Issue 14, build and deploy side: bytecode ships with the code and the layers (a cold start
loads pycs instead of compiling on a read-only /opt), and provisioned concurrency during market
hours is a per-environment option (alias + scheduled Application Auto Scaling actions).

A Lambda cold start can only use a pyc that (a) the runtime's Python (3.12) wrote and (b) is
still valid once the asset is unzipped: CDK zips assets with every mtime reset, so a
timestamp-checked pyc would be stale and ignored; the pycs must be unchecked-hash (PEP 552).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from cdk_stacks.app_builder import build_app
from cdk_stacks.constructs import layers
from cdk_stacks.constructs.layers import CODE_DIRECTORIES, LAYER_NAMES, layer_dir, layers_built, stage_code, staged_code_dir
from shared_utils.config import load_environment

ROOT = Path(__file__).resolve().parents[2]
PY312 = shutil.which("python3.12") if shutil.which("python3.12") and subprocess.run(
    ["python3.12", "-V"], capture_output=True).returncode == 0 else next(
    iter(sorted(str(p) for p in Path("/root/.pyenv/versions").glob("3.12*/bin/python3.12"))), None)


def _pyc_flags(pyc: Path) -> tuple[bytes, int]:
    """(magic number, PEP 552 flags) of a pyc: flags 1 = unchecked hash, 3 = checked, 0 = timestamp."""
    head = pyc.read_bytes()[:8]
    return head[:4], int.from_bytes(head[4:8], "little")


def _magic_312() -> bytes:
    out = subprocess.run([PY312, "-c", "import importlib.util,sys; sys.stdout.buffer.write(importlib.util.MAGIC_NUMBER)"],
                         capture_output=True, check=True)
    return out.stdout


needs_312 = pytest.mark.skipif(PY312 is None, reason="needs a Python 3.12 (the Lambda runtime's) to compile")


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> Path:
    """The code staged as deploy.sh stages it, into a temporary build dir."""
    target = tmp_path_factory.mktemp("build") / "code"
    stage_code(PY312, target=target)
    return target


@needs_312
def test_staged_code_has_unchecked_hash_312_bytecode_for_every_module(staged):
    magic = _magic_312()
    sources = [p for d in CODE_DIRECTORIES for p in (staged / d).rglob("*.py")]
    assert len(sources) > 50
    for source in sources:
        pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        assert pyc.is_file(), source
        assert _pyc_flags(pyc) == (magic, 1), source  # unchecked-hash: survives the zip's mtimes
    shipped = {p.relative_to(staged) for p in staged.rglob("*") if p.is_file() and p.suffix != ".pyc"}
    assert not any("tests" in p.parts or p.name.startswith("test_") for p in shipped)
    assert Path("config/environments.json") in shipped


@needs_312
def test_a_source_edit_makes_the_staged_code_stale_so_synth_ships_sources(staged, tmp_path):
    assert staged_code_dir(target=staged) == staged
    root = tmp_path / "repo"
    for d in CODE_DIRECTORIES:
        shutil.copytree(ROOT / d, root / d, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    stage_code(PY312, target=tmp_path / "code", root=root)
    assert staged_code_dir(root=root, target=tmp_path / "code") == tmp_path / "code"
    edited = root / "shared_utils" / "clock.py"
    edited.write_text(edited.read_text() + "\n# edited after staging\n")
    assert staged_code_dir(root=root, target=tmp_path / "code") is None


@needs_312
def test_the_synthesized_code_asset_carries_the_bytecode(staged, tmp_path, monkeypatch):
    """A stack synthesized after deploy.sh staged the code ships the pycs in its asset."""
    from cdk_stacks.constructs.python_function import LambdaPackage, PythonFunction

    monkeypatch.setattr(layers, "CODE_DIR", staged)
    app = App(outdir=str(tmp_path / "out"))
    stack = Stack(app, "BytecodeProbe")
    package = LambdaPackage(stack, "Package", config=load_environment("dev"))
    assert package.code_has_bytecode
    PythonFunction(stack, "Fn", package=package, name="place-orders", service="probe", description="probe",
                   handler="lambda_functions/execution_engine/place_orders.handler")
    assembly = app.synth()
    template = assembly.get_stack_by_name("BytecodeProbe").template
    (fn,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    asset = tmp_path / "out" / f"asset.{fn['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    pyc = asset / "lambda_functions" / "execution_engine" / "__pycache__" / "place_orders.cpython-312.pyc"
    assert pyc.is_file()
    assert _pyc_flags(pyc)[1] == 1
    assert not (asset / ".sources.json").exists()


@pytest.mark.skipif(not layers_built() or PY312 is None, reason="needs build/layers (./deploy.sh -e dev --layers-only)")
@pytest.mark.parametrize("name", LAYER_NAMES)
def test_each_built_layer_ships_unchecked_hash_312_bytecode(name):
    python = layer_dir(name) / "python"
    magic = _magic_312()
    probe = {"core": "pydantic/main.py", "science": "scipy/optimize/_zeros_py.py", "archive": "pyarrow/parquet/core.py"}[name]
    source = python / probe
    pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
    assert _pyc_flags(pyc) == (magic, 1)
    missing = [p for p in python.rglob("*.py")
               if not (p.parent / "__pycache__" / f"{p.stem}.cpython-312.pyc").exists()]
    total = sum(1 for _ in python.rglob("*.py"))
    assert len(missing) <= total * 0.01, missing[:10]  # only py2-era scripts no one imports


# ---- provisioned concurrency ------------------------------------------------------------------

def _enabled_config(tmp_path: Path, env: str, functions: dict[str, int]) -> Path:
    data = json.loads((ROOT / "config" / "environments.json").read_text())
    data["environments"][env]["provisioned_concurrency"].update(enabled=True, functions=functions)
    path = tmp_path / "environments.json"
    path.write_text(json.dumps(data))
    return path


def test_every_deployable_environment_states_the_option_and_ships_it_off(any_env):
    option = any_env.config.settings.provisioned_concurrency
    assert option.functions and "place-orders" in option.functions
    assert option.enabled is False
    for stack in any_env.templates:
        assert not any_env.resources(stack, "AWS::ApplicationAutoScaling::ScalableTarget")
        assert not any_env.resources(stack, "AWS::Lambda::Alias")


@pytest.fixture(scope="module")
def provisioned_production(tmp_path_factory):
    """The production app with the option switched on (the checked-in counts)."""
    tmp = tmp_path_factory.mktemp("pc")
    functions = load_environment("production").settings.provisioned_concurrency.functions
    config = _enabled_config(tmp, "production", functions)
    context = dict(json.loads((ROOT / "cdk.json").read_text()).get("context", {}), env="production")
    app = App(outdir=str(tmp / "out"), context=context)
    build_app(app=app, config_path=str(config))
    assembly = app.synth()
    stack = [s for s in assembly.stacks if s.stack_name.endswith("execution-engine-stack")][0]
    return functions, stack.template


def test_provisioned_functions_scale_up_at_the_open_and_to_zero_after_the_close(provisioned_production):
    functions, template = provisioned_production
    t = Template.from_json(template)
    aliases = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Lambda::Alias"}
    targets = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"}
    assert len(aliases) == len(targets) == len(functions)
    t.has_resource_properties("AWS::Lambda::Alias", {"Name": "live"})
    by_function = {}
    for target in targets.values():
        p = target["Properties"]
        assert p["ScalableDimension"] == "lambda:function:ProvisionedConcurrency"
        assert p["ServiceNamespace"] == "lambda" and p["MinCapacity"] == 0
        actions = {a["ScheduledActionName"]: a for a in p["ScheduledActions"]}
        opening = [a for a in actions.values() if a["ScalableTargetAction"]["MinCapacity"] > 0]
        closing = [a for a in actions.values() if a["ScalableTargetAction"]["MaxCapacity"] == 0]
        assert len(opening) == len(closing) == 1
        assert opening[0]["Schedule"] == "cron(0 9 ? * MON-FRI *)" and opening[0]["Timezone"] == "Asia/Kolkata"
        assert closing[0]["Schedule"] == "cron(35 15 ? * MON-FRI *)" and closing[0]["Timezone"] == "Asia/Kolkata"
        assert opening[0]["ScalableTargetAction"]["MinCapacity"] == opening[0]["ScalableTargetAction"]["MaxCapacity"]
        assert p["MaxCapacity"] == opening[0]["ScalableTargetAction"]["MaxCapacity"]
        by_function[json.dumps(p["ResourceId"])] = p["MaxCapacity"]
    assert sorted(by_function.values()) == sorted(functions.values())


def test_the_state_machine_invokes_the_provisioned_alias(provisioned_production):
    """Provisioned instances serve only invocations of the alias: the Map's PlaceOrders (and
    any other provisioned task) must invoke ``...:live``, or the option is paid for and unused."""
    functions, template = provisioned_production
    machine = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"][0]
    definition = json.dumps(machine["Properties"]["DefinitionString"])
    aliases = [k for k, v in template["Resources"].items() if v["Type"] == "AWS::Lambda::Alias"]
    assert "place-orders" in functions
    assert any(alias in definition for alias in aliases), "the state machine invokes the function, not its live alias"
