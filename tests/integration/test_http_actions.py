"""The action routes of issue 18 over HTTP with Cognito tokens (the local stack): each needs a
token, and another trader's ids answer 404 whatever the action; the owner's own cancel of a
pending execution answers 200 and the intruder's attempt changed nothing."""

from __future__ import annotations

from tests.functional.api.journey import run_journey
from tests.integration.test_http_api import _link


def test_actions_are_tenant_isolated_over_http(local_stack):
    http = local_stack.http
    a = local_stack.token("owner-actions@example.com")
    b = local_stack.token("intruder-actions@example.com")
    _link(local_stack, "owner-actions@example.com", "ZERODHA123", "zerodha")
    _link(local_stack, "owner-actions@example.com", "ANGELONE456", "angel")
    _link(local_stack, "intruder-actions@example.com", "ZERODHA123", "zerodha")
    _, strategy_id = run_journey(lambda m, p, body, u: http(m, p, body, token=a))
    entry = f"{strategy_id}.20990105.E"  # a future Monday's entry: pending, nothing claimed yet
    attempts = [
        ("POST", f"/options/executions/{entry}/cancel", None),
        ("POST", f"/options/positions/{strategy_id}~ZERODHA123~NIFTY2681824000PE/close", None),
        ("POST", "/options/orders/QABCDEFGHIJKLMNOPQRS/cancel", None),
        ("POST", "/options/orders/QABCDEFGHIJKLMNOPQRS/modify", {"price": 10.0}),
    ]
    for method, path, body in attempts:
        status, answer = http(method, path, body, token=b)
        assert status == 404, (method, path, status, answer)
        assert http(method, path, body)[0] == 401, (method, path)
    status, live = http("GET", "/options/positions/live", token=b)
    assert status == 200 and live["items"] == [] and live["total_mtm"] == "0"
    assert http("GET", "/options/positions/live")[0] == 401
    # the owner may cancel their own pending execution; the intruder's attempt left it untouched
    status, body = http("POST", f"/options/executions/{entry}/cancel", token=a)
    assert status == 200 and body["status"] == "CANCELLED" and body["previous_status"] == "SCHEDULED", body
    status, detail = http("GET", f"/options/executions/{entry}", token=a)
    assert status == 200 and detail["execution"]["status"] == "CANCELLED"
    assert detail["execution"]["reasons"][0].startswith("cancelled by ")  # the caller's Cognito username
    assert http("GET", f"/options/executions/{entry}", token=b)[0] == 404
