"""Lambda packaging: runtime, architecture, tracing, environment, the code asset's contents."""

from __future__ import annotations

import json

from cdk_stacks.constructs.layers import staged_code_dir
from cdk_stacks.constructs.python_function import CODE_DIRECTORIES
from tests.infrastructure.helpers import cdk_provided, ours


def test_every_function_is_python312_x86_traced_with_powertools_env(any_env):
    for stack in any_env.templates:
        # CDK's own: the VPC's default-SG restrictor, and the web app's BucketDeployment copy handler
        assert all("CustomVpcRestrictDefaultSG" in k or "CustomCDKBucketDeployment" in k for k in cdk_provided(any_env, stack))
        for fn in ours(any_env, stack):
            p = fn["Properties"]
            assert p["Runtime"] == "python3.12"
            assert p["Architectures"] == ["x86_64"]
            assert p["TracingConfig"] == {"Mode": "Active"}
            env = p["Environment"]["Variables"]
            assert env["QL_ENV"] == any_env.env
            assert {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"} <= set(env)
            assert 1 <= len(p["Layers"]) <= 5  # Lambda allows 5; the mapping test below checks which
            assert p["FunctionName"].startswith(f"ql-algo-trading-{any_env.env}-")
            assert "LoggingConfig" in p  # its own log group, with retention


def test_roles_carry_no_aws_managed_policies(any_env):
    for stack in any_env.templates:
        for logical_id, role in any_env.resources(stack, "AWS::IAM::Role").items():
            principal = json.dumps(role["Properties"]["AssumeRolePolicyDocument"])
            if "lambda.amazonaws.com" in principal and "CustomVpcRestrictDefaultSG" not in logical_id:
                assert "ManagedPolicyArns" not in role["Properties"], (stack, logical_id)


def test_code_asset_holds_only_the_three_code_directories(dev):
    keys = {f["Properties"]["Code"]["S3Key"] for f in ours(dev, "execution-engine")}
    assert len(keys) == 1  # one code asset shared by every function of the stack
    asset_dir = dev.outdir / f"asset.{keys.pop().removesuffix('.zip')}"
    top = {p.name for p in asset_dir.iterdir()}
    assert top <= set(CODE_DIRECTORIES) and "shared_utils" in top and "config" in top
    staged = staged_code_dir() is not None  # deploy.sh staged build/code: sources + 3.12 bytecode
    for path in asset_dir.rglob("*"):
        assert path.name not in {"tests", ".venv", "node_modules", "cdk.out", "local", "bench"}, path
        if staged:  # only the runtime's bytecode, next to its source
            assert not path.name.endswith(".pyc") or (path.parent.name == "__pycache__"
                                                     and path.name.endswith(".cpython-312.pyc")), path
        else:
            assert path.name != "__pycache__" and not path.name.endswith(".pyc"), path
    assert (asset_dir / "config" / "environments.json").is_file()
    assert staged == any(asset_dir.rglob("*.cpython-312.pyc"))
