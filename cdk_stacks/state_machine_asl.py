"""The execution-engine state machine's ASL, as synthesized, for the in-process interpreter.

``cdk_stacks/execution_state_machine.asl.json`` is the ``DefinitionString`` of the dev stack's
``AWS::StepFunctions::StateMachine`` with each ``Fn::GetAtt <Function>.Arn`` replaced by
``arn:aws:lambda:<region>:000000000000:function:<module>`` (``<module>`` = the handler's module
under ``lambda_functions.execution_engine``, e.g. ``place_orders``). The local platform and the
tests run that file with :mod:`shared_utils.execution.asl_runner` (a synth takes seconds and
needs node; the platform must not synthesize at start-up). ``tests/infrastructure`` checks that
the file equals what every environment synthesizes (``MaxConcurrency`` aside, which the runner
takes from the environment's config), so the file cannot go stale unnoticed.

Regenerate: ``make asl`` (``python -m cdk_stacks.state_machine_asl``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFINITION_FILE = Path(__file__).resolve().parent / "execution_state_machine.asl.json"
HANDLER_PREFIX = "lambda_functions.execution_engine."
ACCOUNT = "000000000000"


def function_arn(region: str, module: str) -> str:
    """The placeholder ARN standing for the engine function whose handler module is ``module``."""
    return f"arn:aws:lambda:{region}:{ACCOUNT}:function:{module}"


def module_of(arn: str) -> str:
    """``function_arn(...)`` -> the handler module name (``place_orders``)."""
    return arn.rsplit(":", 1)[-1]


def definition_from_template(template: dict, region: str = "ap-south-1") -> dict[str, Any]:
    """The parsed ASL of ``template``'s only state machine, function ARNs as placeholders.

    Raises:
        ValueError: not exactly one state machine, or an intrinsic other than a function's
            ``Fn::GetAtt ... Arn`` inside the definition.
    """
    resources = template["Resources"]
    machines = [r for r in resources.values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    if len(machines) != 1:
        raise ValueError(f"expected one state machine, found {len(machines)}")
    body = machines[0]["Properties"]["DefinitionString"]
    if isinstance(body, str):
        return json.loads(body)
    separator, parts = body["Fn::Join"]
    rendered = []
    for part in parts:
        if isinstance(part, str):
            rendered.append(part)
            continue
        logical_id, attribute = part.get("Fn::GetAtt", [None, None])
        target = resources.get(logical_id, {})
        handler = str(target.get("Properties", {}).get("Handler", ""))
        if attribute != "Arn" or target.get("Type") != "AWS::Lambda::Function" or not handler.startswith(HANDLER_PREFIX):
            raise ValueError(f"unexpected intrinsic in the state machine definition: {part!r}")
        rendered.append(function_arn(region, handler[len(HANDLER_PREFIX):].rsplit(".", 1)[0]))
    return json.loads(separator.join(rendered))


def load_definition() -> dict[str, Any]:
    """The checked-in definition (see the module docstring)."""
    return json.loads(DEFINITION_FILE.read_text())


def synthesize(env_name: str = "dev") -> dict[str, Any]:
    """Synthesize ``env_name``'s app (cdk.json context, as ``cdk synth``) and return its
    execution-engine definition. Takes seconds; needs node (jsii)."""
    import tempfile

    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from aws_cdk import App

    from cdk_stacks.app_builder import build_app
    from shared_utils.config import load_environment

    context = dict(json.loads((ROOT / "cdk.json").read_text()).get("context", {}), env=env_name)
    with tempfile.TemporaryDirectory() as outdir:
        app = App(outdir=outdir, context=context)
        build_app(app=app)
        assembly = app.synth()
        config = load_environment(env_name)
        stack = app.node.find_child(config.stack_name("execution-engine"))
        return definition_from_template(assembly.get_stack_artifact(stack.artifact_id).template, config.region)


def write(definition: dict[str, Any], path: Path = DEFINITION_FILE) -> None:
    """Write ``definition`` as the checked-in file (sorted keys, 2-space indent)."""
    path.write_text(json.dumps(definition, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    write(synthesize("dev"))
    print(f"wrote {DEFINITION_FILE.relative_to(ROOT)}")
