"""Partial entries: an ENTRY execution whose orders are all final but whose legs only partly
filled (some legs filled, others rejected, cancelled or short of their quantity) becomes
PARTIAL, is alerted ("Order Alert" kind PARTIAL_FILL), and gets its strategy's
``partial_fill_policy`` applied ONCE:

- LEAVE: the alert only.
- COMPLETE: each missing (account, leg) quantity is sent once more at the CURRENT LTP (the leg's
  entry slippage, on the tick) through the same placer, with new deterministic keys: the key's
  attempt segment 1 (``keys.order_sk(..., slice_no, ENTRY, attempt=1)``), BUY legs first.
- SQUARE_OFF: the filled legs' working stops are cancelled and their positions closed (purpose
  EXIT, keys under the ENTRY execution with attempt 1).

Evaluated by the order poller after it applies reports (Finalize's "Execution Completed" starts
it), never while an entry order is still working. Quantities are units; prices rupees.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from shared_utils.clock import to_ist
from shared_utils.execution.order_state import WORKING
from shared_utils.models.enums import ExecutionStatus, ExecutionType, OrderPurpose, PartialFillPolicy, TransactionType
from shared_utils.persistence import keys

MARK = "partial fill:"
#: the key attempt of the policy's orders (the entry itself is attempt 0)
RETRY_ATTEMPT = 1


def missing_quantities(orders: list[Any]) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    """Per (client_id, leg_no): (wanted units of the original slices, filled units of all)."""
    wanted: dict[tuple[str, int], int] = defaultdict(int)
    filled: dict[tuple[str, int], int] = defaultdict(int)
    for order in orders:
        key = (order.client_id, order.leg_no)
        if order.attempt == 0:
            wanted[key] += order.quantity
        filled[key] += order.filled_quantity
    return dict(wanted), dict(filled)


def evaluate(ctx: Any, user_id: str, execution_id: str) -> str | None:
    """Apply the policy if the entry is final and partly filled. Returns what was done."""
    _, trade_date, kind = keys.parse_execution_id(execution_id)
    if kind is not ExecutionType.ENTRY:
        return None
    execution = ctx.repos.executions.get_by_id(user_id, execution_id)
    orders = [o for o in ctx.repos.orders.list_for_execution(user_id, execution_id) if o.purpose is OrderPurpose.ENTRY]
    if not orders or any(o.status in WORKING for o in orders):
        return None
    wanted, filled = missing_quantities(orders)
    short = {k: wanted[k] - filled.get(k, 0) for k in wanted if filled.get(k, 0) < wanted[k]}
    if not short or not any(filled.values()):
        return None  # complete, or nothing filled at all (FAILED: Finalize's business)
    strategy = ctx.repos.strategies.get(user_id, execution.strategy_id)
    policy = strategy.partial_fill_policy
    retried = any(o.attempt >= RETRY_ATTEMPT for o in orders)
    if any(r.startswith(MARK) for r in execution.reasons):
        if policy is PartialFillPolicy.COMPLETE and retried and not any("still short" in r for r in execution.reasons):
            note = f"{MARK} still short after the COMPLETE retry: " + _describe(short)
            _save(ctx, execution, note)
            _alert(ctx, execution, note)
            return note
        return None
    note = f"{MARK} {_describe(short)}; policy {policy.value}"
    exiting = _exit_begun(ctx, user_id, execution.strategy_id, trade_date)
    if exiting and policy is not PartialFillPolicy.LEAVE:
        # the exit cancelled the entry's working orders (prepare_exit) and is closing its legs:
        # completing a short now would sell after its hedge was sold (I3); squaring off would
        # race the exit's own closing orders
        note += f" not applied: the strategy's exit has begun ({exiting})"
    _save(ctx, execution, note)
    _alert(ctx, execution, note)
    if exiting:
        return note
    if policy is PartialFillPolicy.COMPLETE:
        _complete(ctx, execution, orders, short, trade_date)
    elif policy is PartialFillPolicy.SQUARE_OFF:
        _square_off(ctx, execution, trade_date)
    return note


def _exit_begun(ctx: Any, user_id: str, strategy_id: str, trade_date) -> str | None:
    """The day's EXIT execution of the strategy when it has been claimed (scheduled, MTM, target,
    manual) and not released (an exit that found nothing gives its claim back), else None."""
    from shared_utils.execution.exits import is_released

    exit_execution = ctx.repos.executions.get(user_id, strategy_id, ExecutionType.EXIT, trade_date)
    if exit_execution is None or is_released(exit_execution):
        return None
    return f"exit {exit_execution.status.value}"


def _cover_key(ctx: Any, exchange: str, tradingsymbol: str) -> tuple[str, str, str]:
    """What a long protects a short within: (underlying, expiry, CE/PE)."""
    contract = ctx.master.by_symbol(exchange, tradingsymbol)
    return (contract.underlying, str(contract.expiry), str(contract.option_type or ""))


def covered_sells(ctx: Any, execution: Any, orders: list[Any], client_id: str,
                  planned: list[tuple[int, str, str, str, int, int]]) -> tuple[dict[int, int], list[str]]:
    """How many units of each SELL completion may go out without leaving the account short
    beyond what its hedges cover (I3).

    ``planned``: (leg_no, side, exchange, tradingsymbol, units, lot_size) of the completion for
    ``client_id``. Per (underlying, expiry, CE/PE), the shorts after the completion may not exceed
    the longs the strategy holds now (its positions) plus the BUY completions of the same batch
    (the placer sends them first and holds every SELL of the batch until they are FILLED) plus
    the short the strategy was designed to carry unhedged (its attempt-0 SELL units beyond its
    BUY units; 0 for a hedged strategy). Returns (allowed units by leg_no for the SELL legs,
    notes for the legs cut back). Units are rounded down to whole lots.
    """
    designed: dict[tuple, int] = defaultdict(int)
    for order in orders:
        if order.client_id == client_id and order.attempt == 0:
            sign = -1 if TransactionType(order.transaction_type) is TransactionType.SELL else 1
            designed[_cover_key(ctx, order.exchange, order.tradingsymbol)] += sign * order.quantity
    held: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])  # [long, short] units
    for position in ctx.repos.positions.list(execution.user_id, execution.strategy_id, client_id):
        if position.quantity:
            side = 0 if position.quantity > 0 else 1
            held[_cover_key(ctx, position.exchange, position.tradingsymbol)][side] += abs(position.quantity)
    buying: dict[tuple, int] = defaultdict(int)
    for _leg_no, side, exchange, symbol, units, _ in planned:
        if side == TransactionType.BUY.value:
            buying[_cover_key(ctx, exchange, symbol)] += units
    room: dict[tuple, int] = {}
    allowed: dict[int, int] = {}
    notes: list[str] = []
    for leg_no, side, exchange, symbol, units, lot_size in sorted(planned):
        if side != TransactionType.SELL.value:
            continue
        key = _cover_key(ctx, exchange, symbol)
        if key not in room:
            long_units, short_units = held[key]
            room[key] = max(0, long_units + buying[key] + max(0, -designed[key]) - short_units)
        units_ok = min(units, room[key]) // lot_size * lot_size
        room[key] -= units_ok
        allowed[leg_no] = units_ok
        if units_ok < units:
            notes.append(f"{client_id} leg {leg_no} completed with {units_ok} of {units} units: the rest would be "
                         "short without a filled hedge")
    return allowed, notes


def _describe(short: dict[tuple[str, int], int]) -> str:
    return ", ".join(f"{client} leg {leg} short {qty} units" for (client, leg), qty in sorted(short.items()))


def _save(ctx: Any, execution: Any, note: str) -> None:
    latest = ctx.repos.executions.get_by_id(execution.user_id, execution.execution_id)
    ctx.repos.executions.save(latest.model_copy(update={"status": ExecutionStatus.PARTIAL,
                                                        "reasons": latest.reasons + [note]}), latest.version)


def _alert(ctx: Any, execution: Any, note: str) -> None:
    from shared_utils.execution.exits import alert

    alert(ctx, "PARTIAL_FILL", execution.user_id, execution.strategy_id, note, execution_id=execution.execution_id)


def _complete(ctx: Any, execution: Any, orders: list[Any], short: dict[tuple[str, int], int], trade_date) -> None:
    from shared_utils.execution.exits import broker_symbols, send_planned
    from shared_utils.execution.planner import PlannedOrder, limit_price
    from shared_utils.models.enums import OrderType

    legs = {leg.leg_no: leg for leg in ctx.repos.legs.list(execution.user_id, execution.strategy_id)}
    symbols = broker_symbols(orders)
    now = ctx.clock.now()
    per_client: dict[str, list[Any]] = defaultdict(list)
    for (client_id, leg_no), missing in sorted(short.items()):
        sample = next(o for o in orders if o.client_id == client_id and o.leg_no == leg_no)
        contract = ctx.master.by_symbol(sample.exchange, sample.tradingsymbol)
        ltp = ctx.market.quote(contract, now).ltp
        leg = legs.get(leg_no)
        side = TransactionType(sample.transaction_type)
        order_type = leg.order_type if leg is not None else OrderType.LIMIT
        price = (str(limit_price(ltp, side, leg.entry_slippage if leg else 0, contract.tick_size))
                 if order_type is OrderType.LIMIT else None)
        lots = missing // contract.lot_size
        if lots <= 0:
            continue
        decided = sample.ltp_at_decision
        if leg is not None and leg.entry_max_slippage and decided:
            moved = abs(ltp - decided) / decided * 100
            if moved > leg.entry_max_slippage:  # chasing beyond the leg's bound: not completed
                _alert(ctx, execution, f"{MARK} {client_id} leg {leg_no} not completed: LTP {ltp} moved "
                                       f"{moved:.2f}% from {decided} (entry_max_slippage {leg.entry_max_slippage}%)")
                continue
        per_client[client_id].append(PlannedOrder(
            leg_no=leg_no, slice_no=sample.slice_no, purpose=OrderPurpose.ENTRY.value,
            tradingsymbol=sample.tradingsymbol, exchange=sample.exchange, instrument_token=sample.instrument_token,
            transaction_type=side.value, lots=lots, lot_size=contract.lot_size, quantity=lots * contract.lot_size,
            product=sample.product.value, order_type=order_type.value, price=price, trigger_price=None,
            ltp=str(ltp), tick_size=str(contract.tick_size)))
    for client_id, planned in list(per_client.items()):
        allowed, notes = covered_sells(ctx, execution, orders, client_id, [
            (o.leg_no, o.transaction_type, o.exchange, o.tradingsymbol, o.quantity, o.lot_size) for o in planned])
        for note in notes:
            _alert(ctx, execution, f"{MARK} {note}")
        kept = []
        for order in planned:
            units = allowed.get(order.leg_no, order.quantity) if order.transaction_type == "SELL" else order.quantity
            if units <= 0:
                continue
            order.lots, order.quantity = units // order.lot_size, units
            kept.append(order)
        per_client[client_id] = kept
    for client_id, planned in per_client.items():
        if not planned:
            continue
        planned.sort(key=lambda o: (0 if o.transaction_type == "BUY" else 1, o.leg_no))
        send_planned(ctx, execution.user_id, execution.strategy_id, execution.execution_id, client_id,
                     ExecutionType.ENTRY, planned, now, symbols, RETRY_ATTEMPT)


def _square_off(ctx: Any, execution: Any, trade_date) -> None:
    from shared_utils.execution.exits import cancel_working, close_positions

    cancel_working(ctx, execution.user_id, execution.strategy_id, trade_date,
                   purposes=(OrderPurpose.STOP_LOSS, OrderPurpose.TARGET))
    positions = [p for p in ctx.repos.positions.list(execution.user_id, execution.strategy_id)
                 if p.quantity and p.entry_execution_id == execution.execution_id]
    close_positions(ctx, execution.user_id, execution.strategy_id, execution.execution_id, positions, trade_date,
                    RETRY_ATTEMPT, ctx.clock.now())


__all__ = ["evaluate", "missing_quantities", "to_ist"]
