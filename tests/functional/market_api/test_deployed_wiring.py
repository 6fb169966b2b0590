"""As deployed: the market function is declared with the engine's market data settings and
read-only grants, every route of issue 17 is Cognito-authorized, and without a registered
context the API builds the engine's own composition root (same market data as Resolve)."""

from __future__ import annotations

import json
from datetime import datetime


from cdk_stacks.options_platform_stack import HANDLERS, ROUTES
from shared_utils.clock import IST, FixedClock, default_clock, set_default_clock
from tests.infrastructure.conftest import dev  # noqa: F401 - session fixture (synth once)
from tests.infrastructure.helpers import methods

STACK = "options-platform"
ISSUE_17 = {
    ("/options/market/status", "GET"), ("/options/market/holidays", "GET"), ("/options/expiry-calendar/{symbol}", "GET"),
    ("/options/market-data/{symbol}", "GET"), ("/options/option-chain/{symbol}/{expiry}", "GET"),
    ("/options/strikes/{symbol}", "GET"), ("/options/volatility/{symbol}", "GET"),
    ("/options/calculator/premium", "POST"), ("/options/calculator/greeks", "POST"),
    ("/options/calculator/payoff", "POST"), ("/options/calculator/breakeven", "POST"),
    ("/options/strategies/{strategy_id}/preview", "GET"),
}


def test_market_routes_are_declared_and_cognito_authorized(dev):  # noqa: F811
    declared = {(path, m) for path, ms, family in ROUTES if family == "market" for m in ms}
    assert declared == ISSUE_17
    found = methods(dev.templates[STACK])
    for key in ISSUE_17:
        assert found[key]["AuthorizationType"] == "COGNITO_USER_POOLS", key


def test_market_function_reads_what_resolve_reads_and_writes_nothing(dev):  # noqa: F811
    fn = next(r["Properties"] for r in dev.resources(STACK, "AWS::Lambda::Function").values()
              if r["Properties"]["Handler"] == HANDLERS["market"])
    variables = fn["Environment"]["Variables"]
    assert variables["QL_MARKET_DATA_ACCOUNT"] == dev.config.settings.market_data.account
    assert variables["QL_INSTRUMENTS_FROM_S3"] == "1" and "INSTRUMENTS_BUCKET_NAME" in variables
    role = fn["Role"]["Fn::GetAtt"][0]
    policy = json.dumps([r["Properties"]["PolicyDocument"] for r in dev.resources(STACK, "AWS::IAM::Policy").values()
                         if {"Ref": role} in r["Properties"]["Roles"]])
    assert "instruments/*" in policy and "secretsmanager:GetSecretValue" in policy
    for write in ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "s3:PutObject",
                  "secretsmanager:PutSecretValue"):
        assert write not in policy, write


def test_without_a_registered_context_the_api_uses_the_engine_composition_root(market_api, monkeypatch):
    from shared_utils.services import market_status

    market_status.set_api_context(None)
    market_status._deployed_context.cache_clear()
    monkeypatch.delenv("QL_MARKET_DATA_ACCOUNT", raising=False)
    saved = default_clock()
    set_default_clock(FixedClock(datetime(2026, 8, 17, 10, 0, tzinfo=IST)))
    try:
        status, data = market_api("GET", "/options/market-data/NIFTY")
        assert status == 200, data
        assert data["quote"]["kind"] == "simulator" and data["quote"]["as_of"] == "2026-08-17T04:30:00.000Z"
        ctx = market_status.api_context()
        assert getattr(ctx.market, "paper_only", False) is True  # wiring's PaperOnlyMarketData, as Resolve gets
    finally:
        set_default_clock(saved)
        market_status._deployed_context.cache_clear()
