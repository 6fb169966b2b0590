"""Session fixtures: each environment's CDK app is synthesized ONCE per test session (per
xdist worker), through the same ``build_app`` that ``app.py`` uses, with cdk-nag attached.

A synth that cdk-nag rejects raises inside the fixture, so every test of that environment
fails with the validation report's findings in the message.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App, Stack  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from cdk_stacks.app_builder import build_app  # noqa: E402
from shared_utils.config import EnvironmentConfig, load_environment  # noqa: E402

STACKS = ("auth-broker", "options-platform", "execution-engine")


@dataclass
class Synth:
    """One environment's synthesized app."""

    env: str
    config: EnvironmentConfig
    app: App
    outdir: Path
    stacks: dict[str, Stack]
    templates: dict[str, dict] = field(default_factory=dict)
    _assertions: dict[str, Template] = field(default_factory=dict)

    def template(self, stack: str) -> Template:
        """``aws_cdk.assertions.Template`` of ``stack`` (auth-broker, options-platform, execution-engine)."""
        if stack not in self._assertions:
            self._assertions[stack] = Template.from_json(self.templates[stack])
        return self._assertions[stack]

    def resources(self, stack: str, cfn_type: str) -> dict[str, dict]:
        """Logical id -> resource of ``cfn_type`` in ``stack``'s template."""
        return {k: v for k, v in self.templates[stack]["Resources"].items() if v["Type"] == cfn_type}

    def manifest(self) -> dict:
        """The cloud assembly manifest."""
        return json.loads((self.outdir / "manifest.json").read_text())


CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"


def _synth(env: str, outdir: Path) -> Synth:
    # The same context (feature flags) as `npx cdk synth`, from cdk.json.
    context = dict(json.loads(CDK_JSON.read_text()).get("context", {}), env=env)
    app = App(outdir=str(outdir), context=context)
    build_app(app=app)
    assembly = app.synth()
    config = load_environment(env)
    # Construct id = stack name, so `cdk deploy ql-algo-trading-dev-auth-broker-stack` works.
    stacks = {name: app.node.find_child(config.stack_name(name)) for name in STACKS}
    synth = Synth(env=env, config=config, app=app, outdir=outdir, stacks=stacks)
    for name, stack in stacks.items():
        synth.templates[name] = assembly.get_stack_artifact(stack.artifact_id).template
    return synth


_CACHE: dict[str, Synth] = {}


def synthesized(env: str, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The cached synth of ``env``."""
    if env not in _CACHE:
        _CACHE[env] = _synth(env, tmp_path_factory.mktemp(f"cdk-{env}"))
    return _CACHE[env]


@pytest.fixture(scope="session")
def dev(tmp_path_factory) -> Synth:
    """The dev app."""
    return synthesized("dev", tmp_path_factory)


@pytest.fixture(scope="session")
def staging(tmp_path_factory) -> Synth:
    """The staging app (static egress IP, alarms, RETAIN)."""
    return synthesized("staging", tmp_path_factory)


@pytest.fixture(scope="session")
def production(tmp_path_factory) -> Synth:
    """The production app."""
    return synthesized("production", tmp_path_factory)


@pytest.fixture(scope="session", params=["dev", "staging", "production"])
def any_env(request, tmp_path_factory) -> Synth:
    """Each deployable environment in turn."""
    return synthesized(request.param, tmp_path_factory)
