"""The actions function (api-actions, issue 18) as deployed: every AWS request its routes make
for the seeded trader (cancel a pending entry, live positions, an order and a position that do
not exist) is allowed by the policy of that function, and the actions have their own function
(the executions function never reaches a broker)."""

from __future__ import annotations

import json

from tests.infrastructure.test_grants import (  # noqa: F401 - fixtures
    Recorder,
    _fresh_container,
    _options_statements,
    deployed_world,
    is_allowed,
    requests_of,
)

ACTIONS = "lambda_functions.options_platform.actions"


def test_every_aws_request_of_the_action_routes_is_granted(dev, deployed_world, monkeypatch):  # noqa: F811
    from cdk_stacks.options_platform_stack import HANDLERS, ROUTES
    from local.apigw import call, handler_module_for

    names, _clock = deployed_world
    _, strategy_id = names.seed
    requests = [("GET", "/options/positions/live", None), ("GET", "/options/audit", None),
                ("POST", f"/options/executions/{strategy_id}.20260817.E/cancel", None),
                ("POST", "/options/orders/QABCDEFGHIJKLMNOPQRS/cancel", None),
                ("POST", "/options/orders/QABCDEFGHIJKLMNOPQRS/modify", {"price": 10.0}),
                ("POST", f"/options/positions/{strategy_id}~ZERODHA123~NIFTY2681824000PE/close", None)]
    seen: set = set()
    answers = []
    for method, path, body in requests:
        assert handler_module_for(path) == ACTIONS, path
        _fresh_container()
        recorder = Recorder()
        with recorder.installed():
            status, answer = call(method, path, body)
        answers.append((path, status))
        assert status < 500, (method, path, status, answer)
        seen.update(r for c in recorder.calls for r in requests_of(*c))
    assert [s for _, s in answers] == [200, 200, 200, 404, 404, 404], answers
    statements = _options_statements(dev, f"{ACTIONS}.handler")
    gaps = sorted((a, r) for a, r in seen if not is_allowed(statements, a, r))
    assert not gaps, json.dumps(gaps, indent=1)
    assert any(a == "dynamodb:PutItem" for a, _ in seen)  # the cancelled execution's claim, the audit item
    # the routes are served by the actions family alone
    mine = {"/options/orders/{order_id}/cancel", "/options/orders/{order_id}/modify",
            "/options/executions/{execution_id}/cancel", "/options/positions/{position_id}/close",
            "/options/positions/live", "/options/audit"}
    families = {family for path, _, family in ROUTES if path in mine}
    assert {path for path, _, _ in ROUTES} >= mine
    assert families == {"actions"} and HANDLERS["actions"] == f"{ACTIONS}.handler"
