"""Measure: CPU of the strategy preview and of the calculators for a 6-leg strategy (issue 17:
"within 50 ms of our-code CPU at p95"; figure ``preview_cpu_p95_ms``).

Scenario: the seed's iron condor (legs 1-4: SELL PE/CE by DELTA 0.2, BUY PE/CE 400 points
further out) plus two monthly legs (5: BUY CE ATM_OFFSET 2, 6: BUY PE ATM_OFFSET 2, so two
chains are resolved), leg-level allocations to two PAPER accounts (Zerodha 3/3/1/1/1/1 lots,
Angel 1/1/4/4/1/1), at Mon 17 Aug 2026 09:28:05 IST (FixedClock) with the 2026-08-18 master
and the seeded simulator (the local/dev market data), over in-process moto.

Method: each request goes through the real handler (``local.apigw.call``: Powertools routing,
validation, JSON) with the engine context registered as the API's market context. CPU is
``time.process_time`` around the call; the CPU spent INSIDE the repositories (moto's DynamoDB
emulation and boto3) is measured by wrapping every repository method with the same counter and
subtracted ("our code" = handler + services + planner + strike selection + pricing + the
simulator's quotes; in a deployed function the simulator's share is a broker HTTP call instead).
``rounds`` requests after ``warmup`` for each of: the preview (GET .../preview?date=&time=) and
the payoff calculator (POST /options/calculator/payoff, the heaviest: greeks are not in it, so
the greeks calculator is measured too). Run alone: ``python -m bench.preview``.

Figures (milliseconds of CPU): ``preview_cpu_p95_ms`` (the preview), ``preview_cpu_p50_ms``,
``preview_moto_cpu_p50_ms`` (the subtracted share), ``calculator_cpu_p95_ms`` (payoff + greeks
requests), plus the load average while it ran (the machine is shared).
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from typing import Any

from bench.common import allocations_body, complete_legs_body, machine, moto_tables, percentile, seed_body

EXTRA_LEGS = [
    {"leg_no": 5, "lots": 1, "transaction_type": "BUY", "leg_type": "CALL", "underlying": "NIFTY", "entry_by": "ATM_OFFSET",
     "strike_selection_config": {"method": "ATM_OFFSET", "atm_offset": 2}, "expiry_type": "MONTHLY", "expiry_offset": 0,
     "order_type": "LIMIT", "entry_slippage": 5, "exit_slippage": 5},
    {"leg_no": 6, "lots": 1, "transaction_type": "BUY", "leg_type": "PUT", "underlying": "NIFTY", "entry_by": "ATM_OFFSET",
     "strike_selection_config": {"method": "ATM_OFFSET", "atm_offset": 2}, "expiry_type": "MONTHLY", "expiry_offset": 0,
     "order_type": "LIMIT", "entry_slippage": 5, "exit_slippage": 5},
]


class _Timed:
    """Forwards to ``inner``; the process CPU spent in its methods is added to ``box[0]``."""

    def __init__(self, inner: Any, box: list[float]) -> None:
        self._inner, self._box = inner, box

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return _Timed(value, self._box) if not isinstance(value, (str, int, float, bool, type(None))) else value

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return value(*args, **kwargs)
            finally:
                self._box[0] += time.process_time() - start

        return timed


def _setup(repos: Any, env: Any, clock: Any) -> tuple[str, str]:
    from shared_utils.models.allocation import AdvancedAllocationRequest
    from shared_utils.models.basket import BasketCreate
    from shared_utils.models.broker_account import BrokerAccount
    from shared_utils.models.leg import LegsCreate
    from shared_utils.models.strategy import StrategySpec
    from shared_utils.services.options import OptionsService

    service = OptionsService(repos, env, clock=clock)
    user_id, clients = "bench-user", ("ZBENCH1", "ABENCH1")
    repos.accounts.create(BrokerAccount(user_id=user_id, client_id=clients[0], broker="zerodha"))
    repos.accounts.create(BrokerAccount(user_id=user_id, client_id=clients[1], broker="angel"))
    basket = service.create_basket(user_id, BasketCreate.model_validate(seed_body("01_create_basket.json")))
    spec = seed_body("02_create_strategy.json")
    spec.update(entry_time="09:30")
    strategy = service.create_strategy(user_id, basket.basket_id, StrategySpec.model_validate(spec))
    legs = complete_legs_body()
    legs["legs"] += EXTRA_LEGS
    service.add_legs(user_id, strategy.strategy_id, LegsCreate.model_validate(legs))
    allocations = allocations_body(clients)
    for allocation in allocations["allocations"]:
        for leg_no in ("5", "6"):
            allocation["allocation_config"]["leg_overrides"][leg_no] = {"lots": 1, "enabled": True}
    service.add_advanced_allocations(user_id, strategy.strategy_id, AdvancedAllocationRequest.model_validate(allocations))
    return user_id, strategy.strategy_id


def _calculator_body() -> dict[str, Any]:
    rule = lambda side, kind, config, expiry="WEEKLY", lots=2: {  # noqa: E731
        "side": side, "lots": lots, "underlying": "NIFTY", "expiry_type": expiry, "option_type": kind,
        "strike_selection_config": config}
    return {"legs": [
        rule("SELL", "PE", {"method": "DELTA", "delta_value": 0.2}),
        rule("BUY", "PE", {"method": "STRIKE_DISTANCE", "strike_distance": 400}),
        rule("SELL", "CE", {"method": "DELTA", "delta_value": 0.2}),
        rule("BUY", "CE", {"method": "STRIKE_DISTANCE", "strike_distance": 400}),
        {"side": "BUY", "lots": 1, "underlying": "NIFTY", "expiry": "2026-08-25", "strike": 25300, "option_type": "CE"},
        {"side": "BUY", "lots": 1, "tradingsymbol": "NIFTY26AUG24700PE"},
    ], "points": 81}


def run(rounds: int = 60, warmup: int = 5) -> dict[str, Any]:
    from shared_utils.clock import IST, FixedClock

    clock = FixedClock(datetime(2026, 8, 17, 9, 28, 5, tzinfo=IST))
    load_before = os.getloadavg()
    with moto_tables() as (env, repos):
        from bench.common import engine_context
        from lambda_functions.options_platform import common, market
        from local.apigw import call
        from shared_utils.services import market_status

        user_id, strategy_id = _setup(repos, env, clock)
        box = [0.0]
        timed_repos = _Timed(repos, box)
        ctx = engine_context(timed_repos, env, clock)
        market_status.set_api_context(ctx)
        saved = market.repositories
        market.repositories = lambda: timed_repos  # the handler's tables, timed
        common.repositories.cache_clear()
        preview_ms, moto_ms, calc_ms = [], [], []
        try:
            path = f"/options/strategies/{strategy_id}/preview"
            query = {"date": "2026-08-17", "time": "09:30"}
            for i in range(warmup + rounds):
                box[0] = 0.0
                start = time.process_time()
                status, body = call("GET", path, user_id=user_id, query=query)
                total = time.process_time() - start
                if status != 200 or not body.get("executable") or len(body["legs"]) != 6:
                    raise RuntimeError(f"preview failed: {status} {json.dumps(body)[:400]}")
                if i >= warmup:
                    preview_ms.append((total - box[0]) * 1000)
                    moto_ms.append(box[0] * 1000)
            body = _calculator_body()
            for i in range(warmup + rounds):
                for route in ("/options/calculator/payoff", "/options/calculator/greeks"):
                    start = time.process_time()
                    status, answer = call("POST", route, body, user_id=user_id)
                    spent = time.process_time() - start
                    if status != 200:
                        raise RuntimeError(f"calculator failed: {status} {json.dumps(answer)[:400]}")
                    if i >= warmup:
                        calc_ms.append(spent * 1000)
        finally:
            market.repositories = saved
            market_status.set_api_context(None)
    return {
        "preview_cpu_p95_ms": percentile(preview_ms, 95), "preview_cpu_p50_ms": percentile(preview_ms, 50),
        "preview_moto_cpu_p50_ms": percentile(moto_ms, 50),
        "calculator_cpu_p95_ms": percentile(calc_ms, 95), "calculator_cpu_p50_ms": percentile(calc_ms, 50),
        "_notes": {"rounds": rounds, "warmup": warmup, "legs": 6, "accounts": 2,
                   "loadavg_before": [round(x, 2) for x in load_before],
                   "loadavg_after": [round(x, 2) for x in os.getloadavg()], "nproc": machine()["nproc"]},
    }


if __name__ == "__main__":
    figures = run()
    print(json.dumps(figures, indent=1, default=str))
