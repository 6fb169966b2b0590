"""Measure 4: REST API latency through the local server.

Setup as tests/integration/conftest.py: a moto server on 127.0.0.1 (DynamoDB + Cognito), the
platform's tables, a user pool and a real Cognito id token (RS256, verified by the server against
the pool's JWKS), the local API server translating HTTP into API Gateway events for the same
Lambda handlers. Two PAPER broker accounts are linked through the repository.

Each round (``rounds`` of them, after ``warmup`` unmeasured ones) creates a standalone strategy
(unmeasured, the seed's body) then times, client side with ``perf_counter`` around urllib (ms):

- ``POST /options/strategies/{id}/legs``: the seed's 4 legs (03_add_legs.json, completed);
- ``POST /options/strategies/{id}/allocations/advanced``: the seed's leg-level allocations (04);
- ``GET /options/strategies/{id}``: the strategy with its legs, allocations and schedule.

Figures: p50 and p95 per route and over all three (``api_p95_ms``), milliseconds.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

from bench.common import allocations_body, complete_legs_body, fake_aws_environment, percentile, seed_body


def run(rounds: int = 60, warmup: int = 5) -> dict[str, Any]:
    fake_aws_environment()
    from lambda_functions.options_platform import common
    from local.api_server import ApiServer
    from local.aws import LocalAws
    from shared_utils.config import load_environment
    from shared_utils.models.broker_account import BrokerAccount
    from shared_utils.persistence.repositories import Repositories
    from shared_utils.persistence.table import reset_clients

    saved = dict(os.environ)
    aws = LocalAws()
    server = None
    try:
        aws.configure_environment()
        reset_clients()
        env = load_environment("local")
        aws.create_tables(env)
        identity = aws.create_identity(env)
        common.repositories.cache_clear()
        server = ApiServer(identity).start()
        user_id = aws.ensure_user(identity, "bench@example.com")
        token = aws.id_token(identity, "bench@example.com")
        repos = Repositories.for_environment(env)
        clients = ("ZBENCH01", "ABENCH01")
        repos.accounts.create(BrokerAccount(user_id=user_id, client_id=clients[0], broker="zerodha"))
        repos.accounts.create(BrokerAccount(user_id=user_id, client_id=clients[1], broker="angel"))

        def http(method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
            data = None if body is None else json.dumps(body).encode()
            request = urllib.request.Request(server.url + path, data=data, method=method)
            request.add_header("Content-Type", "application/json")
            request.add_header("Authorization", f"Bearer {token}")
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    text = response.read().decode()
                    status = response.status
            except urllib.error.HTTPError as exc:
                text, status = exc.read().decode(), exc.code
            elapsed = (time.perf_counter() - t0) * 1000
            return status, (json.loads(text) if text else None), elapsed

        legs, allocations = complete_legs_body(), allocations_body(clients)
        timings: dict[str, list[float]] = {"post_legs": [], "post_allocations": [], "get_strategy": []}
        for n in range(rounds + warmup):
            spec = seed_body("02_create_strategy.json")
            spec["strategy_name"] = f"Bench {n}"
            status, strategy, _ = http("POST", "/options/strategies", spec)
            assert status == 201, strategy
            sid = strategy["strategy_id"]
            measured = {}
            status, body, measured["post_legs"] = http("POST", f"/options/strategies/{sid}/legs", legs)
            assert status == 201, body
            status, body, measured["post_allocations"] = http(
                "POST", f"/options/strategies/{sid}/allocations/advanced", allocations)
            assert status == 201, body
            status, body, measured["get_strategy"] = http("GET", f"/options/strategies/{sid}")
            assert status == 200 and len(body["legs"]) == 4 and len(body["allocations"]) == 2, body
            if n >= warmup:
                for key, value in measured.items():
                    timings[key].append(value)
        # the floor under every route: one DynamoDB GetItem to the moto server (ms)
        getitem: list[float] = []
        for _ in range(30):
            t0 = time.perf_counter()
            repos.accounts.get(user_id, clients[0])
            getitem.append((time.perf_counter() - t0) * 1000)
    finally:
        if server is not None:
            server.stop()
        aws.stop()
        common.repositories.cache_clear()
        reset_clients()
        os.environ.clear()
        os.environ.update(saved)

    out: dict[str, Any] = {"api_rounds": rounds, "api_moto_getitem_p50_ms": percentile(getitem, 50)}
    everything: list[float] = []
    for key, values in timings.items():
        out[f"api_{key}_p50_ms"] = percentile(values, 50)
        out[f"api_{key}_p95_ms"] = percentile(values, 95)
        everything += values
    out["api_p50_ms"] = percentile(everything, 50)
    out["api_p95_ms"] = percentile(everything, 95)
    out["api_worst_route_p95_ms"] = max(out[f"api_{k}_p95_ms"] for k in timings)
    return out


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(run(), indent=1))
