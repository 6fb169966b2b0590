"""Writes the REST API's OpenAPI document from the routes of every handler family:
``python -m lambda_functions.options_platform.openapi > docs/openapi.json`` (``make openapi``).

All routes use the Cognito authorizer except the two public ones, which verify themselves:
the Zerodha OAuth redirect (signed state) and broker postbacks (checksum).
"""

from __future__ import annotations

import json

from lambda_functions.auth_broker import broker_accounts, broker_sessions, profile
from lambda_functions.auth_broker.common import build_auth_app
from lambda_functions.options_platform import allocations, analytics, baskets, executions, market, strategies
from lambda_functions.options_platform import actions, marketplace, notifications

ROUTERS = (baskets.router, strategies.router, allocations.router, executions.router, analytics.router,
           broker_accounts.router, broker_sessions.router, profile.router, market.router,
           marketplace.router, notifications.router, actions.router)
PUBLIC_PATHS = ("/broker-sessions/zerodha/callback", "/broker-sessions/finvasia/callback",
                "/broker-sessions/zebu/callback", "/postbacks/{broker}")


def document() -> dict:
    app = build_auth_app(*ROUTERS)
    schema = json.loads(app.get_openapi_json_schema(
        title="ql-algo-trading options platform API", version="1.0.0",
        summary="Baskets, strategies, legs, allocations, schedules, executions and broker accounts (Cognito auth)",
    ))
    schema.setdefault("components", {}).setdefault("securitySchemes", {})["cognito"] = {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "Cognito ID token of the user pool (Authorization: Bearer <token>)"}
    schema["security"] = [{"cognito": []}]
    for path in PUBLIC_PATHS:
        for operation in schema.get("paths", {}).get(path, {}).values():
            operation["security"] = []
    return schema


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
