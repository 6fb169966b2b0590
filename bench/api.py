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


ROUTES = ("create_strategy", "post_legs", "post_allocations", "get_strategy", "list_strategies")


def run_cpu(rounds: int = 60, warmup: int = 5) -> dict[str, Any]:
    """[api_handler_cpu_p95_ms]: OUR code's CPU per API request, botocore and moto excluded.

    Each request goes through the real handler in-process (``local.apigw.call``: API Gateway
    event, Powertools routing, the authorizer's claims, validation, services, JSON), over
    in-process moto. CPU is ``time.thread_time`` of the calling thread around the call, minus
    the thread CPU spent inside ``botocore.client.BaseClient._make_api_call`` (request
    serialization, moto's emulation of DynamoDB, response parsing: in Lambda that is a network
    wait to DynamoDB, not our CPU). Routes per round: POST /options/baskets/{id}/strategies, POST
    .../legs (the seed's 4), POST .../allocations/advanced (the seed's 2 accounts), GET
    .../{id}, GET /options/strategies. Figures in ms of CPU: ``api_handler_cpu_p95_ms`` (all
    routes), ``api_handler_cpu_<route>_p95_ms``, ``api_botocore_cpu_p50_ms`` (the subtracted
    share), and the load average around the run.
    """
    import threading

    from botocore.client import BaseClient

    from bench.common import fast_moto_queries, machine, moto_tables
    from lambda_functions.options_platform import common
    from local.apigw import call
    from shared_utils.models.basket import BasketCreate
    from shared_utils.models.broker_account import BrokerAccount
    from shared_utils.services.options import OptionsService

    load_before = os.getloadavg()
    inside = threading.local()
    original = BaseClient._make_api_call

    def make_api_call(self: Any, operation_name: str, api_params: Any) -> Any:
        depth = getattr(inside, "depth", 0)
        start = time.thread_time()
        inside.depth = depth + 1
        try:
            return original(self, operation_name, api_params)
        finally:
            inside.depth = depth
            if depth == 0:
                inside.spent = getattr(inside, "spent", 0.0) + time.thread_time() - start

    cpu: dict[str, list[float]] = {route: [] for route in ROUTES}
    boto: list[float] = []
    with moto_tables() as (env, repos), fast_moto_queries():
        common.repositories.cache_clear()
        user_id, clients = "bench-cpu", ("ZCPU0001", "ACPU0001")
        repos.accounts.create(BrokerAccount(user_id=user_id, client_id=clients[0], broker="zerodha"))
        repos.accounts.create(BrokerAccount(user_id=user_id, client_id=clients[1], broker="angel"))
        service = OptionsService(repos, env)
        basket_body = BasketCreate.model_validate(seed_body("01_create_basket.json"))
        limit = env.settings.options_platform.max_strategies_per_basket
        legs, allocations = complete_legs_body(), allocations_body(clients)
        BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]

        def timed(route: str, expect: int, method: str, path: str, body: Any = None, keep: bool = True) -> Any:
            inside.spent = 0.0
            start = time.thread_time()
            status, answer = call(method, path, body, user_id=user_id)
            total = time.thread_time() - start
            if status != expect:
                raise RuntimeError(f"{method} {path}: {status} {json.dumps(answer)[:300]}")
            if keep:
                cpu[route].append((total - inside.spent) * 1000)
                boto.append(inside.spent * 1000)
            return answer

        try:
            for n in range(rounds + warmup):
                keep = n >= warmup
                if n % limit == 0:  # a basket holds at most `limit` strategies (setup, not measured)
                    BaseClient._make_api_call = original  # type: ignore[method-assign]
                    basket = service.create_basket(user_id, basket_body)
                    BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
                spec = seed_body("02_create_strategy.json")
                spec.update(strategy_name=f"Cpu {n}")
                strategy = timed("create_strategy", 201, "POST", f"/options/baskets/{basket.basket_id}/strategies", spec, keep)
                sid = strategy["strategy_id"]
                timed("post_legs", 201, "POST", f"/options/strategies/{sid}/legs", legs, keep)
                timed("post_allocations", 201, "POST", f"/options/strategies/{sid}/allocations/advanced", allocations, keep)
                timed("get_strategy", 200, "GET", f"/options/strategies/{sid}", None, keep)
                if n % limit == 0:  # the list grows with the rounds: measured once per basket
                    timed("list_strategies", 200, "GET", "/options/strategies", None, keep)
        finally:
            BaseClient._make_api_call = original  # type: ignore[method-assign]
            common.repositories.cache_clear()
    everything = [v for values in cpu.values() for v in values]
    out: dict[str, Any] = {"api_handler_cpu_p95_ms": percentile(everything, 95),
                           "api_handler_cpu_p50_ms": percentile(everything, 50),
                           "api_botocore_cpu_p50_ms": percentile(boto, 50)}
    for route, values in cpu.items():
        if values:
            out[f"api_handler_cpu_{route}_p95_ms"] = percentile(values, 95)
    out["_notes"] = {"rounds": rounds, "warmup": warmup, "requests": len(everything),
                     "loadavg_before": [round(x, 2) for x in load_before],
                     "loadavg_after": [round(x, 2) for x in os.getloadavg()], "nproc": machine()["nproc"]}
    return out


if __name__ == "__main__":  # pragma: no cover
    import sys

    print(json.dumps(run_cpu() if "--cpu" in sys.argv else run(), indent=1))
