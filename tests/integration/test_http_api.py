"""The options API over HTTP through the local server: Cognito tokens verified, the seed's
journey 1 sent verbatim, tenant isolation on every route."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from shared_utils.models.broker_account import BrokerAccount
from shared_utils.persistence.repositories import Repositories
from tests.conftest import seed_request
from tests.functional.api.journey import run_journey

pytestmark = pytest.mark.slow


def _link(stack, email, client_id, broker):
    repos = Repositories.for_environment(stack.env)
    if repos.accounts.find(stack.sub(email), client_id) is None:
        repos.accounts.create(BrokerAccount(user_id=stack.sub(email), client_id=client_id, broker=broker))


def test_tokens_are_verified(local_stack):
    http = local_stack.http
    assert http("GET", "/options/baskets")[0] == 401
    assert http("GET", "/options/baskets", token="not.a.token")[0] == 401
    good = local_stack.token("alice@example.com")
    assert http("GET", "/options/baskets", token=good)[0] == 200
    claims = jwt.decode(good, options={"verify_signature": False})
    forged_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({**claims, "sub": "someone-else"}, forged_key, algorithm="RS256", headers={"kid": "dummy"})
    status, body = http("GET", "/options/baskets", token=forged)
    assert status == 401 and "invalid token" in body["message"]
    from joserfc import jwk
    from moto.utilities.utils import load_resource

    # the local pool's own signing key: a correctly signed token that has expired
    moto_key = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, moto_key.as_pem(private=True), algorithm="RS256",
                         headers={"kid": "dummy"})
    status, body = http("GET", "/options/baskets", token=expired)
    assert status == 401 and "expired" in body["message"]


def test_seed_journey_verbatim_over_http(local_stack):
    token = local_stack.token("trader@example.com")
    _link(local_stack, "trader@example.com", "ZERODHA123", "zerodha")
    _link(local_stack, "trader@example.com", "ANGELONE456", "angel")

    def call(method, path, body, user):
        return local_stack.http(method, path, body, token=token)

    basket_id, strategy_id = run_journey(call)
    status, summary = local_stack.http("GET", f"/options/strategies/{strategy_id}/allocations/summary",
                                       token=token, query="date=2026-08-17")
    assert status == 200
    per_account = {a["client_id"]: a["total_lots"] for a in summary["accounts"]}
    assert per_account == {"ZERODHA123": 8, "ANGELONE456": 10} and summary["total_lots"] == 18


def test_tenant_isolation_on_every_route(local_stack):
    a = local_stack.token("owner@example.com")
    b = local_stack.token("intruder@example.com")
    _link(local_stack, "owner@example.com", "ZERODHA123", "zerodha")
    _link(local_stack, "owner@example.com", "ANGELONE456", "angel")
    _link(local_stack, "intruder@example.com", "ZERODHA123", "zerodha")
    basket_id, strategy_id = run_journey(lambda m, p, body, u: local_stack.http(m, p, body, token=a))
    http = local_stack.http
    before = http("GET", f"/options/strategies/{strategy_id}", token=a)[1]
    basket_before = http("GET", f"/options/baskets/{basket_id}", token=a)[1]
    attempts = [
        ("GET", f"/options/baskets/{basket_id}", None),
        ("PUT", f"/options/baskets/{basket_id}", {"basket_name": "mine now"}),
        ("DELETE", f"/options/baskets/{basket_id}", None),
        ("POST", f"/options/baskets/{basket_id}/strategies", {**before["strategy"], "strategy_id": None}),
        ("GET", f"/options/strategies/{strategy_id}", None),
        ("PUT", f"/options/strategies/{strategy_id}", {"entry_time": "09:45"}),
        ("POST", f"/options/strategies/{strategy_id}/pause", None),
        ("POST", f"/options/strategies/{strategy_id}/activate", None),
        ("GET", f"/options/strategies/{strategy_id}/legs", None),
        ("POST", f"/options/strategies/{strategy_id}/legs", {"legs": [dict(seed_request("03_add_legs.json")["body"]["legs"][0], leg_no=5)]}),
        ("PUT", f"/options/strategies/{strategy_id}/legs/1", {"lots": 9}),
        ("DELETE", f"/options/strategies/{strategy_id}/legs/1", None),
        ("GET", f"/options/strategies/{strategy_id}/allocations", None),
        ("POST", f"/options/strategies/{strategy_id}/allocations", {"client_id": "ZERODHA123", "strategy_lots_multiplier": 5}),
        ("POST", f"/options/strategies/{strategy_id}/allocations/advanced",
         {"allocations": [{"client_id": "ZERODHA123", "leg_overrides": {"1": {"lots": 9}}}]}),
        ("GET", f"/options/strategies/{strategy_id}/allocations/summary", None),
        ("PUT", f"/options/strategies/{strategy_id}/allocations/ZERODHA123", {"priority": 9}),
        ("DELETE", f"/options/strategies/{strategy_id}/allocations/ZERODHA123", None),
        ("DELETE", f"/options/strategies/{strategy_id}", None),
    ]
    for method, path, body in attempts:
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if v is not None and k not in (
                "strategy_id", "user_id", "basket_id", "created_at", "updated_at", "version", "created_by_type",
                "performance_metrics", "entity_type", "status")}
        status, answer = http(method, path, body, token=b)
        assert status == 404, (method, path, status, answer)
    assert http("GET", "/options/baskets", token=b)[1]["items"] == []
    assert http("GET", "/options/strategies", token=b)[1]["items"] == []
    assert http("GET", "/options/executions/schedule", token=b, query="date=2026-08-17")[1]["items"] == []
    assert http("GET", f"/options/strategies/{strategy_id}", token=a)[1] == before
    assert http("GET", f"/options/baskets/{basket_id}", token=a)[1] == basket_before


def test_every_documented_route_requires_a_token(local_stack):
    """Every operation of docs/openapi.json except the two public ones answers 401 without a
    token, and with a forged one."""
    import json as _json
    from pathlib import Path

    doc = _json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
    checked = 0
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            if operation.get("security") == []:
                continue
            concrete = (path.replace("{basket_id}", "bkt_x").replace("{strategy_id}", "stg_x")
                        .replace("{leg_no}", "1").replace("{client_id}", "C1").replace("{execution_id}", "e"))
            body = {} if method in ("post", "put") else None
            assert local_stack.http(method.upper(), concrete, body)[0] == 401, (method, path)
            assert local_stack.http(method.upper(), concrete, body, token="a.b.c")[0] == 401, (method, path)
            checked += 1
    assert checked >= 30
