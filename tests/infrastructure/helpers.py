"""Small helpers to read synthesized CloudFormation."""

from __future__ import annotations

import json


def render(value) -> str:
    """A ``Fn::Join`` (or plain string) with every intrinsic replaced by a placeholder string,
    e.g. a state machine's DefinitionString, ready for ``json.loads``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(p if isinstance(p, str) else "INTRINSIC" for p in parts)
    raise TypeError(f"cannot render {value!r}")


def state_machine_definition(template: dict) -> dict:
    """The parsed ASL of the template's only state machine."""
    machines = [r for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert len(machines) == 1, machines
    return json.loads(render(machines[0]["Properties"]["DefinitionString"]))


def api_paths(template: dict) -> dict[str, str]:
    """Logical id of each ``AWS::ApiGateway::Resource`` -> its full path (``/options/baskets``)."""
    resources = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::ApiGateway::Resource"}
    paths: dict[str, str] = {}

    def path_of(logical_id: str) -> str:
        if logical_id not in resources:  # the RestApi root
            return ""
        if logical_id not in paths:
            props = resources[logical_id]["Properties"]
            parent = props["ParentId"]
            parent_id = parent["Ref"] if "Ref" in parent else None
            paths[logical_id] = path_of(parent_id) + "/" + props["PathPart"]
        return paths[logical_id]

    for logical_id in resources:
        path_of(logical_id)
    return paths


def methods(template: dict) -> dict[tuple[str, str], dict]:
    """``(path, HTTP method)`` -> the ``AWS::ApiGateway::Method`` properties."""
    paths = api_paths(template)
    out = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::ApiGateway::Method":
            continue
        props = resource["Properties"]
        ref = props["ResourceId"]
        path = paths.get(ref.get("Ref"), "/") if "Ref" in ref else "/"
        out[(path, props["HttpMethod"])] = props
    return out


def imports(template: dict) -> set[str]:
    """Every ``Fn::ImportValue`` name used in a template."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if "Fn::ImportValue" in node and isinstance(node["Fn::ImportValue"], str):
                found.add(node["Fn::ImportValue"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(template)
    return found


def exports(template: dict) -> set[str]:
    """Every export name of a template's outputs."""
    return {o["Export"]["Name"] for o in template.get("Outputs", {}).values() if "Export" in o}


def ours(synth, stack: str) -> list[dict]:
    """The platform's Lambda functions of a stack (handlers under ``lambda_functions``), without
    the CDK-provided custom-resource function (e.g. the VPC's default-SG restrictor)."""
    return [
        r for r in synth.resources(stack, "AWS::Lambda::Function").values()
        if str(r["Properties"].get("Handler", "")).startswith("lambda_functions.")
    ]


def cdk_provided(synth, stack: str) -> list[str]:
    """Logical ids of Lambda functions CDK itself adds (custom resource providers)."""
    return [
        k for k, r in synth.resources(stack, "AWS::Lambda::Function").items()
        if not str(r["Properties"].get("Handler", "")).startswith("lambda_functions.")
    ]
