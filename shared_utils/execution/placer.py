"""PlaceOrders: one broker account's orders of one execution, sent at ``execute_at`` to the
millisecond. Kept apart from planning so the PlaceOrders Lambda imports nothing heavy (no
SciPy, no instrument master): its orders are the intents Resolve stored (contract C1).

Sequence of one work item (``{"execution_id","user_id","strategy_id","client_id",
"execution_type","execute_at", ...scalars}``):

1. Load the item's intents: ONE query (attempt-0 ENTRY/EXIT orders of the account).
2. CLAIM the item: one conditional put (``PLACEMENT#...``) before the sleep. The claim is the
   durable "send began" mark of every order of the item, so the send loop itself does no
   DynamoDB I/O. A second PlaceOrders for the same item (a Step Functions retry, a duplicate)
   finds the claim taken and only RECONCILES the still-PENDING intents with the broker's book by
   tag (found: booked; not found: UNKNOWN, never re-sent). A throttled invoke that never ran
   never claimed, so its retry may send (invariant I1/I2).
   Before that, while the Map's lead (``send_lead_seconds``) runs: the account, its broker
   session and client (``warm_up`` when the client offers it). Everything cold is done here.
3. Sleep to ``execute_at`` (+ the allocation's ``execution_delay_ms``); ``PRICE_REFRESH_LEAD_MS``
   before it ONE batched LTP call of the batch's contracts refreshes the LIMIT prices Resolve
   set minutes earlier (same distance from the LTP, on the tick; abandoned at
   ``PRICE_REFRESH_DEADLINE_MS`` before the target: planned prices, with a note) and opens the
   HTTPS connection the sends reuse.
4. Entries: kill switch (global, user, account) read immediately before the hedges (100 ms
   before the target, so the read adds no lag) and again before the shorts (I7); an entry
   order is not sent more than ``max_entry_delay_ms`` after its target: NOT_SENT "late by N
   ms" (I6). Exits are never stopped by a kill switch or lateness;
   their lateness is recorded (``lag_ms``, execution reasons).
5. BUY orders first. SELL orders only after EVERY BUY of the batch is confirmed FILLED by the
   broker (one order-book read per poll, every ``HEDGE_POLL_MS``) within
   ``hedge_fill_timeout_ms`` (I3). Otherwise the SELL orders are NOT_SENT with the reason and
   the hedge policy applies:

   - entry: a hedge that is REJECTED, UNKNOWN, NOT_SENT or not FILLED in time holds back every
     short of the account; the unfilled remainder of a working hedge is CANCELLED, filled hedge
     quantity is kept (a bought option is bounded risk), and the execution is PARTIAL/FAILED
     with an Order Alert (Finalize);
   - exit: the longs are sold only after the shorts are confirmed bought back; a buy-back that
     is not FILLED in time keeps working (it is closing risk) and the long sale is held back
     (NOT_SENT, the exit retry closes it later).
6. One order-book read for fills, then the records are saved AFTER the last send, batched
   (``booking.save_reports``: one positions Query, one TransactWriteItems per <= 100 items).
   Between an account's first and last send the only DynamoDB request is the kill-switch
   re-read before shorts that waited for hedges.

Settings (strategy fields, copied into the work item by Resolve; defaults here):
``max_entry_delay_ms`` (default 5000) and ``hedge_fill_timeout_ms`` (default 3000).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Iterable

from shared_utils.brokers.errors import (
    BrokerError,
    BrokerUnavailable,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    SessionExpired,
)
from shared_utils.brokers.models import OrderReport, OrderRequest
from shared_utils.clock import parse_instant
from shared_utils.execution.booking import save_report, save_reports
from shared_utils.execution.context import EngineContext
from shared_utils.execution.guards import kill_switch_problem, session_problem
from shared_utils.models.enums import ExecutionType, OrderPurpose, OrderStatus, TransactionType
from shared_utils.models.execution import OrderRecord, WorkItem
from shared_utils.persistence import keys
from shared_utils.persistence.repositories import VersionConflict

RETRYABLE_SEND_ATTEMPTS = 3
#: an entry order is refused (NOT_SENT) when it would leave later than this after its target
DEFAULT_MAX_ENTRY_DELAY_MS = 5000
#: how long the shorts wait for the account's hedges (BUY) to be confirmed FILLED
DEFAULT_HEDGE_FILL_TIMEOUT_MS = 3000
#: order-book polling interval while waiting for hedge fills
HEDGE_POLL_MS = 100
#: the kill switch is read this long before the first send (the read then adds no lag), and
#: again right before the shorts
KILL_SWITCH_READ_LEAD_MS = 100
#: the LIMIT prices are refreshed (one batched LTP call per account) this long before the target
PRICE_REFRESH_LEAD_MS = 400
#: a refresh not answered this long before the target is abandoned (planned prices are used)
PRICE_REFRESH_DEADLINE_MS = 150
#: statuses the hedge wait treats as "will not fill by itself"
_DEAD = frozenset({OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.NOT_SENT})
_WORKING_AT_BROKER = frozenset({OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING, OrderStatus.PARTIALLY_FILLED})


def _now(ctx: EngineContext) -> datetime:
    return ctx.clock.now()


@dataclass
class _Outcome:
    status: OrderStatus
    broker_order_id: str | None = None
    message: str | None = None
    error_kind: str | None = None
    sent_at: datetime | None = None
    acked_at: datetime | None = None
    #: the broker's full report when one was read for this order (a lost answer reconciled by
    #: tag, the hedge wait's last book read): its filled quantity and price are booked from it
    #: when the final order-book read fails, so a reconciled FILLED is never saved as FILLED 0
    report: OrderReport | None = None


def _not_sent(reason: str, kind: str) -> _Outcome:
    return _Outcome(OrderStatus.NOT_SENT, message=reason, error_kind=kind)


# ---------------------------------------------------------------------------- intents

def intent_record(header: dict[str, Any], planned: dict[str, Any], now: datetime, broker: str) -> OrderRecord:
    """The intent (status PENDING, deterministic key and tag) of one planned order.

    ``header``: execution_id, user_id, strategy_id, client_id, execute_at (ISO UTC).
    ``planned``: :meth:`PlannedOrder.to_state` (prices as strings). A planned order with a
    ``problem`` (e.g. no broker symbol) is recorded NOT_SENT with that reason at once.
    """
    key = keys.order_sk(header["execution_id"], header["client_id"], planned["leg_no"], planned["slice_no"],
                        planned["purpose"], int(planned.get("attempt") or 0))
    record = OrderRecord(
        order_key=key, execution_id=header["execution_id"], user_id=header["user_id"],
        strategy_id=header["strategy_id"], client_id=header["client_id"], broker=broker, leg_no=planned["leg_no"],
        slice_no=planned["slice_no"], attempt=int(planned.get("attempt") or 0), purpose=planned["purpose"],
        tag=keys.order_tag(key), exchange=planned["exchange"], tradingsymbol=planned["tradingsymbol"],
        instrument_token=planned.get("instrument_token"), broker_tradingsymbol=planned.get("broker_tradingsymbol"),
        broker_token=planned.get("broker_token"), transaction_type=planned["transaction_type"], lots=planned["lots"],
        lot_size=planned["lot_size"], quantity=planned["quantity"], product=planned["product"],
        order_type=planned["order_type"],
        price=Decimal(planned["price"]) if planned.get("price") else None,
        trigger_price=Decimal(planned["trigger_price"]) if planned.get("trigger_price") else None,
        ltp_at_decision=Decimal(planned["ltp"]) if planned.get("ltp") else None,
        tick_size=Decimal(planned["tick_size"]) if planned.get("tick_size") else None,
        execute_at=parse_instant(header["execute_at"]), intent_at=now,
    )
    if planned.get("problem"):
        record = record.model_copy(update={
            "status": OrderStatus.NOT_SENT, "broker_message": f"not sent: {planned['problem']}", "error_kind": "SYMBOL",
            "status_history": [{"at": now.isoformat(), "from": "PENDING", "to": "NOT_SENT",
                                "message": planned["problem"]}]})
    return record


def load_intents(repos: Any, item: dict[str, Any]) -> list[OrderRecord]:
    """The intents of one Map work item: the account's attempt-0 ENTRY/EXIT orders of the
    execution (one query), in sending order."""
    records = repos.orders.list_for_execution(item["user_id"], item["execution_id"], item["client_id"])
    return sending_order([r for r in records if r.attempt == 0 and r.purpose in (OrderPurpose.ENTRY, OrderPurpose.EXIT)])


def sending_order(records: Iterable[OrderRecord]) -> list[OrderRecord]:
    """BUY before SELL (entry: hedges first; exit: shorts bought back first), then leg,
    attempt, slice."""
    return sorted(records, key=lambda r: (0 if r.transaction_type is TransactionType.BUY else 1, r.leg_no,
                                          r.attempt, r.slice_no))


def batch_id(records: Iterable[OrderRecord]) -> str:
    """Deterministic id of a set of orders (the placement claim's key segment): 16 hex digits
    of sha256 over the sorted order keys."""
    digest = hashlib.sha256("|".join(sorted(r.order_key for r in records)).encode()).hexdigest()
    return digest[:16]


def mark_not_sent(repos: Any, record: OrderRecord, reason: str, kind: str, at: datetime,
                  attempts: int = 5) -> OrderRecord:
    """Move a PENDING intent to NOT_SENT (final) with ``reason``; a record that moved on
    meanwhile (another writer) is returned as stored, unchanged."""
    current = record
    for _ in range(attempts):
        if current.status is not OrderStatus.PENDING:
            return current
        history = list(current.status_history) + [{"at": at.isoformat(), "from": current.status.value,
                                                    "to": OrderStatus.NOT_SENT.value, "message": reason}]
        updated = current.model_copy(update={"status": OrderStatus.NOT_SENT, "broker_message": reason,
                                             "error_kind": kind, "status_history": history[-20:]})
        try:
            return repos.orders.save(updated, current.version)
        except VersionConflict:
            current = repos.orders.get(record.user_id, record.order_key)
    raise VersionConflict(f"order {record.order_key}: could not record NOT_SENT after {attempts} attempts")


# ---------------------------------------------------------------------------- broker calls

def _request(order: OrderRecord) -> OrderRequest:
    """The broker command: the broker's own symbol and token (mapped from the canonical Kite
    contract), the platform's tag."""
    return OrderRequest(
        exchange=order.exchange, tradingsymbol=order.broker_tradingsymbol or order.tradingsymbol,
        transaction_type=order.transaction_type, quantity=order.quantity, product=order.product,
        order_type=order.order_type, price=order.price, trigger_price=order.trigger_price, tag=order.tag,
        symboltoken=order.broker_token,
    )


def _reconcile(client, tag: str, tries: int = 3, pause: float = 0.3) -> OrderReport | None:
    """Look for the order with ``tag`` in the broker's book (a few tries: books lag)."""
    for attempt in range(tries):
        try:
            found = client.find_order_by_tag(tag)
        except BrokerError:
            found = None
        if found is not None:
            return found
        if attempt + 1 < tries:
            time.sleep(pause)
    return None


def _book_by_tag(client) -> dict[str, OrderReport] | None:
    """The account's order book by tag (None when the broker could not be read)."""
    try:
        return {r.tag: r for r in client.order_book() if r.tag}
    except BrokerError:
        return None


def _send(ctx: EngineContext, client, order: OrderRecord, planned: dict[str, Any] | None = None) -> _Outcome:
    """Send one order. Retries ONLY failures the broker did not act on (rate limited,
    unavailable before acting); an unknown outcome is reconciled by tag."""
    request = _request(order)
    last_error: BrokerError | None = None
    for attempt in range(RETRYABLE_SEND_ATTEMPTS):
        sent_at = _now(ctx)
        try:
            ack = client.place_order(request)
            return _Outcome(OrderStatus.OPEN, ack.order_id, None, None, sent_at, _now(ctx))
        except OrderRejected as exc:
            return _Outcome(OrderStatus.REJECTED, None, exc.broker_message or str(exc), "REJECTED", sent_at, _now(ctx))
        except SessionExpired as exc:
            return _Outcome(OrderStatus.REJECTED, None, f"broker session expired: {exc.broker_message or exc}",
                            "SESSION_EXPIRED", sent_at, _now(ctx))
        except OutcomeUnknown as exc:
            found = _reconcile(client, order.tag)
            if found is not None:
                return _Outcome(found.status, found.order_id, found.message, None, sent_at, _now(ctx), found)
            return _Outcome(OrderStatus.UNKNOWN, None, f"outcome unknown ({exc.broker_message or exc}); "
                            "not found by tag yet: NOT re-sent, reconciliation continues", "OUTCOME_UNKNOWN",
                            sent_at, _now(ctx))
        except (RateLimited, BrokerUnavailable) as exc:
            last_error = exc
            time.sleep(0.2 * (attempt + 1))
        except BrokerError as exc:
            return _Outcome(OrderStatus.REJECTED, None, exc.broker_message or str(exc), type(exc).__name__, sent_at, _now(ctx))
        except Exception as exc:  # noqa: BLE001 - an adapter's own error must not escape the placer
            # it may have been raised before or after the request left: never re-send, look by tag
            found = _reconcile(client, order.tag)
            if found is not None:
                return _Outcome(found.status, found.order_id, found.message, None, sent_at, _now(ctx), found)
            return _Outcome(OrderStatus.UNKNOWN, None, f"the broker adapter failed ({type(exc).__name__}: {exc}); "
                            "not found by tag: NOT re-sent, reconciliation continues", "ADAPTER_ERROR",
                            sent_at, _now(ctx))
    return _Outcome(OrderStatus.REJECTED, None, f"not accepted after {RETRYABLE_SEND_ATTEMPTS} attempts: "
                    f"{getattr(last_error, 'broker_message', None) or last_error}", type(last_error).__name__)


def await_fills(ctx: EngineContext, client, records: list[OrderRecord], outcomes: dict[str, Any],
                timeout_ms: int) -> tuple[dict[str, OrderReport], str | None]:
    """Wait until every order of ``records`` is confirmed FILLED by the broker (read back from
    its order book, by tag), at most ``timeout_ms``.

    Returns (the last reports by order key, None) when all filled, else (reports, the reason in
    trader's words naming each leg that is not filled and its state). An order whose outcome is
    REJECTED, NOT_SENT or UNKNOWN-and-not-in-the-book counts as not filled.
    """
    deadline = _now(ctx) + timedelta(milliseconds=max(0, timeout_ms))
    reports: dict[str, OrderReport] = {}
    while True:
        book = _book_by_tag(client)
        if book is None:  # the book could not be read: ask for each known order's status instead
            book = {}
            for record in records:
                order_id = getattr(outcomes.get(record.order_key), "broker_order_id", None)
                if order_id:
                    try:
                        book[record.tag] = client.order_status(order_id)
                    except BrokerError:
                        continue
        dead, waiting = [], []
        for record in records:
            report = book.get(record.tag)
            outcome = outcomes.get(record.order_key)
            if report is not None:
                reports[record.order_key] = report
                status = report.status
            else:
                status = getattr(outcome, "status", None) or OrderStatus.UNKNOWN
            if status is OrderStatus.FILLED:
                continue
            said = f" ({outcome.message})" if getattr(outcome, "message", None) and report is None else ""
            what = f"leg {record.leg_no} {record.transaction_type.value} {record.tradingsymbol} is {status.value}"
            if status in _DEAD:
                dead.append(what + said)
            else:
                filled = f" ({report.filled_quantity}/{report.quantity} filled)" if report is not None else said
                waiting.append(what + filled)
        if not dead and not waiting:
            return reports, None
        if dead:
            return reports, "; ".join(dead + waiting)
        if _now(ctx) >= deadline:
            return reports, f"not confirmed FILLED within {timeout_ms} ms: " + "; ".join(waiting)
        ctx.clock.sleep_until(min(deadline, _now(ctx) + timedelta(milliseconds=HEDGE_POLL_MS)))


# ---------------------------------------------------------------------------- PlaceOrders

def place_orders(item: dict[str, Any], ctx: EngineContext) -> dict[str, Any]:
    """Place one account's orders of one execution at ``execute_at`` (to the millisecond).

    ``item``: a work-item reference (contract C1) whose intents Resolve stored; or, for the
    engine's own follow-up sends (exit retries, completions), the same header plus ``orders``
    (:meth:`PlannedOrder.to_state` dicts) whose intents are written here first.

    Returns ``{"execution_id","user_id","client_id","sent","not_sent","statuses","error"}``
    (small: it travels in the state machine), plus ``orders`` (one dict per order) when the
    item carried its orders. Never raises for a broker failure: each order records what the
    broker said.
    """
    work = WorkItem.model_validate(item)  # the typed reference (raises on a malformed item: the Map's Catch)
    user_id, client_id, execution_id = work.user_id, work.client_id, work.execution_id
    now = _now(ctx)
    client_error = None
    account = ctx.repos.accounts.find(user_id, client_id)
    if account is None:
        client_error = f"broker account {client_id} is not linked"
    inline = "orders" in item
    broker = item.get("broker") or (account.broker.value if account is not None else "unknown")
    if inline:
        intents = sending_order(ctx.repos.orders.record_intent(intent_record(item, planned, now, broker))[0]
                                for planned in item["orders"])
    else:
        intents = load_intents(ctx.repos, item)
    if ctx.on_intents is not None:
        ctx.on_intents(intents)  # the deployed paper client's lot, tick and price come from them
    client = None
    if account is not None:
        try:
            client = ctx.clients.client_for(account)
        except (BrokerError, LookupError) as exc:
            client_error = f"no usable broker session for {client_id}: {getattr(exc, 'broker_message', None) or exc}"
    if client is not None:
        warm_up(client, intents)  # the HTTPS connection is opened now, before the sleep, not by the first send
    outcomes: dict[str, Any] = {}
    notes: list[str] = []
    pending = [r for r in intents if r.status is OrderStatus.PENDING]
    if pending:
        claimant = f"{item.get('run_id') or 'place'}-{uuid.uuid4().hex[:10]}"
        claimed = ctx.repos.orders.claim_placement(user_id, execution_id, client_id, batch_id(intents), claimant, now)
        if not claimed:
            outcomes.update(reconcile_claimed(client, pending))
        elif client is None:
            outcomes.update({r.order_key: _not_sent(f"not sent: {client_error}", "SESSION") for r in pending})
        else:
            _send_batch(ctx, client, work, intents, pending, outcomes, notes)
    results = _save(ctx, item, client, intents, outcomes)
    statuses: dict[str, int] = {}
    for result in results:
        statuses[result["status"]] = statuses.get(result["status"], 0) + 1
    summary: dict[str, Any] = {
        "execution_id": execution_id, "user_id": user_id, "client_id": client_id,
        "sent": sum(1 for o in outcomes.values() if isinstance(o, _Outcome) and o.sent_at is not None),
        "not_sent": statuses.get(OrderStatus.NOT_SENT.value, 0), "statuses": statuses, "error": client_error,
    }
    if notes:
        summary["notes"] = notes[:5]
    if inline:
        summary["orders"] = results
        held = [r for r in results if r["status"] == OrderStatus.NOT_SENT.value]
        if held and ctx.publisher is not None:
            # no Finalize follows the engine's own follow-up sends: alert here (I2, nothing silent)
            from shared_utils.execution.events import ORDER_ALERT, SOURCE_ENGINE

            ctx.publisher.publish(SOURCE_ENGINE, ORDER_ALERT, {
                "kind": "NOT_SENT", "user_id": user_id, "strategy_id": item.get("strategy_id"),
                "execution_id": execution_id, "client_id": client_id, "accounts": [client_id],
                "problems": [{k: r[k] for k in ("leg_no", "tradingsymbol", "transaction_type", "quantity", "message")}
                             for r in held[:50]]})
    return summary


def reconcile_claimed(client, pending: list[OrderRecord]) -> dict[str, Any]:
    """Outcomes of intents whose item was claimed by an earlier invocation (their send may have
    begun): the broker's report when its book shows the tag (read twice: books lag), else
    UNKNOWN. Never a send."""
    found: dict[str, OrderReport] = {}
    for attempt in range(2):
        book = _book_by_tag(client) if client is not None else None
        found.update({r.order_key: book[r.tag] for r in pending if book and r.tag in book})
        if len(found) == len(pending) or client is None:
            break
        if attempt == 0:
            time.sleep(0.3)
    return {r.order_key: found.get(r.order_key) or _Outcome(
        OrderStatus.UNKNOWN, message="an earlier PlaceOrders invocation claimed this order's send; not in the "
        "broker's book by tag: NOT re-sent, reconciliation continues", error_kind="OUTCOME_UNKNOWN")
        for r in pending}


def limit_price(ltp: Decimal, side: TransactionType, slippage_pct: Decimal, tick: Decimal) -> Decimal:
    """LTP moved ``slippage_pct`` percent against us, on the tick: BUY rounds up, SELL down.

    >>> limit_price(Decimal("100"), TransactionType.BUY, Decimal("5"), Decimal("0.05"))
    Decimal('105.00')
    """
    factor = (Decimal(1) + slippage_pct / 100) if side is TransactionType.BUY else (Decimal(1) - slippage_pct / 100)
    raw = ltp * factor
    rounding = ROUND_CEILING if side is TransactionType.BUY else ROUND_FLOOR
    price = (raw / tick).to_integral_value(rounding=rounding) * tick
    return max(price, tick).quantize(tick)


def warm_up(client, intents: list[OrderRecord] | None = None) -> None:
    """Open the broker's HTTPS connection before the sleep, so the first send reuses the pooled
    connection instead of paying DNS + TCP + TLS after ``execute_at``: the client's own
    ``warm_up()`` when it has one, else one LTP read of the batch's first contract (a cheap
    authenticated GET on the same session). A failure here is not an error: the refresh and the
    sends open their own connection."""
    from shared_utils.brokers.models import InstrumentRef
    from shared_utils.models.enums import Exchange

    try:
        warm = getattr(client, "warm_up", None)
        if callable(warm):
            warm()
        elif intents:
            first = intents[0]
            client.ltp([InstrumentRef(Exchange(first.exchange), first.broker_tradingsymbol or first.tradingsymbol,
                                      first.broker_token)])
    except Exception:  # noqa: BLE001 - best effort: the send path reports real failures
        pass


def _refresh_by(ctx: EngineContext, client, pending: list[OrderRecord],
                deadline: datetime) -> tuple[list[OrderRecord], str | None]:
    """:func:`refresh_prices` bounded by ``deadline`` (a hung quote call must not delay the
    sends: the SDKs' own timeouts are seconds). Past it the planned prices stand, with a note."""
    import threading

    box: dict[str, Any] = {}

    def work() -> None:
        box["result"] = refresh_prices(client, pending)

    worker = threading.Thread(target=work, name="price-refresh", daemon=True)
    worker.start()
    worker.join(max(0.0, (deadline - _now(ctx)).total_seconds()))
    if "result" in box:
        return box["result"]
    return [], "limit prices not refreshed before the send (the quote call did not answer in time); planned prices used"


def refresh_prices(client, pending: list[OrderRecord]) -> tuple[list[OrderRecord], str | None]:
    """New LIMIT prices for ``pending`` from ONE batched LTP call of the account's client: the
    same distance from the LTP as Resolve chose (its slippage percent, read back from the
    intent's price and ``ltp_at_decision``), rounded on the tick away from the market (BUY up,
    SELL down). MARKET orders keep theirs (market protection), their contracts are in the same
    call. Returns (the changed records, a note when the call
    failed: the orders then keep Resolve's prices)."""
    from shared_utils.brokers.models import InstrumentRef
    from shared_utils.models.enums import Exchange

    limits = [r for r in pending if r.price is not None and r.ltp_at_decision and r.order_type.value == "LIMIT"]
    if not pending or client is None:
        return [], None
    # every contract of the batch is asked (MARKET ones too): the one call also opens the HTTPS
    # connection the sends then reuse
    refs = {r.order_key: InstrumentRef(Exchange(r.exchange), r.broker_tradingsymbol or r.tradingsymbol, r.broker_token)
            for r in pending}
    try:
        prices = client.ltp(list({ref.key: ref for ref in refs.values()}.values()))
    except Exception as exc:  # noqa: BLE001 - the orders keep Resolve's prices, with the reason
        return [], f"limit prices not refreshed before the send ({type(exc).__name__}: {exc}); Resolve's prices used"
    changed = []
    for r in limits:
        ltp = prices.get(refs[r.order_key].key)
        if not ltp or ltp <= 0:
            continue
        tick = r.tick_size or Decimal("0.05")
        buy = r.transaction_type is TransactionType.BUY
        pct = (((r.price / r.ltp_at_decision - 1) if buy else (1 - r.price / r.ltp_at_decision)) * 100).quantize(
            Decimal("0.01"), rounding=ROUND_FLOOR)
        price = limit_price(Decimal(ltp), r.transaction_type, max(pct, Decimal(0)), tick)
        if price != r.price or ltp != r.ltp_at_decision:
            changed.append(r.model_copy(update={"price": price, "ltp_at_decision": Decimal(ltp)}))
    return changed, None


def margin_problem(client, work: WorkItem, notes: list[str]) -> str | None:
    """``risk_limits.max_margin_utilization`` (percent, in the item when set): read before the
    sleep from the client's optional ``margins() -> {"used", "available"}`` (rupees). A client
    without it cannot be checked: a note says so (Finalize puts it in the reasons)."""
    limit = work.max_margin_utilization
    if limit is None:
        return None
    margins = getattr(client, "margins", None)
    if not callable(margins):
        notes.append(f"max_margin_utilization {limit}% not checked: the {getattr(client, 'broker', 'broker')} "
                     "client reports no margin")
        return None
    try:
        figures = margins()
        used, available = Decimal(str(figures["used"])), Decimal(str(figures["available"]))
    except (BrokerError, KeyError, TypeError, ArithmeticError) as exc:
        return f"margin utilization could not be read ({exc}) and max_margin_utilization {limit}% is set"
    total = used + available
    utilization = (used / total * 100) if total > 0 else Decimal(100)
    if utilization >= Decimal(str(limit)):
        return f"margin utilization {utilization:.1f}% has reached max_margin_utilization {limit}%"
    return None


def _send_batch(ctx: EngineContext, client, work: WorkItem, intents: list[OrderRecord],
                pending: list[OrderRecord], outcomes: dict[str, Any], notes: list[str] | None = None) -> None:
    """Sleep to the target, then send ``pending`` (hedges, confirm, shorts) into ``outcomes``."""
    user_id, client_id = work.user_id, work.client_id
    notes = notes if notes is not None else []
    entry = work.execution_type is ExecutionType.ENTRY
    target = work.execute_at + timedelta(milliseconds=work.execution_delay_ms)
    max_delay = DEFAULT_MAX_ENTRY_DELAY_MS if work.max_entry_delay_ms is None else work.max_entry_delay_ms
    hedge_timeout = DEFAULT_HEDGE_FILL_TIMEOUT_MS if work.hedge_fill_timeout_ms is None else work.hedge_fill_timeout_ms
    # BFO contracts trade on BSE's calendar and session, NFO on NSE's (issue 15)
    exchange = "BSE" if any(r.exchange == "BFO" for r in pending) else "NSE"
    guard = session_problem(ctx.calendar, target, exchange)
    margin = margin_problem(client, work, notes) if entry else None
    kill_at_target = None
    if not (guard or margin):
        # the limit prices Resolve set (minutes earlier, before the Wait) are refreshed with ONE
        # batched LTP call, PRICE_REFRESH_LEAD_MS before the target
        ctx.clock.sleep_until(target - timedelta(milliseconds=PRICE_REFRESH_LEAD_MS))
        refreshed, note = _refresh_by(ctx, client, pending, target - timedelta(milliseconds=PRICE_REFRESH_DEADLINE_MS))
        if note:
            notes.append(note)
        if refreshed:
            by_key = {r.order_key: r for r in refreshed}
            pending[:] = [by_key.get(r.order_key, r) for r in pending]
            intents[:] = [by_key.get(r.order_key, r) for r in intents]
    if entry and not (guard or margin):
        # the kill switch is read KILL_SWITCH_READ_LEAD_MS before the target, so the read (a few
        # ms) is done when the first order leaves and adds nothing to its lag
        ctx.clock.sleep_until(target - timedelta(milliseconds=KILL_SWITCH_READ_LEAD_MS))
        kill_at_target = kill_switch_problem(ctx.repos, user_id, ExecutionType.ENTRY, client_id) or ""
    ctx.clock.sleep_until(target)
    if guard or margin:
        outcomes.update({r.order_key: _not_sent(f"not sent: {guard or margin}", "GUARD" if guard else "MARGIN")
                         for r in pending})
        return
    stop: list[str] = []

    def send_group(group: list[OrderRecord], kill: str | None = None) -> None:
        if entry and group:
            if kill is None:
                kill = kill_switch_problem(ctx.repos, user_id, ExecutionType.ENTRY, client_id)
            if kill:
                outcomes.update({r.order_key: _not_sent(f"not sent: {kill}", "KILL_SWITCH") for r in group})
                return
        for record in group:
            if stop:
                outcomes[record.order_key] = _not_sent(stop[0], "SESSION")
                continue
            if entry:
                late_ms = (_now(ctx) - target).total_seconds() * 1000
                if late_ms > max_delay:
                    outcomes[record.order_key] = _not_sent(
                        f"not sent: late by {late_ms:.0f} ms (max_entry_delay_ms {max_delay})", "LATE")
                    continue
            outcome = _send(ctx, client, record)
            outcomes[record.order_key] = outcome
            if outcome.error_kind == "SESSION_EXPIRED":
                stop.append("not sent: the broker session expired during the send")

    buys = [r for r in pending if r.transaction_type is TransactionType.BUY]
    send_group(buys, kill_at_target)
    sells = [r for r in pending if r.transaction_type is TransactionType.SELL]
    hedges = [r for r in intents if r.transaction_type is TransactionType.BUY]
    # the switch read at the target covers shorts that leave at once (no hedge to wait for);
    # after a hedge wait they are read again (send_group, kill=None): the ONE DynamoDB request
    # between an account's sends, kept because a switch set while the hedges fill must stop
    # the shorts (I7)
    kill_for_shorts = kill_at_target if not hedges else None
    if sells and hedges:
        known = {r.order_key: _Outcome(r.status, r.broker_order_id, r.broker_message) for r in intents
                 if r.order_key not in outcomes}
        reports, problem = await_fills(ctx, client, hedges, {**known, **outcomes}, hedge_timeout)
        for key, report in reports.items():  # the freshest report of each hedge, for _save's fallback
            if isinstance(outcomes.get(key), _Outcome):
                outcomes[key].report = report
        if problem:
            if entry:
                reason = f"not sent: SELL legs held back so the account is not left with an unhedged short: {problem}"
                cancel_unfilled(client, hedges, reports)
            else:
                reason = f"not sent: the long is sold only after the shorts are bought back: {problem}"
            outcomes.update({r.order_key: _not_sent(reason, "HEDGE_NOT_FILLED" if entry else "BUYBACK_NOT_FILLED")
                             for r in sells})
            sells = []
    send_group(sells, kill_for_shorts)


def cancel_unfilled(client, hedges: list[OrderRecord], reports: dict[str, OrderReport]) -> list[str]:
    """Hedge policy after a failed confirmation: cancel the unfilled remainder of every hedge
    still working at the broker (filled hedge quantity is kept: a bought option is bounded
    risk). Returns the broker order ids cancelled; a refused cancel is left to the poller."""
    cancelled = []
    for record in hedges:
        report = reports.get(record.order_key)
        if report is not None and report.status in _WORKING_AT_BROKER:
            try:
                client.cancel_order(report.order_id)
                cancelled.append(report.order_id)
            except BrokerError:
                continue
    return cancelled


def _save(ctx: EngineContext, item: dict[str, Any], client, intents: list[OrderRecord],
          outcomes: dict[str, Any]) -> list[dict[str, Any]]:
    """One order-book read for fills, then every record saved in one batch AFTER the account's
    last send (:func:`booking.save_reports`: one positions Query and one TransactWriteItems per
    <= 100 items); returns one result per intent."""
    book: dict[str, OrderReport] = {}
    if client is not None and any(isinstance(o, _Outcome) and o.broker_order_id for o in outcomes.values()):
        try:
            book = {report.order_id: report for report in client.order_book()}
        except BrokerError:
            book = {}
    at = _now(ctx)
    updates: list[tuple[OrderRecord, dict]] = []
    for record in intents:
        outcome = outcomes.get(record.order_key)
        if outcome is None:
            continue
        if isinstance(outcome, OrderReport):
            change = {"status": outcome.status, "filled": outcome.filled_quantity, "average": outcome.average_price,
                      "message": outcome.message, "broker_order_id": outcome.order_id}
        elif outcome.status is OrderStatus.NOT_SENT:
            change = {"not_sent": (outcome.message or "not sent", outcome.error_kind or "NOT_SENT")}
        else:
            # the final book read; when it failed (or lags), the report this order was last seen
            # with (reconciled by tag, or the hedge wait's read): one booking path for every report
            report = book.get(outcome.broker_order_id or "") or outcome.report
            extra = {"sent_at": outcome.sent_at, "acked_at": outcome.acked_at, "error_kind": outcome.error_kind}
            change = {"status": report.status if report is not None else outcome.status,
                      "filled": report.filled_quantity if report else 0,
                      "average": report.average_price if report else None,
                      "message": report.message if report and report.message else outcome.message,
                      "broker_order_id": outcome.broker_order_id,
                      "extra": {k: v for k, v in extra.items() if v is not None}}
        updates.append((record, change))
    stored = dict(zip((r.order_key for r, _ in updates), save_reports(ctx.repos, updates, at)))
    results = []
    for record in intents:
        outcome = outcomes.get(record.order_key)
        saved = stored.get(record.order_key, record)
        lag = saved.lag_ms
        results.append({"order_key": saved.order_key, "leg_no": saved.leg_no, "tradingsymbol": saved.tradingsymbol,
                        "transaction_type": saved.transaction_type.value, "quantity": saved.quantity,
                        "price": str(saved.price) if saved.price is not None else None,
                        "average_price": str(saved.average_price) if saved.average_price is not None else None,
                        "status": saved.status.value, "broker_order_id": saved.broker_order_id,
                        "lag_ms": round(lag, 3) if lag is not None else None, "message": saved.broker_message})
        if outcome is not None:
            ctx.observer({"event": "order", "execution_id": saved.execution_id, "client_id": saved.client_id,
                          "strategy": item.get("strategy_name"), **results[-1]})
            if lag is not None:
                ctx.metric("OrderLagMs", lag, "Milliseconds", {"broker": saved.broker})
    return results


def settle_unplaced(ctx: EngineContext, user_id: str, execution_id: str, errors: dict[str, str],
                    orders: list[OrderRecord] | None = None) -> list[OrderRecord]:
    """Finalize's sweep (I2): every ENTRY/EXIT intent of the execution still PENDING after the
    Map. An account whose item was never claimed sent nothing: its intents become NOT_SENT with
    the branch's error (``errors`` by client_id) or "its PlaceOrders never ran". One whose item
    was claimed may have sent: its intents are reconciled by tag (UNKNOWN when not found).
    ``orders``: the execution's orders when the caller read them already (Finalize), else one
    Query. Returns the records changed."""
    if orders is None:
        orders = ctx.repos.orders.list_for_execution(user_id, execution_id)
    pending = [o for o in orders if o.status is OrderStatus.PENDING and o.purpose in (OrderPurpose.ENTRY, OrderPurpose.EXIT)]
    if not pending:
        return []
    claims = {(c.get("client_id"), c["sort_key"]) for c in ctx.repos.orders.placement_claims(user_id, execution_id)}
    changed: list[OrderRecord] = []
    now = _now(ctx)
    for client_id in sorted({o.client_id for o in pending}):
        mine = [o for o in pending if o.client_id == client_id]
        batch_orders = [o for o in orders if o.client_id == client_id and o.attempt == 0
                        and o.purpose in (OrderPurpose.ENTRY, OrderPurpose.EXIT)]
        claimed = (client_id, keys.placement_sk(execution_id, client_id, batch_id(batch_orders))) in claims
        if not claimed:
            error = errors.get(client_id)
            reason = (f"not sent: its PlaceOrders branch failed before sending ({error})" if error
                      else "not sent: its PlaceOrders branch never ran")
            changed += [mark_not_sent(ctx.repos, o, reason, "BRANCH_FAILED", now) for o in mine]
            continue
        client = None
        account = ctx.repos.accounts.find(user_id, client_id)
        if account is not None:
            try:
                client = ctx.clients.client_for(account)
            except (BrokerError, LookupError):
                client = None
        found = reconcile_claimed(client, mine)
        for record in mine:
            outcome = found[record.order_key]
            if isinstance(outcome, OrderReport):
                changed.append(save_report(ctx.repos, record, outcome.status, outcome.filled_quantity,
                                           outcome.average_price, outcome.message, now, outcome.order_id))
            else:
                changed.append(save_report(ctx.repos, record, OrderStatus.UNKNOWN, 0, None, outcome.message, now,
                                           extra={"error_kind": outcome.error_kind}))
    return changed
