"""Per-leg stop losses placed AT THE BROKER (ARCHITECTURE.md "Execution": a once-a-minute poll
is too slow for options), and the arithmetic of their prices.

When an ENTRY order has filled, its leg's ``stop_loss`` config (seed 001 "Stop Loss
Configuration"; ``shared_utils.models.leg``) becomes one stop order at the broker:

- purpose STOP_LOSS, ``parent_order_key`` = the entry order's key, key
  ``keys.order_sk(entry.execution_id, client, leg, entry.slice_no, STOP_LOSS, entry.attempt)``
  (deterministic: one stop per entry order, so a duplicate fill event never places a second stop);
- side opposite to the entry, quantity = the entry's FILLED quantity (units);
- SELL entry (short premium): BUY stop, trigger = fill x (1 + pct/100) (or fill + points),
  limit = trigger x (1 + exit_slippage/100); both rounded UP to the tick;
- BUY entry (long premium): SELL stop, trigger = fill x (1 - pct/100) (or fill - points),
  limit = trigger x (1 - exit_slippage/100); both rounded DOWN to the tick, at least one tick;
- order type SL (stop-limit) unless the leg says SL-M (Zerodha blocks SL-M on index options).
- the limit's buffer is the leg's ``exit_slippage``, or ``DEFAULT_STOP_LIMIT_BUFFER_PCT`` (5%)
  when the leg leaves it at 0: a stop-limit whose limit equals its trigger does not fill when the
  price gaps through the trigger (issue 13 item 12). 5% of the trigger keeps the limit well
  inside brokers' limit-price protection and the exchange's operating range for liquid index
  options (reference/indian-markets.md: limit prices too far from the LTP are rejected).

A PARTLY filled entry is protected at once for its filled part; when more fills arrive the
working stop's quantity is raised to match (``modify_order``). A stop the broker refuses
because the price has already crossed its trigger exits that leg at once (purpose EXIT under the
entry's execution, key attempt ``STOP_CROSSED_ATTEMPT``) and alerts.

Prices are Decimal rupees on the contract's tick; fill prices are the broker's average price.
The intent is written before the broker call (``record_intent``); an existing intent is never
re-sent (a lost answer is reconciled by tag, like every order of the platform).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from shared_utils.models.enums import OrderPurpose, OrderStatus, OrderType, StopLossType, TransactionType
from shared_utils.models.execution import OrderRecord
from shared_utils.persistence import keys


#: the stop-limit's buffer (percent of the trigger) when the leg's exit_slippage is 0
DEFAULT_STOP_LIMIT_BUFFER_PCT = Decimal(5)
#: key attempt of the exit placed when a stop is refused as already triggered (square-off: 1)
STOP_CROSSED_ATTEMPT = 2


class StopPriceError(ValueError):
    """The stop cannot be priced (e.g. a long leg's stop at or below zero)."""


@dataclass(frozen=True)
class StopPrices:
    """A stop order's side, trigger and limit (None for SL-M), Decimal rupees on the tick."""

    side: TransactionType
    trigger: Decimal
    limit: Decimal | None
    order_type: OrderType


def _to_tick(value: Decimal, tick: Decimal, up: bool) -> Decimal:
    rounding = ROUND_CEILING if up else ROUND_FLOOR
    return ((value / tick).to_integral_value(rounding=rounding) * tick).quantize(tick)


def stop_prices(entry_side: TransactionType | str, fill_price: Decimal, stop_loss: Decimal,
                stop_loss_type: StopLossType | str, exit_slippage_pct: Decimal, tick: Decimal,
                order_type: OrderType | str = OrderType.SL) -> StopPrices:
    """The stop order protecting an entry filled at ``fill_price`` (rupees).

    ``stop_loss`` is percent of the fill (PERCENTAGE) or rupees of premium (POINTS);
    ``exit_slippage_pct`` percent of the trigger is the limit's buffer.

    >>> stop_prices("SELL", Decimal("100"), Decimal("50"), "PERCENTAGE", Decimal("5"), Decimal("0.05"))
    StopPrices(side=<TransactionType.BUY: 'BUY'>, trigger=Decimal('150.00'), limit=Decimal('157.50'), order_type=<OrderType.SL: 'SL'>)

    Raises:
        StopPriceError: a SELL stop whose trigger or limit would be <= 0.
    """
    entry_side = TransactionType(entry_side)
    kind = StopLossType(stop_loss_type)
    order_type = OrderType(order_type)
    fill_price, stop_loss, slip = Decimal(fill_price), Decimal(stop_loss), Decimal(exit_slippage_pct)
    distance = fill_price * stop_loss / 100 if kind is StopLossType.PERCENTAGE else stop_loss
    if entry_side is TransactionType.SELL:
        side = TransactionType.BUY
        trigger = _to_tick(fill_price + distance, tick, up=True)
        limit = _to_tick(trigger * (1 + slip / 100), tick, up=True)
    else:
        side = TransactionType.SELL
        trigger = _to_tick(fill_price - distance, tick, up=False)
        limit = _to_tick(trigger * (1 - slip / 100), tick, up=False)
        if trigger <= 0:
            raise StopPriceError(f"a stop {stop_loss} {kind.value} below the fill {fill_price} is at or below zero")
        limit = max(limit, tick)
    return StopPrices(side, trigger, limit if order_type is OrderType.SL else None, order_type)


def stop_order_key(entry: OrderRecord) -> str:
    """The deterministic key of the stop protecting ``entry`` (same execution, leg, slice)."""
    return keys.order_sk(entry.execution_id, entry.client_id, entry.leg_no, entry.slice_no, OrderPurpose.STOP_LOSS,
                         entry.attempt)


def needs_stop(entry: OrderRecord) -> bool:
    """An ENTRY order with fills: FILLED, PARTIALLY_FILLED (the filled part is protected at
    once), or CANCELLED/REJECTED after a partial fill."""
    if entry.purpose is not OrderPurpose.ENTRY or entry.filled_quantity <= 0 or entry.average_price is None:
        return False
    return entry.status in (OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED, OrderStatus.CANCELLED,
                            OrderStatus.REJECTED)


def build_stop_record(entry: OrderRecord, leg: Any, tick: Decimal, now: datetime) -> OrderRecord:
    """The STOP_LOSS intent for ``entry`` from its leg's stop config (raises StopPriceError)."""
    prices = stop_prices(entry.transaction_type, entry.average_price, leg.stop_loss, leg.stop_loss_type,
                         leg.exit_slippage or DEFAULT_STOP_LIMIT_BUFFER_PCT, tick, leg.stop_loss_order_type)
    key = stop_order_key(entry)
    lots = entry.filled_quantity // entry.lot_size if entry.lot_size else entry.lots
    return OrderRecord(
        order_key=key, execution_id=entry.execution_id, user_id=entry.user_id, strategy_id=entry.strategy_id,
        client_id=entry.client_id, broker=entry.broker, leg_no=entry.leg_no, slice_no=entry.slice_no,
        attempt=entry.attempt,
        purpose=OrderPurpose.STOP_LOSS, tag=keys.order_tag(key), exchange=entry.exchange,
        tradingsymbol=entry.tradingsymbol, instrument_token=entry.instrument_token,
        broker_tradingsymbol=entry.broker_tradingsymbol, broker_token=entry.broker_token,
        transaction_type=prices.side, lots=lots, lot_size=entry.lot_size, quantity=entry.filled_quantity,
        product=entry.product, order_type=prices.order_type, price=prices.limit, trigger_price=prices.trigger,
        ltp_at_decision=entry.average_price, execute_at=now, intent_at=now, parent_order_key=entry.order_key,
    )


def tick_of(ctx: Any, entry: OrderRecord, default: Decimal = Decimal("0.05")) -> Decimal:
    """The contract's tick (rupees) from the instrument master when the context has one, else
    the exchanges' 0.05 rupee tick of index options (NSE/BSE F&O circulars)."""
    master = getattr(ctx, "master", None)
    if master is not None:
        try:
            return master.by_symbol(entry.exchange, entry.tradingsymbol).tick_size
        except Exception:  # noqa: BLE001 - unknown contract: the default tick
            return default
    return default


def place_stop_loss(ctx: Any, entry: OrderRecord, client: Any | None = None) -> OrderRecord | None:
    """Ensure the stop of a filled entry exists at the broker. Returns the stop record (new or
    existing), or None when the leg has no stop (or it cannot be priced: recorded as an alert).

    Idempotent: the intent is written first with a deterministic key; when it exists already,
    nothing is sent (a PENDING one is reconciled by tag by the poller and duplicate checker).
    """
    from shared_utils.execution.booking import save_report
    from shared_utils.execution.placer import _send

    if not needs_stop(entry):
        return None
    try:
        leg = ctx.repos.legs.get(entry.user_id, entry.strategy_id, entry.leg_no)
    except LookupError:
        return None
    if leg.stop_loss is None:
        return None
    # never protect what is no longer held: an exit (or a square-off) already closed it
    position = ctx.repos.positions.get(entry.user_id, entry.strategy_id, entry.client_id, entry.tradingsymbol)
    held_short = entry.transaction_type is TransactionType.SELL
    if position is None or position.quantity == 0 or (position.quantity < 0) != held_short:
        return None
    if _exit_started(ctx, entry):
        return None
    siblings = ctx.repos.orders.list_for_execution(entry.user_id, entry.execution_id, entry.client_id)
    if any(o.purpose is OrderPurpose.EXIT and o.leg_no == entry.leg_no for o in siblings):
        return None  # a square-off of this leg is under way
    now = ctx.clock.now()
    try:
        record = build_stop_record(entry, leg, tick_of(ctx, entry), now)
    except StopPriceError as exc:
        _alert(ctx, entry, f"leg {entry.leg_no}: no stop loss placed: {exc}")
        return None
    stored, created = ctx.repos.orders.record_intent(record)
    if not created:
        return _resize(ctx, stored, entry, client)
    if client is None:
        try:
            client = ctx.clients.client_for(ctx.repos.accounts.get(entry.user_id, entry.client_id))
        except Exception as exc:  # noqa: BLE001 - no session: the stop stays PENDING and is alerted
            saved = save_report(ctx.repos, stored, OrderStatus.REJECTED, 0, None,
                                f"not sent: no broker session ({exc})", now, extra={"error_kind": "SESSION"})
            _alert(ctx, entry, f"leg {entry.leg_no}: stop loss NOT placed: no broker session ({exc})")
            return saved
    outcome = _send(ctx, client, stored, {})
    status = outcome.status
    if status is OrderStatus.OPEN and stored.order_type in (OrderType.SL, OrderType.SL_M):
        status = OrderStatus.TRIGGER_PENDING
    extra = {"sent_at": outcome.sent_at, "acked_at": outcome.acked_at, "error_kind": outcome.error_kind}
    saved = save_report(ctx.repos, stored, status, 0, None, outcome.message, ctx.clock.now(), outcome.broker_order_id,
                        extra={k: v for k, v in extra.items() if v is not None})
    ctx.observer({"event": "stop_loss_placed", "order_key": saved.order_key, "client_id": saved.client_id,
                  "leg_no": saved.leg_no, "trigger_price": str(saved.trigger_price), "price": str(saved.price),
                  "status": saved.status.value})
    if saved.status in (OrderStatus.REJECTED, OrderStatus.UNKNOWN):
        _alert(ctx, entry, f"leg {entry.leg_no}: stop loss {saved.status.value}: {saved.broker_message}")
    if saved.status is OrderStatus.REJECTED and _crossed(ctx, entry, saved):
        _exit_leg_now(ctx, entry, saved)
    return saved


def _resize(ctx: Any, stop: OrderRecord, entry: OrderRecord, client: Any | None) -> OrderRecord:
    """Raise a working stop's quantity to the entry's filled quantity (more fills arrived after
    the filled part was protected). Returns the stored stop."""
    from shared_utils.brokers.errors import BrokerError
    from shared_utils.brokers.models import ModifyRequest
    from shared_utils.execution.order_state import WORKING
    from shared_utils.persistence.repositories import VersionConflict

    if (stop.quantity >= entry.filled_quantity or stop.status not in WORKING or not stop.broker_order_id
            or stop.filled_quantity):
        return stop
    try:
        client = client or ctx.clients.client_for(ctx.repos.accounts.get(entry.user_id, entry.client_id))
        client.modify_order(ModifyRequest(order_id=stop.broker_order_id, quantity=entry.filled_quantity))
    except (BrokerError, LookupError) as exc:
        _alert(ctx, entry, f"leg {entry.leg_no}: stop covers {stop.quantity} of {entry.filled_quantity} filled units; "
                           f"resize failed: {exc}")
        return stop
    lots = entry.filled_quantity // entry.lot_size if entry.lot_size else stop.lots
    try:
        return ctx.repos.orders.save(stop.model_copy(update={"quantity": entry.filled_quantity, "lots": lots}),
                                     stop.version)
    except VersionConflict:
        return ctx.repos.orders.get(stop.user_id, stop.order_key)


def _crossed(ctx: Any, entry: OrderRecord, stop: OrderRecord) -> bool:
    """Has the price already crossed the refused stop's trigger (BUY stop: LTP >= trigger; SELL
    stop: LTP <= trigger)? Read from the market data; unknown counts as not crossed."""
    try:
        contract = ctx.master.by_symbol(entry.exchange, entry.tradingsymbol)
        ltp = ctx.market.quote(contract, ctx.clock.now()).ltp
    except Exception:  # noqa: BLE001 - no quote: the alert already went out
        return False
    if stop.trigger_price is None or ltp is None:
        return False
    return ltp >= stop.trigger_price if stop.transaction_type is TransactionType.BUY else ltp <= stop.trigger_price


def _exit_leg_now(ctx: Any, entry: OrderRecord, stop: OrderRecord) -> None:
    """The stop was refused because the price is already through its trigger: close the leg now
    (what a triggered stop would have done), once."""
    from shared_utils.clock import to_ist
    from shared_utils.execution.exits import broker_symbols, send_planned, strategy_orders
    from shared_utils.execution.planner import plan_exit_orders
    from shared_utils.models.enums import ExecutionType

    siblings = ctx.repos.orders.list_for_execution(entry.user_id, entry.execution_id, entry.client_id)
    if any(o.purpose is OrderPurpose.EXIT and o.leg_no == entry.leg_no and o.attempt == STOP_CROSSED_ATTEMPT
           for o in siblings):
        return
    position = ctx.repos.positions.get(entry.user_id, entry.strategy_id, entry.client_id, entry.tradingsymbol)
    if position is None or not position.quantity:
        return
    now = ctx.clock.now()
    trade_date = to_ist(now).date()
    legs = {leg.leg_no: leg for leg in ctx.repos.legs.list(entry.user_id, entry.strategy_id)}
    planned = plan_exit_orders(ctx, legs, [position], trade_date, now)
    _alert(ctx, entry, f"leg {entry.leg_no}: the price is already through the stop's trigger {stop.trigger_price} "
                       f"(stop refused: {stop.broker_message}); closing the leg now")
    send_planned(ctx, entry.user_id, entry.strategy_id, entry.execution_id, entry.client_id, ExecutionType.ENTRY,
                 planned, now, broker_symbols(strategy_orders(ctx, entry.user_id, entry.strategy_id, trade_date)),
                 STOP_CROSSED_ATTEMPT)


def _exit_started(ctx: Any, entry: OrderRecord) -> bool:
    """True when an EXIT execution of the strategy was claimed on or after the entry's trade
    date (checked for the entry's date and the clock's IST date)."""
    from shared_utils.clock import to_ist
    from shared_utils.models.enums import ExecutionStatus, ExecutionType

    _, entry_date, _ = keys.parse_execution_id(entry.execution_id)
    for day in {entry_date, to_ist(ctx.clock.now()).date()}:
        found = ctx.repos.executions.get(entry.user_id, entry.strategy_id, ExecutionType.EXIT, day)
        if found is not None and found.status is not ExecutionStatus.SKIPPED:
            return True
    return False


def _alert(ctx: Any, order: OrderRecord, message: str) -> None:
    from shared_utils.execution.events import ORDER_ALERT, SOURCE_ENGINE

    detail = {"kind": "STOP_LOSS", "user_id": order.user_id, "strategy_id": order.strategy_id,
              "execution_id": order.execution_id, "client_id": order.client_id, "order_key": order.order_key,
              "message": message}
    if ctx.publisher is not None:
        ctx.publisher.publish(SOURCE_ENGINE, ORDER_ALERT, detail)
    ctx.observer({"event": "alert", **detail})
