""""Check Stop Loss" (every minute of the session): per watched strategy with open positions

1. LTP refresh: each open position's ``ltp`` (rupees) from the market data (``ctx.market.quote``),
   stored on the Position record (so GET /options/positions shows unrealised P&L and MTM);
2. per-leg TARGET from the LTP (brokers have no native target for a plain stop order): a short
   leg whose LTP fell to avg x (1 - target/100) (or avg - points), a long leg whose LTP rose to
   avg x (1 + target/100), has its stop cancelled and is closed (purpose TARGET, key
   ``keys.order_sk(entry_execution, client, leg, slice, TARGET)``) through the placer;
3. strategy-level MTM = realised + unrealised over every account and leg of the open entry
   execution (rupees); MTM <= -risk.mtm_stop_loss or >= risk.mtm_target announces an exit now
   ("Strategy Execution Due", trigger STOP_LOSS, the same event path as a manual exit; the EXIT
   claim of the day keeps it exactly-once);
4. ``exits.finish_exit``: today's finished exit with positions still open is retried.

5. trailing stops (``trailing.trail_position``): the broker-side stop of a leg in enough profit
   is modified to follow the LTP, only ever tightening.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared_utils.clock import to_ist, utc_iso_ms
from shared_utils.execution import watchlist
from shared_utils.execution.events import EXECUTION_DUE, SOURCE_EMITTER
from shared_utils.execution.exits import alert, cancel_working, close_positions, finish_exit, is_released
from shared_utils.models.enums import ExecutionType, OrderPurpose, StopLossType
from shared_utils.persistence.repositories import VersionConflict

LEAD_SECONDS = 3


def refresh_ltp(ctx: Any, position: Any, now: datetime) -> Any:
    """Store the contract's LTP on the position (version-checked, retried). Returns it."""
    contract = ctx.master.by_symbol(position.exchange, position.tradingsymbol)
    ltp = ctx.market.quote(contract, now).ltp
    for _ in range(3):
        current = ctx.repos.positions.get(position.user_id, position.strategy_id, position.client_id,
                                          position.tradingsymbol)
        if current.ltp == ltp:
            return current
        try:
            return ctx.repos.positions.save(current.model_copy(update={"ltp": ltp}), current.version)
        except VersionConflict:
            continue
    return position.model_copy(update={"ltp": ltp})


def target_hit(quantity: int, average: Decimal, ltp: Decimal, target: Decimal, kind: StopLossType | str) -> bool:
    """Has a position of signed ``quantity`` (units) opened at ``average`` reached its target?"""
    kind = StopLossType(kind)
    distance = average * target / 100 if kind is StopLossType.PERCENTAGE else target
    if quantity < 0:
        return ltp <= average - distance
    if quantity > 0:
        return ltp >= average + distance
    return False


def mtm_breach(mtm: Decimal, risk: Any) -> str | None:
    """The strategy's MTM limit that ``mtm`` (rupees) breaches, in words, or None."""
    if risk.mtm_stop_loss is not None and mtm <= -risk.mtm_stop_loss:
        return f"MTM {mtm:.2f} <= -{risk.mtm_stop_loss} (mtm_stop_loss)"
    if risk.mtm_target is not None and mtm >= risk.mtm_target:
        return f"MTM {mtm:.2f} >= {risk.mtm_target} (mtm_target)"
    return None


def announce_exit(ctx: Any, user_id: str, strategy_id: str, now: datetime, why: str) -> dict[str, Any] | None:
    """Publish an immediate EXIT (trigger STOP_LOSS) unless today's exit exists already."""
    execute_at = datetime.fromtimestamp(math.ceil(now.timestamp()) + LEAD_SECONDS, tz=now.tzinfo)
    trade_date = to_ist(execute_at).date()
    existing = ctx.repos.executions.get(user_id, strategy_id, ExecutionType.EXIT, trade_date)
    if existing is not None and not is_released(existing):
        return None  # today's exit ran or is running (a released one found nothing: it does not count)
    detail = {"batch_id": f"S{to_ist(execute_at):%Y%m%d%H%M%S}-{strategy_id[-8:]}", "execution_type": "EXIT",
              "trade_date": trade_date.isoformat(), "slot": to_ist(execute_at).strftime("%H:%M"),
              "execute_at": utc_iso_ms(execute_at), "wait_until": utc_iso_ms(execute_at - timedelta(seconds=2)),
              "trigger": "STOP_LOSS", "reason": why, "strategies": [{"user_id": user_id, "strategy_id": strategy_id}]}
    ctx.publisher.publish(SOURCE_EMITTER, EXECUTION_DUE, detail)
    alert(ctx, "MTM_EXIT", user_id, strategy_id, f"exit announced: {why}")
    return detail


def check_strategy(ctx: Any, user_id: str, strategy_id: str, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {"user_id": user_id, "strategy_id": strategy_id}
    retried = finish_exit(ctx, user_id, strategy_id, now)
    if retried:
        out["exit_retry"] = retried
    from shared_utils.execution.settlement import settle_expired

    settled = settle_expired(ctx, user_id, strategy_id, now)  # expired contracts never block a check
    if settled:
        out["settled"] = settled
    positions = [p for p in ctx.repos.positions.list(user_id, strategy_id) if p.quantity]
    if not positions:
        return out
    fresh = []
    for p in positions:
        try:
            fresh.append(refresh_ltp(ctx, p, now))
        except Exception as exc:  # noqa: BLE001 - one contract without a quote keeps its last LTP
            out.setdefault("problems", []).append(f"{p.client_id} {p.tradingsymbol}: no LTP ({exc})")
            fresh.append(p)
    positions = fresh
    strategy = ctx.repos.strategies.get(user_id, strategy_id)
    legs = {leg.leg_no: leg for leg in ctx.repos.legs.list(user_id, strategy_id)}
    # per-leg targets
    hits = [p for p in positions if (leg := legs.get(p.leg_no)) is not None and leg.target is not None
            and target_hit(p.quantity, p.average_price, p.ltp, leg.target, leg.target_type)]
    if hits:
        trade_date = to_ist(now).date()
        by_entry = defaultdict(list)
        for p in hits:
            cancel_working(ctx, user_id, strategy_id, trade_date, purposes=(OrderPurpose.STOP_LOSS,),
                           client_ids={p.client_id}, legs={p.leg_no})
            fresh = ctx.repos.positions.get(user_id, strategy_id, p.client_id, p.tradingsymbol)
            if fresh.quantity and fresh.entry_execution_id:
                by_entry[fresh.entry_execution_id].append(fresh)
        for execution_id, held in by_entry.items():
            _close_for_target(ctx, user_id, strategy_id, execution_id, held, trade_date, now)
        out["targets"] = [f"{p.client_id} leg {p.leg_no}" for p in hits]
    # trailing stops: move the broker-side stops of legs in enough profit
    from shared_utils.execution.trailing import trail_position

    trailed = [t for p in positions if (leg := legs.get(p.leg_no)) is not None
               and (t := trail_position(ctx, p, leg, now)) is not None]
    if trailed:
        out["trailed"] = trailed
    # strategy MTM over the open entry execution(s)
    entries = {p.entry_execution_id for p in positions}
    scoped = [p for p in ctx.repos.positions.list(user_id, strategy_id) if p.entry_execution_id in entries]
    mtm = sum((p.mtm for p in scoped), Decimal(0))
    out["mtm"] = str(mtm)
    why = mtm_breach(mtm, strategy.risk)
    if why:
        out["exit"] = announce_exit(ctx, user_id, strategy_id, now, why) is not None
    return out


def _close_for_target(ctx, user_id, strategy_id, execution_id, held, trade_date, now) -> None:
    from shared_utils.execution.exits import broker_symbols, send_planned, strategy_orders
    from shared_utils.execution.planner import plan_exit_orders

    legs = {leg.leg_no: leg for leg in ctx.repos.legs.list(user_id, strategy_id)}
    symbols = broker_symbols(strategy_orders(ctx, user_id, strategy_id, trade_date))
    by_client = defaultdict(list)
    for p in held:
        by_client[p.client_id].append(p)
    for client_id, positions in by_client.items():
        planned = plan_exit_orders(ctx, legs, positions, trade_date, now)
        for order in planned:
            order.purpose = OrderPurpose.TARGET.value
        send_planned(ctx, user_id, strategy_id, execution_id, client_id, ExecutionType.EXIT, planned, now, symbols)


def run_stop_loss_checker(ctx: Any, now: datetime | None = None) -> dict[str, Any]:
    """One minute's checks over every watched strategy."""
    now = now or ctx.clock.now()
    results = []
    for w in watchlist.watched(ctx.repos):
        try:
            results.append(check_strategy(ctx, w.user_id, w.strategy_id, now))
        except Exception as exc:  # noqa: BLE001 - one strategy must not stop the others
            results.append({"user_id": w.user_id, "strategy_id": w.strategy_id, "error": f"{type(exc).__name__}: {exc}"})
    return {"at": now.isoformat(), "strategies": results}


__all__ = ["run_stop_loss_checker", "check_strategy", "refresh_ltp", "target_hit", "mtm_breach", "announce_exit",
           "close_positions"]
