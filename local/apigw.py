"""Turn an HTTP request into an API Gateway REST (v1) Lambda proxy event, and a handler's result
back into an HTTP answer, so the local server runs the same handlers API Gateway invokes.

The Cognito authorizer's claims are put where API Gateway puts them:
``requestContext.authorizer.claims``.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import timezone
from typing import Any
from urllib.parse import parse_qs


def build_event(method: str, path: str, body: Any = None, query: dict[str, str] | str | None = None,
                headers: dict[str, str] | None = None, claims: dict[str, Any] | None = None,
                resource: str | None = None, path_parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway REST proxy event. ``body`` may be a dict (JSON-encoded here) or a string."""
    if isinstance(query, str):
        parsed = parse_qs(query, keep_blank_values=True)
        single = {k: v[-1] for k, v in parsed.items()}
        multi = parsed
    else:
        single = dict(query or {})
        multi = {k: [v] for k, v in single.items()}
    raw_body = body if (body is None or isinstance(body, str)) else json.dumps(body)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    from shared_utils.clock import default_clock

    now = default_clock().now().astimezone(timezone.utc)  # the platform clock (--at), as every record
    context: dict[str, Any] = {
        "resourcePath": resource or path, "httpMethod": method.upper(), "path": path, "stage": "local",
        "requestId": str(uuid.uuid4()), "requestTimeEpoch": int(now.timestamp() * 1000),
        "identity": {"sourceIp": "127.0.0.1", "userAgent": hdrs.get("User-Agent", "")},
    }
    if claims is not None:
        context["authorizer"] = {"claims": claims}
    return {
        "resource": resource or path, "path": path, "httpMethod": method.upper(), "headers": hdrs,
        "multiValueHeaders": {k: [v] for k, v in hdrs.items()},
        "queryStringParameters": single or None, "multiValueQueryStringParameters": multi or None,
        "pathParameters": path_parameters, "stageVariables": None, "requestContext": context,
        "body": raw_body, "isBase64Encoded": False,
    }


class FakeLambdaContext:
    """Enough of the Lambda context object for Powertools' logger."""

    function_name = "local"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:ap-south-1:000000000000:function:local"
    aws_request_id = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30000


# (regex on the path, handler module) in match order: the first match wins.
ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^/options/strategies/[^/]+/preview/?$"), "lambda_functions.options_platform.market"),
    (re.compile(r"^/options/(market|market-data|expiry-calendar|option-chain|strikes|volatility|calculator)(/.*)?$"),
     "lambda_functions.options_platform.market"),
    (re.compile(r"^/options/baskets/[^/]+/strategies/?$"), "lambda_functions.options_platform.strategies"),
    (re.compile(r"^/options/baskets(/.*)?$"), "lambda_functions.options_platform.baskets"),
    (re.compile(r"^/options/strategies/[^/]+/allocations(/.*)?$"), "lambda_functions.options_platform.allocations"),
    (re.compile(r"^/options/strategies(/.*)?$"), "lambda_functions.options_platform.strategies"),
    (re.compile(r"^/options/executions/dashboard/?$"), "lambda_functions.options_platform.analytics"),
    # order actions (issue 18) before the analytics family that owns the rest of /options/orders
    (re.compile(r"^/options/orders/[^/]+/(cancel|modify)/?$"), "lambda_functions.options_platform.executions"),
    (re.compile(r"^/options/(orders|pnl|performance|reports)(/.*)?$"), "lambda_functions.options_platform.analytics"),
    (re.compile(r"^/options/(executions|positions|kill-switch)(/.*)?$"), "lambda_functions.options_platform.executions"),
    (re.compile(r"^/broker-accounts(/.*)?$"), "lambda_functions.auth_broker.broker_accounts"),
    (re.compile(r"^/broker-sessions(/.*)?$"), "lambda_functions.auth_broker.broker_sessions"),
    (re.compile(r"^/profile/?$"), "lambda_functions.auth_broker.profile"),
    (re.compile(r"^/postbacks(/.*)?$"), "lambda_functions.execution_engine.postbacks"),
]

#: routes API Gateway exposes without the Cognito authorizer (the handler verifies them itself)
PUBLIC = [re.compile(r"^/postbacks/"), re.compile(r"^/broker-sessions/(zerodha|finvasia|zebu)/callback")]


def handler_module_for(path: str) -> str | None:
    for pattern, module in ROUTES:
        if pattern.match(path):
            return module
    return None


def is_public(path: str) -> bool:
    return any(p.match(path) for p in PUBLIC)


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    """Run the handler that owns ``event['path']``; a path no handler owns answers 404."""
    import importlib

    module_name = handler_module_for(event["path"])
    if module_name is None:
        return {"statusCode": 404, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"statusCode": 404, "message": "no such route"})}
    module = importlib.import_module(module_name)
    return module.handler(event, FakeLambdaContext())


def call(method: str, path: str, body: Any = None, user_id: str | None = "user-a", query: Any = None,
         claims: dict[str, Any] | None = None) -> tuple[int, Any]:
    """In-process call of the owning handler as user ``user_id`` (None = no authorizer claims).
    Returns (status, parsed JSON body)."""
    if claims is None and user_id is not None:
        claims = {"sub": user_id, "cognito:username": user_id}
    response = invoke(build_event(method, path, body, query, claims=claims))
    text = response.get("body") or ""
    try:
        parsed = json.loads(text) if text else None
    except json.JSONDecodeError:
        parsed = text
    return int(response["statusCode"]), parsed
