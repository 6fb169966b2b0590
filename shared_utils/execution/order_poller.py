"""The order poller: learns what the broker did to the platform's working orders by reading each
account's order book (ONE read per account per run), for every broker, including Angel One and
Noren whose postbacks are unsigned (so the platform does not accept them: polling is their only
channel).

Run by the "Poll Orders" schedule and by every "Execution Completed" event (CDK
``OrderPollerRule``); the per-minute "Check Duplicate Orders" handler runs it too. Per watched
strategy (``watchlist``) or per execution named by the event:

1. orders still WORKING -> matched in the book by broker order id (else by tag) ->
   ``lifecycle.apply_broker_report`` (fills booked; a filled entry gets its stop at the broker);
2. entries whose fills PlaceOrders already learnt but that have no stop yet get it (PlaceOrders
   itself sends only the execution's own orders, at the second);
3. ``fill_policy.evaluate`` on each ENTRY execution (PARTIAL + LEAVE/COMPLETE/SQUARE_OFF);
4. a finished EXIT is reconciled with the broker's positions once (``exits.position_mismatches``);
5. a strategy flat with nothing working after its last trade date leaves the watch list.

Returns a JSON-able summary; a broker failure of one account is reported, never raised.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from shared_utils.brokers.errors import BrokerError
from shared_utils.clock import to_ist
from shared_utils.execution import fill_policy, watchlist
from shared_utils.execution.exits import client_of, find_in_book, position_mismatches, read_book, strategy_orders
from shared_utils.execution.lifecycle import apply_broker_report
from shared_utils.execution.order_state import WORKING
from shared_utils.execution.stops import needs_stop, place_stop_loss, stop_order_key
from shared_utils.models.enums import ExecutionType, OrderPurpose
from shared_utils.persistence import keys

RECONCILED_MARK = "positions reconciled with the broker"


class _Books:
    """Order books read at most once per account per run."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.books: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.clients: dict[tuple[str, str], Any] = {}
        self.errors: dict[tuple[str, str], str] = {}

    def get(self, user_id: str, client_id: str) -> tuple[Any, dict[str, Any] | None]:
        key = (user_id, client_id)
        if key not in self.books:
            try:
                client = client_of(self.ctx, user_id, client_id)
                self.clients[key] = client
                self.books[key] = read_book(client)
            except (BrokerError, LookupError) as exc:
                self.books[key] = None
                self.errors[key] = str(exc)
        return self.clients.get(key), self.books[key]


def poll_strategy(ctx: Any, user_id: str, strategy_id: str, now: datetime, books: _Books | None = None,
                  extra_dates: tuple[str, ...] = ()) -> dict[str, Any]:
    """One strategy's orders against its accounts' books. Returns counts and problems."""
    books = books or _Books(ctx)
    trade_date = to_ist(now).date()
    orders = strategy_orders(ctx, user_id, strategy_id, trade_date, extra_dates)
    applied, problems = 0, []
    by_client: dict[str, list[Any]] = defaultdict(list)
    for order in orders:
        if order.status in WORKING:
            by_client[order.client_id].append(order)
    for client_id, working in sorted(by_client.items()):
        client, book = books.get(user_id, client_id)
        if book is None:
            problems.append(f"{client_id}: order book unavailable ({books.errors.get((user_id, client_id))})")
            continue
        for order in working:
            report = find_in_book(book, order)
            if report is None:
                continue  # not at the broker (yet): the duplicate checker's business
            before = (order.status, order.filled_quantity)
            saved = apply_broker_report(ctx, order, report, now, client)
            applied += (saved.status, saved.filled_quantity) != before
    # entries filled earlier (PlaceOrders' book read) that have no stop yet
    fresh = {o.order_key: o for o in strategy_orders(ctx, user_id, strategy_id, trade_date, extra_dates)}
    executions = sorted({o.execution_id for o in fresh.values()})
    for execution_id in executions:
        if keys.parse_execution_id(execution_id)[2] is ExecutionType.ENTRY:
            try:
                fill_policy.evaluate(ctx, user_id, execution_id)
            except Exception as exc:  # noqa: BLE001 - one execution's policy must not stop the poll
                problems.append(f"{execution_id}: partial-fill policy failed: {type(exc).__name__}: {exc}")
    stops = 0
    # re-read: a COMPLETE retry placed just now is an entry that needs its stop too
    fresh = {o.order_key: o for o in strategy_orders(ctx, user_id, strategy_id, trade_date, extra_dates)}
    for order in list(fresh.values()):
        if order.purpose is OrderPurpose.ENTRY and needs_stop(order) and stop_order_key(order) not in fresh:
            client, _ = books.get(user_id, order.client_id)
            if place_stop_loss(ctx, order, client) is not None:
                stops += 1
    _reconcile_exit(ctx, user_id, strategy_id, trade_date)
    return {"user_id": user_id, "strategy_id": strategy_id, "orders": len(orders),
            "working": sum(len(v) for v in by_client.values()), "applied": applied, "stops_placed": stops,
            "problems": problems}


def _reconcile_exit(ctx: Any, user_id: str, strategy_id: str, trade_date: date) -> None:
    execution = ctx.repos.executions.get(user_id, strategy_id, ExecutionType.EXIT, trade_date)
    if execution is None or execution.status.value in ("CLAIMED", "IN_PROGRESS", "SKIPPED"):
        return
    if any(RECONCILED_MARK in r for r in execution.reasons):
        return
    orders = ctx.repos.orders.list_for_execution(user_id, execution.execution_id)
    if not orders or any(o.status in WORKING for o in orders):
        return
    problems = position_mismatches(ctx, user_id, strategy_id, trade_date)
    note = f"{RECONCILED_MARK}: " + ("; ".join(problems) if problems else "they agree")
    latest = ctx.repos.executions.get(user_id, strategy_id, ExecutionType.EXIT, trade_date)
    ctx.repos.executions.save(latest.model_copy(update={"reasons": latest.reasons + [note]}), latest.version)


def _flat(ctx: Any, user_id: str, strategy_id: str, trade_date: date, extra_dates: tuple[str, ...]) -> bool:
    if any(p.quantity for p in ctx.repos.positions.list(user_id, strategy_id)):
        return False
    return not any(o.status in WORKING for o in strategy_orders(ctx, user_id, strategy_id, trade_date, extra_dates))


def run_order_poller(ctx: Any, now: datetime | None = None, scope: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Poll every watched strategy (or only ``scope``: [{user_id, strategy_id}])."""
    now = now or ctx.clock.now()
    today = to_ist(now).date()
    books = _Books(ctx)
    if scope is None:
        targets = [(w.user_id, w.strategy_id, w.trade_dates) for w in watchlist.watched(ctx.repos)]
    else:
        targets = [(s["user_id"], s["strategy_id"], ()) for s in scope]
    results = []
    for user_id, strategy_id, dates in targets:
        try:
            results.append(poll_strategy(ctx, user_id, strategy_id, now, books, dates))
        except Exception as exc:  # noqa: BLE001 - one strategy must not stop the others
            results.append({"user_id": user_id, "strategy_id": strategy_id, "problems": [f"{type(exc).__name__}: {exc}"]})
            continue
        if scope is None and dates and max(dates) < today.isoformat() and _flat(ctx, user_id, strategy_id, today, dates):
            watchlist.unwatch(ctx.repos, user_id, strategy_id)
    return {"at": now.isoformat(), "strategies": results,
            "book_errors": {f"{u}/{c}": e for (u, c), e in books.errors.items()}}
