"""PlaceOrders: one broker account's orders of one execution, sent at ``execute_at`` to the
millisecond. Kept apart from planning so the PlaceOrders Lambda imports nothing heavy (no
SciPy, no instrument master): everything it needs is in its work item.

Sequence: write every intent (deterministic key and tag) -> sleep to ``execute_at`` -> send in
the planned order (BUY before SELL) through the account's rate limiter -> one order-book read
for fills -> save the records. A rejected hedge holds back that account's SELL entry orders.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

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
from shared_utils.execution.booking import save_report
from shared_utils.execution.context import EngineContext
from shared_utils.execution.guards import session_problem
from shared_utils.models.enums import OrderPurpose, OrderStatus, TransactionType
from shared_utils.models.execution import OrderRecord
from shared_utils.persistence import keys

RETRYABLE_SEND_ATTEMPTS = 3


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


def _request(order: OrderRecord, planned: dict[str, Any]) -> OrderRequest:
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


def _send(ctx: EngineContext, client, order: OrderRecord, planned: dict[str, Any]) -> _Outcome:
    """Send one order. Retries ONLY failures the broker did not act on (rate limited,
    unavailable before acting); an unknown outcome is reconciled by tag."""
    request = _request(order, planned)
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
                return _Outcome(found.status, found.order_id, found.message, None, sent_at, _now(ctx))
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
                return _Outcome(found.status, found.order_id, found.message, None, sent_at, _now(ctx))
            return _Outcome(OrderStatus.UNKNOWN, None, f"the broker adapter failed ({type(exc).__name__}: {exc}); "
                            "not found by tag: NOT re-sent, reconciliation continues", "ADAPTER_ERROR",
                            sent_at, _now(ctx))
    return _Outcome(OrderStatus.REJECTED, None, f"not accepted after {RETRYABLE_SEND_ATTEMPTS} attempts: "
                    f"{getattr(last_error, 'broker_message', None) or last_error}", type(last_error).__name__)


def place_orders(item: dict[str, Any], ctx: EngineContext) -> dict[str, Any]:
    """Place one account's orders of one execution at ``execute_at`` (to the millisecond).

    Returns {execution_id, client_id, orders: [{order_key, status, lag_ms, message}], error}.
    Never raises for a broker failure: each order carries what the broker said.
    """
    user_id, client_id, execution_id = item["user_id"], item["client_id"], item["execution_id"]
    execute_at = parse_instant(item["execute_at"])
    now = _now(ctx)
    intents: list[tuple[OrderRecord, bool, dict[str, Any]]] = []
    mapping_problems: dict[str, str] = {}
    for planned in item["orders"]:
        key = keys.order_sk(execution_id, client_id, planned["leg_no"], planned["slice_no"], planned["purpose"])
        symbol, token = planned.get("broker_tradingsymbol"), planned.get("broker_token")
        if planned.get("problem"):
            mapping_problems[key] = planned["problem"]
        record = OrderRecord(
            order_key=key, execution_id=execution_id, user_id=user_id, strategy_id=item["strategy_id"],
            client_id=client_id, broker=item["broker"], leg_no=planned["leg_no"], slice_no=planned["slice_no"],
            purpose=planned["purpose"], tag=keys.order_tag(key), exchange=planned["exchange"],
            tradingsymbol=planned["tradingsymbol"], instrument_token=planned.get("instrument_token"),
            broker_tradingsymbol=symbol, broker_token=token,
            transaction_type=planned["transaction_type"], lots=planned["lots"], lot_size=planned["lot_size"],
            quantity=planned["quantity"], product=planned["product"], order_type=planned["order_type"],
            price=Decimal(planned["price"]) if planned.get("price") else None,
            trigger_price=Decimal(planned["trigger_price"]) if planned.get("trigger_price") else None,
            ltp_at_decision=Decimal(planned["ltp"]) if planned.get("ltp") else None,
            execute_at=execute_at, intent_at=now,
        )
        stored, created = ctx.repos.orders.record_intent(record)
        intents.append((stored, created, planned))

    try:
        account = ctx.repos.accounts.get(user_id, client_id)
        client = ctx.clients.client_for(account)
        client_error = None
    except (BrokerError, LookupError) as exc:
        client, client_error = None, f"no usable broker session for {client_id}: {getattr(exc, 'broker_message', None) or exc}"

    target = execute_at + timedelta(milliseconds=int(item.get("execution_delay_ms") or 0))
    guard = session_problem(ctx.calendar, target)
    ctx.clock.sleep_until(target)

    outcomes: list[tuple[OrderRecord, dict[str, Any], _Outcome | OrderReport | None]] = []
    hedge_failure: str | None = None
    for record, created, planned in intents:
        if not created:
            # a previous run wrote this intent: it may have been sent. Reconcile, never re-send.
            if record.status in (OrderStatus.PENDING, OrderStatus.SENT, OrderStatus.UNKNOWN) and client is not None:
                found = _reconcile(client, record.tag, tries=2)
                outcomes.append((record, planned, found if found is not None else _Outcome(
                    OrderStatus.UNKNOWN, message="a previous run recorded this order; not found by tag: NOT re-sent",
                    error_kind="OUTCOME_UNKNOWN")))
            else:
                outcomes.append((record, planned, None))
            continue
        if guard or client is None:
            outcomes.append((record, planned, _Outcome(OrderStatus.REJECTED, message=f"not sent: {guard or client_error}",
                                                       error_kind="GUARD" if guard else "SESSION")))
            continue
        if record.order_key in mapping_problems:
            outcome = _Outcome(OrderStatus.NOT_SENT, message=f"not sent: {mapping_problems[record.order_key]}",
                               error_kind="SYMBOL")
            outcomes.append((record, planned, outcome))
            if record.purpose is OrderPurpose.ENTRY and record.transaction_type is TransactionType.BUY:
                hedge_failure = f"hedge leg {record.leg_no} could not be sent ({outcome.message})"
            continue
        if hedge_failure and record.purpose is OrderPurpose.ENTRY and record.transaction_type is TransactionType.SELL:
            outcomes.append((record, planned, _Outcome(OrderStatus.REJECTED, message=f"not sent: {hedge_failure}",
                                                       error_kind="HEDGE_FAILED")))
            continue
        outcome = _send(ctx, client, record, planned)
        outcomes.append((record, planned, outcome))
        if (outcome.status is OrderStatus.REJECTED and record.purpose is OrderPurpose.ENTRY
                and record.transaction_type is TransactionType.BUY):
            hedge_failure = (f"hedge leg {record.leg_no} was rejected ({outcome.message}); SELL legs held back "
                             "so the account is not left with an unhedged short")
        if outcome.error_kind == "SESSION_EXPIRED":
            hedge_failure = hedge_failure or "the broker session expired"

    # after the last send: one order-book read for fills, then save everything
    book: dict[str, OrderReport] = {}
    if client is not None and any(isinstance(o, _Outcome) and o.broker_order_id for _, _, o in outcomes):
        try:
            book = {report.order_id: report for report in client.order_book()}
        except BrokerError:
            book = {}
    results = []
    for record, planned, outcome in outcomes:
        at = _now(ctx)
        if outcome is None:
            saved = record
        elif isinstance(outcome, OrderReport):
            saved = save_report(ctx.repos, record, outcome.status, outcome.filled_quantity, outcome.average_price,
                                outcome.message, at, outcome.order_id)
        else:
            report = book.get(outcome.broker_order_id or "")
            status = report.status if report is not None else outcome.status
            extra = {"sent_at": outcome.sent_at, "acked_at": outcome.acked_at, "error_kind": outcome.error_kind}
            saved = save_report(ctx.repos, record, status, report.filled_quantity if report else 0,
                                report.average_price if report else None,
                                (report.message if report and report.message else outcome.message), at,
                                outcome.broker_order_id, extra={k: v for k, v in extra.items() if v is not None})
        lag = saved.lag_ms
        results.append({"order_key": saved.order_key, "leg_no": saved.leg_no, "tradingsymbol": saved.tradingsymbol,
                        "transaction_type": saved.transaction_type.value, "quantity": saved.quantity,
                        "price": str(saved.price) if saved.price is not None else None,
                        "average_price": str(saved.average_price) if saved.average_price is not None else None,
                        "status": saved.status.value, "broker_order_id": saved.broker_order_id,
                        "lag_ms": round(lag, 3) if lag is not None else None, "message": saved.broker_message})
        ctx.observer({"event": "order", "execution_id": execution_id, "client_id": client_id,
                      "strategy": item.get("strategy_name"), **results[-1]})
        if lag is not None:
            ctx.metric("OrderLagMs", lag, "Milliseconds", {"broker": item["broker"]})
    return {"execution_id": execution_id, "user_id": user_id, "client_id": client_id, "orders": results,
            "error": client_error}


