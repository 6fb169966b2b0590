"""[max_state_payload_bytes]: the largest state input/output, Lambda payload or Lambda result of
one run of the execution state machine AS SYNTHESIZED (shared_utils.execution.asl_runner) at the
largest configuration the API allows: max_legs_per_strategy NIFTY legs x
max_allocations_per_strategy accounts x the strategies one "Strategy Execution Due" event
carries (the production limits, through the options service). Deterministic (bytes of UTF-8
JSON, as Step Functions counts); the target is <= 131072 (half the 256 KiB service limit).

``python -m bench.payload`` prints the figure; ``bench.run_all`` records it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any


def run() -> dict[str, Any]:
    from bench.common import engine_context, fast_moto_queries, moto_tables
    from shared_utils.clock import IST, FixedClock, to_ist
    from shared_utils.config import load_environment
    from shared_utils.execution.asl_runner import PAYLOAD_BUDGET_BYTES, run_events
    from shared_utils.execution.emitter import run_emitter
    from shared_utils.execution.events import EXECUTION_DUE
    from shared_utils.models.allocation import AllocationSpec
    from shared_utils.models.basket import BasketCreate
    from shared_utils.models.broker_account import BrokerAccount
    from shared_utils.models.leg import LegsCreate
    from shared_utils.models.strategy import StrategySpec
    from shared_utils.services.options import OptionsService
    from bench.common import seed_body

    with moto_tables() as (env, repos), fast_moto_queries():
        clock = FixedClock(datetime(2026, 8, 17, 9, 28, 5, tzinfo=IST))
        ctx = engine_context(repos, env, clock)
        limits_env = max((load_environment(n) for n in ("dev", "staging", "production")),
                         key=lambda e: e.settings.options_platform.max_legs_per_strategy)
        limits = limits_env.settings.options_platform
        service = OptionsService(repos, limits_env, clock)
        user = "user-max"
        accounts = [f"MAXACC{i:02d}" for i in range(limits.max_allocations_per_strategy)]
        for client_id in accounts:
            repos.accounts.create(BrokerAccount(user_id=user, client_id=client_id, broker="paper"))
        basket = service.create_basket(user, BasketCreate.model_validate(seed_body("01_create_basket.json")))
        slot = (to_ist(clock.now()) + timedelta(minutes=env.settings.execution_engine.lookahead_minutes)).strftime("%H:%M")
        strategies = env.strategies_per_event
        for n in range(strategies):
            strategy = service.create_strategy(user, basket.basket_id, StrategySpec.model_validate(
                {**seed_body("02_create_strategy.json"), "strategy_name": f"Max {n}", "entry_time": slot,
                 "exit_time": "15:20"}))
            legs = [{"leg_no": i + 1, "lots": 1, "transaction_type": "SELL" if i % 2 else "BUY",
                     "leg_type": "CALL" if i % 4 < 2 else "PUT", "underlying": "NIFTY", "entry_by": "STRIKE_DISTANCE",
                     "strike_selection_config": {"method": "STRIKE_DISTANCE", "strike_distance": 100 * (i // 4 + 1)},
                     "expiry_type": "WEEKLY", "order_type": "LIMIT", "entry_slippage": 2}
                    for i in range(limits.max_legs_per_strategy)]
            service.add_legs(user, strategy.strategy_id, LegsCreate.model_validate({"legs": legs}))
            service.add_allocations(user, strategy.strategy_id, [
                AllocationSpec.model_validate({"client_id": c, "strategy_lots_multiplier": 1}) for c in accounts])
        run_emitter(ctx)
        (detail,) = [d for _, t, d in ctx.publisher.drain(EXECUTION_DUE)]
        # sizes are deterministic; hundreds of orders on in-process moto on a shared 2-core
        # machine can outlast the deployed TimeoutSeconds that AWS itself never reaches
        run = run_events(detail, ctx, timeout_seconds=1800)
    largest = run.largest(3)
    return {
        "max_state_payload_bytes": run.max_state_payload_bytes,
        "max_state_payload_within_budget": int(run.status == "SUCCEEDED" and run.max_state_payload_bytes <= PAYLOAD_BUDGET_BYTES),
        "_notes": {"config": f"{limits.max_legs_per_strategy} legs x {len(accounts)} accounts x {strategies} strategies",
                   "run": run.status, "error": run.error, "largest_states": largest,
                   "invocation_results": sorted({(i.module, i.result_bytes) for i in run.invocations},
                                                key=lambda x: -(x[1] or 0))[:3]},
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=1, default=str))
