"""Exits and square-off around the planned closing orders (steps.resolve EXIT plans them):

0. ``pre_cancel_exits`` (the EXIT state machine's step at ``cancel_at`` = execute_at -
   ``EXIT_CANCEL_LEAD_S``): ``prepare_exit`` ahead of the second, accounts in parallel, so the
   closing orders leave on the second (issue 21 item 3); Resolve's own call then finds nothing
   left to cancel.
1. ``prepare_exit`` (called by Resolve before it reads positions): settle positions in expired
   contracts (``settlement``), cancel the strategy's working
   STOP_LOSS / TARGET orders, still-working ENTRY orders and other closers' still-working EXIT
   orders (a partial-fill SQUARE_OFF) at the broker, recording each cancel
   on its order; then ONE order-book read per account applies what really happened (a stop that
   filled before its cancel arrived is booked, so the exit never buys back a leg the stop
   already closed: no reversed position). A stop whose cancel cannot be confirmed keeps its
   position OUT of this exit (the stop still protects it; the reason is recorded and alerted);
   ``finish_exit`` closes it on a later minute.
2. ``position_mismatches``: the records' net quantities against ``client.positions()`` per
   account; every difference is a reason on the execution and an "Order Alert".
3. ``finish_exit`` (the per-minute stop-loss checker): today's exit has finished but positions
   are still open (a broker outage, a deferred stop): cancel stops again, re-read, and place the
   closing orders through the same placer with new deterministic keys (the key's ATTEMPT segment
   counts the retries, at most ``MAX_EXIT_RETRIES``; keys.order_sk), only after reading each
   account's positions at the broker (``closable_at_broker``); then it alerts "close by hand".
   An exit that found NOTHING to close gives the day's claim back (``release_note`` /
   ``reclaim_released_exit``): the scheduled, MTM or manual exit that follows still runs, and
   ``finish_exit`` closes what an entry in flight at that moment booked later (I5).

Quantities are units; prices Decimal rupees; instants aware (UTC stored, IST trade dates).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared_utils.brokers.errors import BrokerError
from shared_utils.clock import to_ist, utc_iso_ms
from shared_utils.execution.booking import save_report
from shared_utils.execution.events import ORDER_ALERT, SOURCE_ENGINE
from shared_utils.execution.lifecycle import apply_broker_report
from shared_utils.execution.order_state import WORKING
from shared_utils.market.errors import MarketError
from shared_utils.models.enums import ExecutionStatus, ExecutionType, OrderPurpose, OrderStatus
from shared_utils.models.execution import OrderRecord, Position
from shared_utils.persistence import keys

#: seconds before an exit's ``execute_at`` at which its resting stops/targets are cancelled
#: (``pre_cancel_exits``), so the closing orders leave ON the second. Cancels cost one request each
#: plus an order-book read per account (Angel One: the book 1/s, and its cancel reads the book
#: for the order's variety), which took 3.3-3.5 s after the target when done in Resolve (issue
#: 21 item 3). The legs are unprotected by broker stops for at most this long before the exit.
EXIT_CANCEL_LEAD_S = 10
#: accounts cancelled in parallel (each account's requests stay sequential: its rate limits)
CANCEL_CONCURRENCY = 8

#: how long an exit's closing order may keep working before ``finish_exit`` cancels it and
#: closes the rest at the current price
EXIT_WORKING_GRACE = timedelta(seconds=60)
#: retries of an unfinished exit (key attempts 1, 2) before "close by hand"
MAX_EXIT_RETRIES = 2
#: EXIT: closing orders of another closer still working (a partial-fill SQUARE_OFF under the
#: entry execution, an earlier exit's order): cancelled and read back like a stop, so a fill the
#: records have not learnt yet is booked before the positions are read and the exit never sells
#: a long (or buys back a short) a second time (I3: that reversal is a naked short)
CANCEL_PURPOSES = (OrderPurpose.STOP_LOSS, OrderPurpose.TARGET, OrderPurpose.ENTRY, OrderPurpose.EXIT)


#: the reason Resolve records when an exit finds nothing to close
NOTHING_TO_EXIT = "no open position to exit"
#: marks an EXIT record that found nothing: it does NOT consume the day's exit (I5)
RELEASED_MARK = "the day's exit claim was released: a later exit (scheduled, MTM, manual) still runs"


def is_released(execution: Any) -> bool:
    """An EXIT that found nothing to close and gave its claim back (Resolve, ``release_note``)."""
    return (execution is not None and execution.execution_type is ExecutionType.EXIT
            and execution.status is ExecutionStatus.SKIPPED and RELEASED_MARK in execution.reasons)


def release_note(reasons: list[str]) -> list[str]:
    """The reasons of an exit that found nothing, with the release mark (Resolve calls it)."""
    return reasons + ([RELEASED_MARK] if RELEASED_MARK not in reasons else [])


def reclaim_released_exit(ctx: Any, record: Any) -> Any | None:
    """Prepare's claim for an EXIT whose record exists: when that record is a RELEASED exit
    (it found nothing to close), take it over for this run (version-checked: one winner) and
    keep the earlier attempt's reasons as history. Returns the stored claim or None."""
    from shared_utils.persistence.repositories import VersionConflict

    existing = ctx.repos.executions.get(record.user_id, record.strategy_id, record.execution_type, record.trade_date)
    if not is_released(existing):
        return None
    history = [f"earlier {existing.trigger.lower()} exit at {to_ist(existing.execute_at):%H:%M:%S} found nothing: "
               + "; ".join(r for r in existing.reasons if r != RELEASED_MARK)]
    claim = record.model_copy(update={"reasons": history + list(record.reasons), "version": existing.version})
    try:
        return ctx.repos.executions.save(claim, existing.version)
    except VersionConflict:
        return None


def alert(ctx: Any, kind: str, user_id: str, strategy_id: str, message: str, **extra: Any) -> None:
    """Publish an "Order Alert" (and tell the observer)."""
    detail = {"kind": kind, "user_id": user_id, "strategy_id": strategy_id, "message": message, **extra}
    if ctx.publisher is not None:
        ctx.publisher.publish(SOURCE_ENGINE, ORDER_ALERT, detail)
    ctx.observer({"event": "alert", **detail})


def strategy_orders(ctx: Any, user_id: str, strategy_id: str, trade_date: date,
                    extra_dates: tuple[str, ...] = ()) -> list[OrderRecord]:
    """Orders of the strategy's executions that can still matter on ``trade_date``: that day's
    ENTRY and EXIT, earlier entries with open positions (NRML carry), and the entries of
    ``extra_dates`` (ISO dates, from the watch list)."""
    ids = {keys.execution_id(strategy_id, ExecutionType.ENTRY, trade_date),
           keys.execution_id(strategy_id, ExecutionType.EXIT, trade_date)}
    for day in extra_dates:
        ids.add(keys.execution_id(strategy_id, ExecutionType.ENTRY, date.fromisoformat(day)))
        ids.add(keys.execution_id(strategy_id, ExecutionType.EXIT, date.fromisoformat(day)))
    for position in ctx.repos.positions.list(user_id, strategy_id):
        if position.quantity and position.entry_execution_id:
            ids.add(position.entry_execution_id)
    out: list[OrderRecord] = []
    for execution_id in sorted(ids):
        out.extend(ctx.repos.orders.list_for_execution(user_id, execution_id))
    return out


def client_of(ctx: Any, user_id: str, client_id: str) -> Any:
    """The account's broker client (raises BrokerError / LookupError without a session)."""
    return ctx.clients.client_for(ctx.repos.accounts.get(user_id, client_id))


def read_book(client: Any) -> dict[str, Any]:
    """One order-book read keyed by broker order id AND by tag (``"tag:" + tag``). A paper
    broker re-matches its working orders first (real brokers match continuously)."""
    poll = getattr(client, "poll", None)
    if callable(poll):
        poll()
    book: dict[str, Any] = {}
    for report in client.order_book():
        book[report.order_id] = report
        if report.tag:
            book.setdefault("tag:" + report.tag, report)
    return book


def find_in_book(book: dict[str, Any], order: OrderRecord) -> Any | None:
    if order.broker_order_id and order.broker_order_id in book:
        return book[order.broker_order_id]
    return book.get("tag:" + order.tag)


@dataclass
class CancelResult:
    cancelled: list[OrderRecord] = field(default_factory=list)
    filled: list[OrderRecord] = field(default_factory=list)
    #: (order, why) of working orders whose cancel could not be confirmed
    failed: list[tuple[OrderRecord, str]] = field(default_factory=list)


def cancel_working(ctx: Any, user_id: str, strategy_id: str, trade_date: date,
                   purposes: tuple[OrderPurpose, ...] = CANCEL_PURPOSES, client_ids: set[str] | None = None,
                   legs: set[int] | None = None) -> CancelResult:
    """Cancel the strategy's working orders of ``purposes`` at the broker and learn the truth
    from one order-book read per account afterwards. Never raises for a broker failure."""
    result = CancelResult()
    orders = [o for o in strategy_orders(ctx, user_id, strategy_id, trade_date)
              if o.status in WORKING and o.purpose in purposes
              and (client_ids is None or o.client_id in client_ids) and (legs is None or o.leg_no in legs)]
    by_client: dict[str, list[OrderRecord]] = defaultdict(list)
    for order in orders:
        by_client[order.client_id].append(order)
    def one_account(client_id: str, working: list[OrderRecord]) -> CancelResult:
        part = CancelResult()
        try:
            client = client_of(ctx, user_id, client_id)
        except (BrokerError, LookupError) as exc:
            part.failed.extend((o, f"no broker session: {exc}") for o in working)
            return part
        sent: dict[str, str | None] = {}
        for order in working:
            if not order.broker_order_id:
                sent[order.order_key] = "no broker order id yet"
                continue
            try:
                client.cancel_order(order.broker_order_id)
                sent[order.order_key] = None
            except BrokerError as exc:
                sent[order.order_key] = getattr(exc, "broker_message", None) or str(exc)
        book_error = None
        try:
            book = read_book(client)
        except BrokerError as exc:
            book = None
            book_error = getattr(exc, "broker_message", None) or str(exc)
        now = ctx.clock.now()
        for order in working:
            problem = sent.get(order.order_key)
            report = find_in_book(book, order) if book is not None else None
            if report is not None:
                saved = apply_broker_report(ctx, order, report, now, client, follow_up=False)
            elif problem is None:
                saved = save_report(ctx.repos, order, OrderStatus.CANCELLED, order.filled_quantity, None,
                                    "cancelled by the platform before the exit", now)
            else:
                saved = order
            if saved.status is OrderStatus.CANCELLED:
                part.cancelled.append(saved)
            elif saved.status is OrderStatus.FILLED:
                part.filled.append(saved)
            elif saved.status in WORKING:
                why = problem or (f"order book unavailable ({book_error})" if book is None else "still working")
                part.failed.append((saved, why))
        return part

    accounts = sorted(by_client.items())
    if len(accounts) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(CANCEL_CONCURRENCY, len(accounts)), thread_name_prefix="cancel") as pool:
            parts = list(pool.map(lambda a: one_account(*a), accounts))
    else:
        parts = [one_account(*a) for a in accounts]
    for part in parts:
        result.cancelled += part.cancelled
        result.filled += part.filled
        result.failed += part.failed
    for order in result.cancelled + result.filled:
        ctx.observer({"event": "cancel", "order_key": order.order_key, "client_id": order.client_id,
                      "purpose": order.purpose.value, "status": order.status.value})
    return result


def prepare_exit(ctx: Any, user_id: str, strategy_id: str, trade_date: date) -> tuple[set[tuple[str, str]], list[str]]:
    """Cancel before closing. Returns ({(client_id, tradingsymbol)} to keep OUT of this exit,
    reasons). Called by Resolve (EXIT) before it reads the positions. Positions in contracts that
    have expired are settled first (``settlement.settle_expired``): they never block an exit."""
    from shared_utils.execution.settlement import settle_expired

    settled = settle_expired(ctx, user_id, strategy_id, ctx.clock.now())
    result = cancel_working(ctx, user_id, strategy_id, trade_date)
    deferred: set[tuple[str, str]] = set()
    reasons: list[str] = list(settled)
    for order, why in result.failed:
        if order.purpose in (OrderPurpose.STOP_LOSS, OrderPurpose.TARGET):
            deferred.add((order.client_id, order.tradingsymbol))
            reasons.append(f"{order.client_id} leg {order.leg_no} {order.tradingsymbol}: its {order.purpose.value} "
                           f"order {order.broker_order_id} could not be cancelled ({why}); closing deferred, "
                           "the stop still protects it")
        elif order.purpose is OrderPurpose.EXIT:
            # it may still fill: closing the same position again could reverse it
            deferred.add((order.client_id, order.tradingsymbol))
            reasons.append(f"{order.client_id} leg {order.leg_no} {order.tradingsymbol}: an earlier closing order "
                           f"{order.broker_order_id} could not be cancelled ({why}); closing deferred so the "
                           "position is not closed twice")
        else:
            reasons.append(f"{order.client_id} leg {order.leg_no}: working {order.purpose.value} order "
                           f"{order.broker_order_id} could not be cancelled ({why})")
    reasons += keep_hedges_of_deferred_shorts(ctx, user_id, strategy_id, deferred)
    for order in result.filled:
        if order.purpose is OrderPurpose.STOP_LOSS:
            reasons.append(f"{order.client_id} leg {order.leg_no} {order.tradingsymbol}: its stop loss filled at "
                           f"{order.average_price} before the exit; nothing left to close there")
    if len(reasons) > len(settled):
        alert(ctx, "EXIT_CANCELS", user_id, strategy_id, "; ".join(reasons[len(settled):]))
    return deferred, reasons


def _cover_key(ctx: Any, position: Position) -> tuple[str, str, str] | None:
    """What a long protects a short within: (underlying, expiry, CE/PE); None when the contract
    is unknown to the master."""
    try:
        contract = ctx.master.by_symbol(position.exchange, position.tradingsymbol)
    except MarketError:
        return None
    return (contract.underlying, str(contract.expiry), str(contract.option_type or ""))


def keep_hedges_of_deferred_shorts(ctx: Any, user_id: str, strategy_id: str,
                                   deferred: set[tuple[str, str]]) -> list[str]:
    """I3 on exit: a short kept OUT of this exit (its stop could not be cancelled) keeps the
    longs that protect it too (same account, same underlying, expiry and CE/PE; every long of
    the account when the contract is unknown): selling them now would leave that short naked.
    Adds them to ``deferred`` in place; returns one reason per long kept."""
    if not deferred:
        return []
    positions = [p for p in ctx.repos.positions.list(user_id, strategy_id) if p.quantity]
    shorts = [p for p in positions if p.quantity < 0 and (p.client_id, p.tradingsymbol) in deferred]
    reasons = []
    for short in shorts:
        key = _cover_key(ctx, short)
        for long in positions:
            if (long.quantity > 0 and long.client_id == short.client_id
                    and (long.client_id, long.tradingsymbol) not in deferred
                    and (key is None or _cover_key(ctx, long) in (key, None))):
                deferred.add((long.client_id, long.tradingsymbol))
                reasons.append(f"{long.client_id} leg {long.leg_no} {long.tradingsymbol}: kept open with the short "
                               f"{short.tradingsymbol} it protects (that short's closing is deferred)")
    return reasons


def cancel_at(execute_at: datetime) -> datetime:
    """When an exit due at ``execute_at`` cancels its resting orders (``EXIT_CANCEL_LEAD_S``
    earlier; the state machine's Wait before ``pre_cancel_exits``)."""
    from datetime import timedelta

    return execute_at - timedelta(seconds=EXIT_CANCEL_LEAD_S)


def add_reasons(ctx: Any, user_id: str, execution_id: str, reasons: list[str], attempts: int = 3) -> None:
    """Append ``reasons`` (those not already there) to an execution record, re-reading it on a
    version conflict (another writer, e.g. Finalize, saved meanwhile) up to ``attempts`` times."""
    from shared_utils.persistence.repositories import VersionConflict

    for _ in range(attempts):
        execution = ctx.repos.executions.get_by_id(user_id, execution_id)
        new = [r for r in reasons if r not in execution.reasons]
        if not new:
            return
        try:
            ctx.repos.executions.save(execution.model_copy(update={"reasons": execution.reasons + new}),
                                      execution.version)
            return
        except VersionConflict:
            continue


def pre_cancel_exits(state: dict[str, Any], ctx: Any) -> dict[str, Any]:
    """The EXIT state machine's step between Prepare and the Wait for ``wait_until`` (runs at
    ``cancel_at``): for every claimed exit, cancel the strategy's resting STOP_LOSS / TARGET and
    working ENTRY orders and learn from one book read per account what filled meanwhile
    (``prepare_exit``), so Resolve at ``execute_at - 2 s`` only reads positions and the closing
    orders leave on the second (issue 21 item 3). What could not be cancelled is cancelled again
    by Resolve (and deferred if it still fails). Returns the state with ``precancelled`` (count).
    A non-EXIT state passes through unchanged."""
    if state.get("execution_type") != ExecutionType.EXIT.value:
        return state
    trade_date = date.fromisoformat(state["trade_date"])
    done = 0
    for ref in state.get("executions", []):
        try:
            _, reasons = prepare_exit(ctx, ref["user_id"], ref["strategy_id"], trade_date)
            if reasons:  # kept on the execution: Resolve starts from its reasons
                add_reasons(ctx, ref["user_id"], ref["execution_id"], reasons)
            done += 1
        except Exception as exc:  # noqa: BLE001 - Resolve cancels again; never block the exit
            ctx.observer({"event": "pre_cancel_failed", "execution_id": ref["execution_id"],
                          "error": f"{type(exc).__name__}: {exc}"})
    return {**state, "precancelled": done}


def position_mismatches(ctx: Any, user_id: str, strategy_id: str, trade_date: date,
                        client_ids: set[str] | None = None) -> list[str]:
    """Records vs the broker's net positions for the strategy's contracts, per account.

    The record side sums every strategy of the user in that account and contract (the broker
    nets them); the broker side is mapped back through the orders' broker symbols. Returns one
    sentence per difference (empty when they agree)."""
    orders = strategy_orders(ctx, user_id, strategy_id, trade_date)
    symbols: dict[str, dict[str, str]] = defaultdict(dict)  # client -> broker symbol -> canonical
    for order in orders:
        symbols[order.client_id][order.broker_tradingsymbol or order.tradingsymbol] = order.tradingsymbol
    problems: list[str] = []
    for client_id, mapping in sorted(symbols.items()):
        if client_ids is not None and client_id not in client_ids:
            continue
        try:
            reports = client_of(ctx, user_id, client_id).positions()
        except (BrokerError, LookupError) as exc:
            problems.append(f"{client_id}: broker positions unavailable ({exc}); not reconciled")
            continue
        broker_qty: dict[str, int] = defaultdict(int)
        for report in reports:
            if report.tradingsymbol in mapping:
                broker_qty[mapping[report.tradingsymbol]] += report.quantity
        records: dict[str, int] = defaultdict(int)
        for position in ctx.repos.positions.list(user_id, client_id=client_id):
            if position.tradingsymbol in mapping.values():
                records[position.tradingsymbol] += position.quantity
        for symbol in sorted(set(mapping.values())):
            if records.get(symbol, 0) != broker_qty.get(symbol, 0):
                problems.append(f"{client_id} {symbol}: records hold {records.get(symbol, 0)} units, "
                                f"the broker {broker_qty.get(symbol, 0)}")
    if problems:
        alert(ctx, "POSITION_MISMATCH", user_id, strategy_id, "; ".join(problems))
    return problems


def closable_at_broker(ctx: Any, user_id: str, strategy_id: str, positions: list[Position],
                       trade_date: date) -> tuple[list[Position], list[str]]:
    """What may be closed of ``positions`` after reading each account's NET positions at the
    broker (invariant I4: no exit order is re-sent without first reading the broker).

    Per (account, contract): the records' total over every strategy of the user (the broker nets
    them) is compared with the broker's net quantity. When they agree, the strategy's position is
    closed in full. When they differ, only what the broker really holds in the same direction is
    closed (at most the strategy's own quantity), and the difference is a reason (alerted
    POSITION_MISMATCH by the caller): a fill the records lost is never bought back twice. An
    account whose positions cannot be read closes nothing this time (reason given).

    Returns (positions to close, with the quantity to close; reasons)."""
    symbols: dict[str, dict[str, str]] = defaultdict(dict)  # client -> canonical -> broker symbol
    for order in strategy_orders(ctx, user_id, strategy_id, trade_date):
        symbols[order.client_id].setdefault(order.tradingsymbol, order.broker_tradingsymbol or order.tradingsymbol)
    out: list[Position] = []
    reasons: list[str] = []
    by_client: dict[str, list[Position]] = defaultdict(list)
    for position in positions:
        by_client[position.client_id].append(position)
    for client_id, held in sorted(by_client.items()):
        try:
            reports = client_of(ctx, user_id, client_id).positions()
        except (BrokerError, LookupError) as exc:
            reasons.append(f"{client_id}: broker positions unavailable ({exc}); nothing re-sent there this time")
            continue
        broker_qty: dict[str, int] = defaultdict(int)
        for report in reports:
            broker_qty[report.tradingsymbol] += report.quantity
        totals: dict[str, int] = defaultdict(int)
        for record in ctx.repos.positions.list(user_id, client_id=client_id):
            totals[record.tradingsymbol] += record.quantity
        for position in held:
            at_broker = broker_qty.get(symbols[client_id].get(position.tradingsymbol, position.tradingsymbol), 0)
            if at_broker == totals[position.tradingsymbol]:
                out.append(position)
                continue
            same_side = at_broker * position.quantity > 0
            quantity = (min(abs(at_broker), abs(position.quantity)) if same_side else 0)
            quantity = quantity if position.quantity > 0 else -quantity
            reasons.append(f"{client_id} {position.tradingsymbol}: records hold {totals[position.tradingsymbol]} units, "
                           f"the broker {at_broker}; closing {abs(quantity)} units, not {abs(position.quantity)}")
            if quantity:
                out.append(position.model_copy(update={"quantity": quantity}))
    return out, reasons


def broker_symbols(orders: list[OrderRecord]) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """(client_id, canonical symbol) -> (broker symbol, broker token), from stored orders."""
    out: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for order in orders:
        if order.broker_tradingsymbol:
            out[(order.client_id, order.tradingsymbol)] = (order.broker_tradingsymbol, order.broker_token)
    return out


def send_planned(ctx: Any, user_id: str, strategy_id: str, execution_id: str, client_id: str,
                 execution_type: ExecutionType, planned: list[Any], now: datetime,
                 symbols: dict[tuple[str, str], tuple[str | None, str | None]], attempt: int = 0) -> dict[str, Any]:
    """Send ``planned`` (PlannedOrder) for one account now, through the placer (intents first,
    deterministic keys with ``attempt`` as the key's attempt segment, hedges first, reconcile by
    tag)."""
    from shared_utils.execution.placer import place_orders

    account = ctx.repos.accounts.get(user_id, client_id)
    for order in planned:
        found = symbols.get((client_id, order.tradingsymbol))
        if found and not order.broker_tradingsymbol:
            order.broker_tradingsymbol, order.broker_token = found
    item = {"execution_id": execution_id, "user_id": user_id, "strategy_id": strategy_id, "strategy_name": "",
            "client_id": client_id, "broker": account.broker.value, "trading_mode": account.trading_mode.value,
            "execution_type": execution_type.value, "execute_at": utc_iso_ms(now), "execution_delay_ms": 0,
            "orders": [{**o.to_state(), "attempt": attempt} for o in planned]}
    return place_orders(item, ctx)


def close_positions(ctx: Any, user_id: str, strategy_id: str, execution_id: str, positions: list[Position],
                    trade_date: date, attempt: int, now: datetime) -> list[dict[str, Any]]:
    """Closing orders (purpose EXIT, keys under ``execution_id`` with attempt ``attempt``) for
    ``positions``, per account, shorts bought back first."""
    from shared_utils.execution.planner import plan_exit_orders

    legs = {leg.leg_no: leg for leg in ctx.repos.legs.list(user_id, strategy_id)}
    symbols = broker_symbols(strategy_orders(ctx, user_id, strategy_id, trade_date))
    results = []
    by_client: dict[str, list[Position]] = defaultdict(list)
    for position in positions:
        if position.quantity:
            by_client[position.client_id].append(position)
    for client_id, held in sorted(by_client.items()):
        try:
            planned = plan_exit_orders(ctx, legs, held, trade_date, now)
        except MarketError as exc:  # one account's unknown contract never stops the others
            alert(ctx, "EXIT_INCOMPLETE", user_id, strategy_id, f"{client_id}: cannot plan its closing orders ({exc})")
            continue
        results.append(send_planned(ctx, user_id, strategy_id, execution_id, client_id, ExecutionType.EXIT,
                                    planned, now, symbols, attempt))
    return results


def _entry_before(ctx: Any, user_id: str, position: Position, exit_execution: Any) -> bool:
    """Was the position's entry claimed before ``exit_execution`` was?"""
    if not position.entry_execution_id:
        return False
    try:
        entry = ctx.repos.executions.get_by_id(user_id, position.entry_execution_id)
    except LookupError:
        return False
    return bool(entry.claimed_at and exit_execution.claimed_at and entry.claimed_at <= exit_execution.claimed_at)


def finish_exit(ctx: Any, user_id: str, strategy_id: str, now: datetime) -> dict[str, Any] | None:
    """Finish today's exit when it ended with positions still open. Returns what it did."""
    trade_date = to_ist(now).date()
    execution = ctx.repos.executions.get(user_id, strategy_id, ExecutionType.EXIT, trade_date)
    if execution is None or execution.status in (ExecutionStatus.CLAIMED, ExecutionStatus.IN_PROGRESS):
        return None
    if execution.status is ExecutionStatus.SKIPPED and not is_released(execution):
        return None
    open_positions = [p for p in ctx.repos.positions.list(user_id, strategy_id) if p.quantity]
    if is_released(execution):
        # an exit that found nothing because the entry's fills were not booked yet: close what
        # those entries (claimed before the exit was asked for) hold now
        open_positions = [p for p in open_positions if _entry_before(ctx, user_id, p, execution)]
        if any(o.status in WORKING and o.purpose is OrderPurpose.ENTRY
               for o in strategy_orders(ctx, user_id, strategy_id, trade_date)):
            return None  # the entry is still learning its fills
    if not open_positions:
        return None
    exit_orders = ctx.repos.orders.list_for_execution(user_id, execution.execution_id)
    working = [o for o in exit_orders if o.status in WORKING and o.purpose is OrderPurpose.EXIT]
    if any(now - (o.sent_at or o.intent_at or now) < EXIT_WORKING_GRACE for o in working):
        return None  # the poller is still learning their outcome
    # closing orders still working after the grace (a limit the market moved away from) are
    # cancelled and read back by prepare_exit below, then the rest is re-planned at today's price:
    # a resting buy-back never blocks the exit for the rest of the day (I5)
    attempt = 1 + max((o.attempt for o in exit_orders), default=0)
    if attempt > MAX_EXIT_RETRIES:
        message = (f"exit incomplete after {MAX_EXIT_RETRIES} retries: "
                   + ", ".join(f"{p.client_id} {p.tradingsymbol} {p.quantity}" for p in open_positions)
                   + "; close by hand")
        if message not in execution.reasons:
            ctx.repos.executions.save(execution.model_copy(update={"reasons": execution.reasons + [message]}),
                                      execution.version)
            alert(ctx, "EXIT_INCOMPLETE", user_id, strategy_id, message, execution_id=execution.execution_id)
        return {"execution_id": execution.execution_id, "attempt": attempt, "gave_up": True}
    deferred, reasons = prepare_exit(ctx, user_id, strategy_id, trade_date)
    open_positions = [p for p in ctx.repos.positions.list(user_id, strategy_id)
                      if p.quantity and (p.client_id, p.tradingsymbol) not in deferred]
    open_positions, mismatches = closable_at_broker(ctx, user_id, strategy_id, open_positions, trade_date)
    if mismatches:
        latest = ctx.repos.executions.get(user_id, strategy_id, ExecutionType.EXIT, trade_date)
        new = [m for m in mismatches if m not in latest.reasons]
        if new:  # said once, not every minute
            ctx.repos.executions.save(latest.model_copy(update={"reasons": latest.reasons + new}), latest.version)
            alert(ctx, "POSITION_MISMATCH", user_id, strategy_id, "; ".join(new), execution_id=execution.execution_id)
        if not open_positions:
            return {"execution_id": execution.execution_id, "attempt": attempt, "mismatches": mismatches}
    results = close_positions(ctx, user_id, strategy_id, execution.execution_id, open_positions, trade_date,
                              attempt, now)
    statuses = [o["status"] for r in results for o in r["orders"]]
    note = (f"exit retry {attempt}: {len(statuses)} closing orders "
            f"({', '.join(sorted(set(statuses))) or 'none'})" + (f"; {'; '.join(reasons)}" if reasons else ""))
    latest = ctx.repos.executions.get(user_id, strategy_id, ExecutionType.EXIT, trade_date)
    ctx.repos.executions.save(latest.model_copy(update={"reasons": latest.reasons + [note]}), latest.version)
    alert(ctx, "EXIT_RETRY", user_id, strategy_id, note, execution_id=execution.execution_id)
    return {"execution_id": execution.execution_id, "attempt": attempt, "statuses": statuses}


__all__ = ["pre_cancel_exits", "cancel_at", "EXIT_CANCEL_LEAD_S", "is_released", "release_note", "reclaim_released_exit", "NOTHING_TO_EXIT", "closable_at_broker",
           "prepare_exit", "cancel_working", "position_mismatches", "finish_exit", "close_positions",
           "strategy_orders", "read_book", "find_in_book", "send_planned", "alert", "Decimal"]
