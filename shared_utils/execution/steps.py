"""The Express state machine's steps as plain functions over JSON state (ARCHITECTURE.md
"Execution"): Prepare -> Wait -> Resolve -> Map(PlaceOrders) -> Finalize.

Exactly-once rests on three things:

1. Prepare CLAIMS each execution (strategy, trade date, ENTRY/EXIT) with a conditional put whose
   claimant is this state-machine run (``run_id``). A duplicate event, a second emitter or a
   re-run state machine finds the claim taken and does nothing. A Lambda retry inside the same
   run recognises its own claim.
2. PlaceOrders writes every order's intent (deterministic key, deterministic broker tag) BEFORE
   the first send. A second PlaceOrders for the same item (a retried Lambda) finds the intents
   and RECONCILES them with the broker's order book by tag; it never sends again.
3. An unknown outcome (timeout after sending) is reconciled by tag, never retried blindly.

Timing: intents are written during the 2 s between Wait and ``execute_at``; the send loop does
no DynamoDB I/O; records are saved after the account's last order.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared_utils.clock import IST, epoch_ms, ist_datetime, parse_instant, to_ist, utc_iso_ms
from shared_utils.execution.context import EngineContext
from shared_utils.execution.events import EXECUTION_COMPLETED, ORDER_ALERT, SOURCE_ENGINE
from shared_utils.execution.exits import prepare_exit
from shared_utils.execution.guards import kill_switch_problem, session_problem
from shared_utils.execution.market_data import market_data_problems
from shared_utils.execution.order_state import ACCEPTED
from shared_utils.execution.placer import place_orders
from shared_utils.execution.planner import (
    PlannedOrder,
    ResolutionError,
    map_to_broker,
    plan_entry_orders,
    plan_exit_orders,
    resolve_legs,
)
from shared_utils.execution.readiness import executability_problems
from shared_utils.execution.watchlist import watch
from shared_utils.market.errors import MarketError
from shared_utils.models.enums import (
    EntityStatus,
    ExecutionStatus,
    ExecutionType,
    OrderPurpose,
    OrderStatus,
    TransactionType,
    Weekday,
)
from shared_utils.models.execution import Execution, ExecutionResults
from shared_utils.persistence import keys
from shared_utils.persistence.repositories import NotFound

def _now(ctx: EngineContext) -> datetime:
    return ctx.clock.now()


# ---------------------------------------------------------------------------- Prepare

def _due_problems(ctx: EngineContext, execution_type: ExecutionType, trigger: str, trade_date: date,
                  execute_at: datetime, strategy, legs, allocations) -> list[str]:
    problems: list[str] = []
    exchange = "BSE" if strategy.underlying in ("SENSEX", "BANKEX", "SENSEX50") else "NSE"
    guard = session_problem(ctx.calendar, execute_at, exchange)
    if guard:
        problems.append(guard)
    kill = kill_switch_problem(ctx.repos.controls, strategy.user_id, execution_type)
    if kill:
        problems.append(kill)
    if trigger == "SCHEDULE":
        if strategy.status is not EntityStatus.ACTIVE:
            problems.append(f"strategy is {strategy.status.value}")
        if strategy.basket_id:
            try:
                basket = ctx.repos.baskets.get(strategy.user_id, strategy.basket_id)
                if basket.status is not EntityStatus.ACTIVE:
                    problems.append(f"basket {basket.basket_name} is {basket.status.value}")
            except NotFound:
                problems.append("its basket no longer exists")
        weekday = list(Weekday)[trade_date.weekday()]
        days = strategy.entry_days if execution_type is ExecutionType.ENTRY else strategy.exit_days
        slot = strategy.entry_time if execution_type is ExecutionType.ENTRY else strategy.exit_time
        if days and weekday not in days:
            problems.append(f"{weekday.value} is not one of its {execution_type.value.lower()} days "
                            f"({', '.join(d.value for d in days)})")
        if to_ist(execute_at).strftime("%H:%M") != slot:
            problems.append(f"its {execution_type.value.lower()} time is now {slot}, not {to_ist(execute_at):%H:%M}")
    if execution_type is ExecutionType.ENTRY:
        problems += executability_problems(strategy, legs, allocations, trade_date)
        if strategy.entry_dte is not None and legs:
            problems += _dte_problems(ctx, strategy, legs, trade_date)
    return problems


def _dte_problems(ctx: EngineContext, strategy, legs, trade_date: date) -> list[str]:
    from shared_utils.market.expiry import days_to_expiry, resolve_expiry

    try:
        expiries = [resolve_expiry(ctx.master, leg.underlying, leg.expiry_type, leg.expiry_offset, trade_date, ctx.calendar)
                    for leg in legs if leg.enabled]
    except MarketError as exc:
        return [f"DTE check: {exc}"]
    dte = days_to_expiry(min(expiries), trade_date)
    window = strategy.entry_dte
    if not window.min_dte <= dte <= window.max_dte:
        return [f"DTE {dte} is outside its entry window {window.min_dte}-{window.max_dte}"]
    return []


def prepare(detail: dict[str, Any], ctx: EngineContext, run_id: str | None = None) -> dict[str, Any]:
    """Load each strategy of the batch, check every guard, and CLAIM its execution.

    Returns the state with ``run_id``, ``executions`` (claimed by this run) and ``claimed_count``.
    A strategy that must not run is recorded as a SKIPPED execution with its reasons (that
    record is also a claim, so nothing else runs it that day).
    """
    run_id = run_id or detail.get("run_id") or f"run-{uuid.uuid4().hex[:12]}"
    execution_type = ExecutionType(detail["execution_type"])
    trade_date = date.fromisoformat(detail["trade_date"])
    execute_at = parse_instant(detail["execute_at"])
    trigger = detail.get("trigger", "SCHEDULE")
    claimed: list[dict[str, str]] = []
    skipped: list[dict[str, Any]] = []
    for ref in detail.get("strategies", []):
        user_id, strategy_id = ref["user_id"], ref["strategy_id"]
        execution_id = keys.execution_id(strategy_id, execution_type, trade_date)
        try:
            strategy = ctx.repos.strategies.get(user_id, strategy_id)
        except NotFound:
            skipped.append({"strategy_id": strategy_id, "user_id": user_id, "reasons": ["strategy no longer exists"]})
            continue
        legs = ctx.repos.legs.list(user_id, strategy_id)
        allocations = ctx.repos.allocations.list(user_id, strategy_id)
        problems = _due_problems(ctx, execution_type, trigger, trade_date, execute_at, strategy, legs, allocations)
        record = Execution(
            execution_id=execution_id, user_id=user_id, strategy_id=strategy_id, basket_id=strategy.basket_id,
            execution_type=execution_type, trade_date=trade_date, execution_time=to_ist(execute_at).strftime("%H:%M"),
            execute_at=execute_at, status=ExecutionStatus.SKIPPED if problems else ExecutionStatus.CLAIMED,
            trigger=trigger, claimed_by=run_id, claimed_at=_now(ctx), reasons=problems,
            total_legs=sum(1 for leg in legs if leg.enabled),
        )
        stored = ctx.repos.executions.claim(record)
        if stored is None:
            existing = ctx.repos.executions.get(user_id, strategy_id, execution_type, trade_date)
            if existing is not None and existing.claimed_by == run_id and existing.status is ExecutionStatus.CLAIMED:
                claimed.append({"execution_id": execution_id, "user_id": user_id, "strategy_id": strategy_id})
            else:
                skipped.append({"strategy_id": strategy_id, "user_id": user_id,
                                "reasons": [f"already claimed by {existing.claimed_by if existing else 'another run'}"]})
            continue
        if problems:
            skipped.append({"strategy_id": strategy_id, "user_id": user_id, "reasons": problems})
            ctx.observer({"event": "skipped", "execution_id": execution_id, "strategy": strategy.strategy_name,
                          "reasons": problems})
            continue
        claimed.append({"execution_id": execution_id, "user_id": user_id, "strategy_id": strategy_id})
    return {**detail, "run_id": run_id, "executions": claimed, "claimed_count": len(claimed), "skipped": skipped}


# ---------------------------------------------------------------------------- Resolve

def _orders_today(ctx: EngineContext, user_id: str, strategy_id: str, client_id: str, trade_date: date) -> int:
    count = 0
    for kind in ExecutionType:
        execution_id = keys.execution_id(strategy_id, kind, trade_date)
        count += len(ctx.repos.orders.list_for_execution(user_id, execution_id, client_id))
    return count


def _risk_problems(ctx: EngineContext, allocation, orders: list[PlannedOrder], trade_date: date,
                   execution_type: ExecutionType) -> list[str]:
    if execution_type is ExecutionType.EXIT:
        return []  # risk limits never block closing a position
    limits = allocation.risk_limits
    problems = []
    if limits.max_position_value is not None:
        value = sum(Decimal(o.price or o.ltp or 0) * o.quantity for o in orders)
        if value > limits.max_position_value:
            problems.append(f"{allocation.client_id}: position value Rs {value:,.2f} exceeds max_position_value "
                            f"Rs {limits.max_position_value:,.2f}")
    if limits.max_daily_trades is not None:
        today = _orders_today(ctx, allocation.user_id, allocation.strategy_id, allocation.client_id, trade_date)
        if today + len(orders) > limits.max_daily_trades:
            problems.append(f"{allocation.client_id}: {today} orders today + {len(orders)} planned exceed "
                            f"max_daily_trades {limits.max_daily_trades}")
    return problems


def resolve(state: dict[str, Any], ctx: EngineContext) -> dict[str, Any]:
    """Quotes, each leg's contract (one choice for all accounts), quantities, slices and prices;
    risk limits per account. Returns the state with ``work_items`` (one per account)."""
    execution_type = ExecutionType(state["execution_type"])
    trade_date = date.fromisoformat(state["trade_date"])
    now = _now(ctx)
    work_items: list[dict[str, Any]] = []
    for ref in state.get("executions", []):
        user_id, strategy_id = ref["user_id"], ref["strategy_id"]
        execution = ctx.repos.executions.get_by_id(user_id, ref["execution_id"])
        strategy = ctx.repos.strategies.get(user_id, strategy_id)
        legs = ctx.repos.legs.list(user_id, strategy_id)
        allocations = [a for a in ctx.repos.allocations.list(user_id, strategy_id) if a.status is EntityStatus.ACTIVE]
        reasons = list(execution.reasons)
        per_account: list[tuple[Any, Any, list[PlannedOrder]]] = []
        resolved_legs = []
        refused = market_data_problems(ctx, execution_type, trade_date, user_id, allocations)
        reasons += refused
        try:
            if refused:
                pass  # nothing is priced or sent: the execution fails with the reasons (Finalize alerts)
            elif execution_type is ExecutionType.ENTRY:
                resolved = resolve_legs(ctx, strategy.underlying, legs, trade_date, now)
                resolved_legs = [info for info, _ in resolved.values()]
                for allocation in allocations:
                    account = ctx.repos.accounts.find(user_id, allocation.client_id)
                    if account is None or account.status is not EntityStatus.ACTIVE:
                        reasons.append(f"{allocation.client_id}: broker account is not linked or not active")
                        continue
                    orders = plan_entry_orders(ctx, legs, allocation, resolved, strategy.product, trade_date)
                    problems = _risk_problems(ctx, allocation, orders, trade_date, execution_type)
                    if problems:
                        reasons += problems
                        continue
                    if orders:
                        per_account.append((allocation, account, orders))
            else:
                legs_by_no = {leg.leg_no: leg for leg in legs}
                # cancel the strategy's stops and pending orders FIRST, learn any stop that filled
                # meanwhile, and only then read what is still open (exits.prepare_exit)
                deferred, exit_reasons = prepare_exit(ctx, user_id, strategy_id, trade_date)
                reasons += exit_reasons
                # positions are read here, at execute_at - 2 s, not in Prepare (two minutes early)
                positions = [p for p in ctx.repos.positions.list(user_id, strategy_id)
                             if p.quantity and (p.client_id, p.tradingsymbol) not in deferred]
                if not positions and not deferred:
                    reasons.append("no open position to exit")
                clients = sorted({p.client_id for p in positions})
                priority = {a.client_id: a.priority for a in allocations}
                for client_id in sorted(clients, key=lambda c: (priority.get(c, 999), c)):
                    account = ctx.repos.accounts.find(user_id, client_id)
                    if account is None:
                        reasons.append(f"{client_id}: broker account is gone; close its position by hand")
                        continue
                    orders = plan_exit_orders(ctx, legs_by_no, [p for p in positions if p.client_id == client_id],
                                              trade_date, now)
                    allocation = next((a for a in allocations if a.client_id == client_id), None)
                    per_account.append((allocation, account, orders))
        except (ResolutionError, MarketError) as exc:
            reasons.append(str(exc))
            per_account = []
        for allocation, account, orders in per_account:
            if ctx.effective_broker is not None:
                effective = ctx.effective_broker(account)
            else:
                effective = "paper" if account.trading_mode.value == "PAPER" else account.broker.value
            map_to_broker(ctx, orders, effective)
            work_items.append({
                "execution_id": execution.execution_id, "user_id": user_id, "strategy_id": strategy_id,
                "strategy_name": strategy.strategy_name, "client_id": account.client_id, "broker": account.broker.value,
                "trading_mode": account.trading_mode.value, "execution_type": execution_type.value,
                "execute_at": state["execute_at"],
                "execution_delay_ms": allocation.execution_config.execution_delay_ms if allocation else 0,
                "orders": [o.to_state() for o in orders],
            })
        nothing_to_exit = execution_type is ExecutionType.EXIT and "no open position to exit" in reasons
        updated = execution.model_copy(update={
            "status": ExecutionStatus.IN_PROGRESS if per_account else (
                ExecutionStatus.SKIPPED if nothing_to_exit else ExecutionStatus.FAILED),
            "started_at": now, "reasons": reasons, "resolved_legs": resolved_legs,
            "brokers_involved": [acc.client_id for _, acc, _ in per_account],
            "total_lots": sum(o.lots for _, _, orders in per_account for o in orders),
            "completed_at": None if per_account else now,
        })
        ctx.repos.executions.save(updated, execution.version)
        if not per_account:
            ctx.observer({"event": "skipped" if nothing_to_exit else "failed", "execution_id": execution.execution_id,
                          "strategy": strategy.strategy_name, "reasons": reasons})
    return {**state, "work_items": work_items}


# ---------------------------------------------------------------------------- Finalize

def finalize(state: dict[str, Any], ctx: EngineContext) -> dict[str, Any]:
    """Each execution's outcome from its stored orders: COMPLETED (every order accepted),
    PARTIAL (some), FAILED (none), with the broker's reasons; publishes "Execution Completed"
    (and an "Order Alert" for PARTIAL/FAILED/unknown outcomes)."""
    now = _now(ctx)
    summaries = []
    for ref in state.get("executions", []):
        execution = ctx.repos.executions.get_by_id(ref["user_id"], ref["execution_id"])
        orders = ctx.repos.orders.list_for_execution(ref["user_id"], ref["execution_id"])
        orders = [o for o in orders if o.purpose in (OrderPurpose.ENTRY, OrderPurpose.EXIT)]
        accepted = [o for o in orders if o.status in ACCEPTED]
        rejected = [o for o in orders if o.status in (OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.NOT_SENT)]
        unknown = [o for o in orders if o.status in (OrderStatus.UNKNOWN, OrderStatus.PENDING, OrderStatus.SENT)]
        reasons = list(execution.reasons)
        for order in rejected + unknown:
            reason = f"{order.client_id} leg {order.leg_no} {order.transaction_type.value} {order.tradingsymbol}: " \
                     f"{order.status.value} - {order.broker_message or 'no message'}"
            if reason not in reasons:
                reasons.append(reason)
        if execution.status in (ExecutionStatus.SKIPPED, ExecutionStatus.FAILED) and not orders:
            status = execution.status
        elif orders and len(accepted) == len(orders):
            status = ExecutionStatus.COMPLETED
        elif accepted:
            status = ExecutionStatus.PARTIAL
        else:
            status = ExecutionStatus.FAILED
        lags = sorted(o.lag_ms for o in orders if o.lag_ms is not None)
        premium = sum(((o.average_price or Decimal(0)) * o.filled_quantity *
                       (1 if o.transaction_type is TransactionType.SELL else -1)) for o in orders)
        results = ExecutionResults(
            successful_orders=len(accepted), failed_orders=len(rejected), unknown_orders=len(unknown),
            total_premium=premium, first_order_lag_ms=lags[0] if lags else None,
            last_order_lag_ms=lags[-1] if lags else None,
            execution_time_ms=(now - execution.execute_at).total_seconds() * 1000,
        )
        saved = ctx.repos.executions.save(execution.model_copy(update={
            "status": status, "completed_at": now, "reasons": reasons, "results": results}), execution.version)
        summary = {"execution_id": saved.execution_id, "user_id": saved.user_id, "strategy_id": saved.strategy_id,
                   "execution_type": saved.execution_type.value, "status": status.value, "reasons": reasons,
                   "orders": len(orders), "accepted": len(accepted), "rejected": len(rejected), "unknown": len(unknown),
                   "first_order_lag_ms": results.first_order_lag_ms, "last_order_lag_ms": results.last_order_lag_ms}
        summaries.append(summary)
        if orders:
            # the per-minute poller, stop-loss and duplicate checks follow this strategy from now on
            watch(ctx.repos, saved.user_id, saved.strategy_id, saved.trade_date, now)
        ctx.publisher.publish(SOURCE_ENGINE, EXECUTION_COMPLETED, summary)
        if status in (ExecutionStatus.PARTIAL, ExecutionStatus.FAILED) or unknown:
            ctx.publisher.publish(SOURCE_ENGINE, ORDER_ALERT, summary)
        ctx.metric("Executions", 1, "Count", {"status": status.value})
        ctx.observer({"event": "execution", **summary})
    return {"run_id": state.get("run_id"), "execution_type": state.get("execution_type"),
            "trade_date": state.get("trade_date"), "results": summaries}


def execute_at_for(trade_date: date, slot: str) -> datetime:
    """The target instant (aware IST) of slot ``HH:MM`` on ``trade_date``."""
    return ist_datetime(trade_date, slot)


__all__ = ["prepare", "resolve", "place_orders", "finalize", "execute_at_for", "epoch_ms", "utc_iso_ms", "IST"]
