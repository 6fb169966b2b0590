"""Writes the REST API's OpenAPI document from the routes: ``python -m
lambda_functions.options_platform.openapi > docs/openapi.json``."""

from __future__ import annotations

import json

from lambda_functions.options_platform import allocations, baskets, executions, strategies
from lambda_functions.options_platform.common import build_app

ROUTERS = (baskets.router, strategies.router, allocations.router, executions.router)


def document() -> dict:
    app = build_app(*ROUTERS)
    schema = json.loads(app.get_openapi_json_schema(
        title="ql-algo-trading options platform API", version="1.0.0",
        summary="Baskets, strategies, legs, allocations and schedules of options strategies (Cognito auth)",
    ))
    schema.setdefault("components", {}).setdefault("securitySchemes", {})["cognito"] = {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "Cognito ID token of the user pool (Authorization: Bearer <token>)"}
    schema["security"] = [{"cognito": []}]
    return schema


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
