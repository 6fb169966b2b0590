"""The execution-engine stack as synthesized: every function knows the environment's market data
(``QL_MARKET_DATA_ACCOUNT`` from config; finding 3: never set), and every function that loads
the day's masters may read ``instruments/*`` (finding 2: only Resolve and the refresher could).
"""

import json

import pytest

from cdk_stacks.execution_engine_stack import MASTER_READERS
from tests.infrastructure.conftest import synthesized

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def staging(tmp_path_factory):
    return synthesized("staging", tmp_path_factory)


def _functions(synth):
    return {k: v for k, v in synth.templates["execution-engine"]["Resources"].items()
            if v["Type"] == "AWS::Lambda::Function"}


def test_every_engine_function_gets_the_market_data_account(staging):
    expected = staging.config.settings.market_data.account
    functions = _functions(staging)
    assert functions
    for logical_id, fn in functions.items():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        if "QL_INSTRUMENTS_FROM_S3" in env:
            assert env.get("QL_MARKET_DATA_ACCOUNT") == expected, logical_id


def test_every_master_reader_may_read_instruments(staging):
    resources = staging.templates["execution-engine"]["Resources"]
    functions = _functions(staging)
    handler_of = {lid: fn["Properties"]["Handler"] for lid, fn in functions.items()}
    role_of = {lid: json.dumps(fn["Properties"]["Role"]) for lid, fn in functions.items()}
    policies = [r for r in resources.values() if r["Type"] == "AWS::IAM::Policy"]

    def can_read_instruments(role_ref: str) -> bool:
        for policy in policies:
            if role_ref not in json.dumps(policy["Properties"].get("Roles", [])):
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if "s3:GetObject" in actions and "instruments/*" in json.dumps(statement["Resource"]):
                    return True
        return False

    for module in MASTER_READERS + ("market_data_refresher",):
        (lid,) = [lid for lid, h in handler_of.items() if h == f"lambda_functions.execution_engine.{module}.handler"]
        role = json.loads(role_of[lid])
        role_ref = json.dumps(role["Fn::GetAtt"][0]) if "Fn::GetAtt" in role else json.dumps(role)
        assert can_read_instruments(role_ref.strip('"')), module


def test_master_readers_are_every_handler_built_on_engine_context():
    from pathlib import Path

    handlers = Path(__file__).resolve().parents[3] / "lambda_functions" / "execution_engine"
    users = {p.stem for p in handlers.glob("*.py") if "engine_context()" in p.read_text()}
    assert users and users <= set(MASTER_READERS), users - set(MASTER_READERS)
