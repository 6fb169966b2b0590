"""The OpenAPI document is generated from the routes and checked in; schemathesis fuzzes the
local server with it (bounded): no 5xx, every response matches the schema."""

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks

from lambda_functions.options_platform.openapi import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"

pytestmark = pytest.mark.slow


def test_checked_in_openapi_is_current():
    assert DOC.read_text() == render(), "docs/openapi.json is stale: run `make openapi`"


SCHEMA = schemathesis.openapi.from_dict(json.loads(DOC.read_text()))
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_api_conforms(label, local_stack):
    """Bounded fuzzing of one operation (hypothesis, 8 examples). Uses schemathesis' strategy
    API directly: its pytest plugin does not run under pytest 9."""
    token = local_stack.token("fuzzer@example.com")

    @settings(max_examples=8, deadline=None, phases=[Phase.explicit, Phase.generate, Phase.target],
              suppress_health_check=list(HealthCheck), database=None, derandomize=True)
    @given(case=OPERATIONS[label].as_strategy())
    def check(case):
        case.call_and_validate(
            base_url=local_stack.url, headers={"Authorization": f"Bearer {token}"},
            excluded_checks=[checks.positive_data_acceptance, checks.ignored_auth],
        )

    check()
