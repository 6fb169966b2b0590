"""The app: stack names, region, deploy order, cross-stack exports/imports, env ``local``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_stacks.app_builder import NotADeployTarget, resolve_environment
from tests.infrastructure.helpers import exports, imports

REPO = Path(__file__).resolve().parents[2]


def test_stack_names_and_region(any_env):
    for name, stack in any_env.stacks.items():
        assert stack.stack_name == f"ql-algo-trading-{any_env.env}-{name}-stack"
        assert stack.region == "ap-south-1"


def test_deploy_order_is_declared(any_env):
    artifacts = any_env.manifest()["artifacts"]
    auth, platform, engine = (any_env.config.stack_name(s) for s in ("auth-broker", "options-platform", "execution-engine"))
    deps = {cid: set(artifacts[cid].get("dependencies", [])) for cid in (auth, platform, engine)}
    assert auth in deps[platform]
    assert {auth, platform} <= deps[engine]
    assert not deps[auth] & {platform, engine}


def test_every_import_is_exported_by_an_earlier_stack(any_env):
    t = any_env.templates
    auth, platform = exports(t["auth-broker"]), exports(t["options-platform"])
    assert imports(t["auth-broker"]) == set()
    assert imports(t["options-platform"]) and imports(t["options-platform"]) <= auth
    assert imports(t["execution-engine"]) and imports(t["execution-engine"]) <= auth | platform
    prefix = f"ql-algo-trading-{any_env.env}-"
    assert all(name.startswith(prefix) for name in auth | platform)


def test_auth_broker_exports_what_the_others_need(dev, staging):
    for synth, with_vpc in ((dev, False), (staging, True)):
        names = exports(synth.templates["auth-broker"])
        p = f"ql-algo-trading-{synth.env}-"
        assert {p + "user-pool-id", p + "user-pool-arn", p + "broker-accounts-table-arn", p + "alerts-topic-arn",
                p + "broker-secrets-key-arn", p + "broker-accounts-function-arn"} <= names
        assert (p + "vpc-id" in names) is with_vpc
        assert (p + "egress-ip" in names) is with_vpc


def test_local_is_not_a_deploy_target():
    with pytest.raises(NotADeployTarget, match="deploy.sh -e local"):
        resolve_environment("local")


def test_app_py_refuses_local_with_a_clear_message():
    env = dict(os.environ, CDK_CONTEXT_JSON=json.dumps({"env": "local"}), PYTHONPATH=str(REPO),
               JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1")
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "not a CDK deploy target" in result.stderr
