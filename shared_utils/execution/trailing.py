"""Trailing stops, enforced by the per-minute "Check Stop Loss" (no Indian broker offers a
native trailing stop on an options stop order through Kite Connect, SmartAPI or Noren: their
order types are MARKET/LIMIT/SL/SL-M, reference/broker-apis.md), by MODIFYING the broker-side
stop order so the protection keeps working between minutes.

A leg's ``trailing_stop`` = {activate_after, trail_by} in the leg's ``stop_loss_type`` units
(PERCENTAGE: percent of the average entry price; POINTS: rupees of premium). Once the position is
``activate_after`` in profit, the stop's trigger follows the LTP at ``trail_by`` behind it:

- short (SELL entry, BUY stop): trigger = LTP + trail (rounded up to the tick), only ever lowered;
- long (BUY entry, SELL stop): trigger = LTP - trail (rounded down), only ever raised.

The stop-limit's price keeps the leg's exit slippage beyond the new trigger (stops.stop_prices'
rule). A stop is never moved the wrong way, and never to the wrong side of the LTP.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from shared_utils.execution.order_state import WORKING
from shared_utils.models.enums import OrderPurpose, OrderType, StopLossType


def _tick(value: Decimal, tick: Decimal, up: bool) -> Decimal:
    rounding = ROUND_CEILING if up else ROUND_FLOOR
    return ((value / tick).to_integral_value(rounding=rounding) * tick).quantize(tick)


def trailed_trigger(quantity: int, average: Decimal, ltp: Decimal, current_trigger: Decimal, activate_after: Decimal,
                    trail_by: Decimal, kind: StopLossType | str, tick: Decimal) -> Decimal | None:
    """The new trigger (rupees) for a position of ``quantity`` units (short < 0), or None when
    the stop must stay where it is (not yet in enough profit, or the trail would loosen it).

    >>> trailed_trigger(-65, Decimal("100"), Decimal("60"), Decimal("150"), Decimal("30"), Decimal("20"),
    ...                 "PERCENTAGE", Decimal("0.05"))
    Decimal('80.00')
    """
    kind = StopLossType(kind)
    if quantity == 0 or average <= 0:
        return None
    profit = (average - ltp) if quantity < 0 else (ltp - average)
    threshold = average * activate_after / 100 if kind is StopLossType.PERCENTAGE else activate_after
    if profit < threshold:
        return None
    trail = average * trail_by / 100 if kind is StopLossType.PERCENTAGE else trail_by
    if quantity < 0:
        candidate = _tick(ltp + trail, tick, up=True)
        return candidate if candidate < current_trigger and candidate > ltp else None
    candidate = _tick(ltp - trail, tick, up=False)
    return candidate if candidate > current_trigger and tick <= candidate < ltp else None


def trail_position(ctx: Any, position: Any, leg: Any, now: datetime) -> dict[str, Any] | None:
    """Move the working stop of ``position`` if its trailing rule says so. Returns what was done
    (or None). A broker refusal is recorded on the stop order and alerted, never retried blindly."""
    from shared_utils.brokers.errors import BrokerError
    from shared_utils.brokers.models import ModifyRequest
    from shared_utils.execution.exits import alert, client_of
    from shared_utils.persistence.repositories import VersionConflict

    config = getattr(leg, "trailing_stop", None)
    if config is None or position.ltp is None or not position.entry_execution_id:
        return None
    stops = [o for o in ctx.repos.orders.list_for_execution(position.user_id, position.entry_execution_id, position.client_id)
             if o.purpose is OrderPurpose.STOP_LOSS and o.leg_no == position.leg_no and o.status in WORKING
             and o.broker_order_id and o.trigger_price is not None]
    done = []
    for stop in stops:
        tick = ctx.master.by_symbol(stop.exchange, stop.tradingsymbol).tick_size if ctx.master else Decimal("0.05")
        trigger = trailed_trigger(position.quantity, position.average_price, position.ltp, stop.trigger_price,
                                  config.activate_after, config.trail_by, leg.stop_loss_type, tick)
        if trigger is None:
            continue
        price = None
        if stop.order_type is OrderType.SL:
            from shared_utils.execution.stops import DEFAULT_STOP_LIMIT_BUFFER_PCT

            slip = Decimal(leg.exit_slippage or DEFAULT_STOP_LIMIT_BUFFER_PCT)  # same buffer as the stop
            up = position.quantity < 0
            price = _tick(trigger * (1 + slip / 100) if up else trigger * (1 - slip / 100), tick, up=up)
            price = max(price, tick)
        try:
            client_of(ctx, position.user_id, position.client_id).modify_order(
                ModifyRequest(order_id=stop.broker_order_id, trigger_price=trigger, price=price))
        except BrokerError as exc:
            alert(ctx, "TRAILING_STOP_FAILED", position.user_id, position.strategy_id,
                  f"{position.client_id} leg {position.leg_no}: could not move the stop to {trigger}: "
                  f"{exc.broker_message or exc}")
            continue
        history = list(stop.status_history) + [{"at": now.isoformat(), "from": str(stop.trigger_price),
                                                 "to": str(trigger), "message": "trailing stop moved"}]
        update = {"trigger_price": trigger, "status_history": history[-20:]}
        if price is not None:
            update["price"] = price
        try:
            ctx.repos.orders.save(stop.model_copy(update=update), stop.version)
        except VersionConflict:
            pass  # the poller updated it meanwhile; the broker holds the new trigger either way
        done.append({"order_key": stop.order_key, "from": str(stop.trigger_price), "to": str(trigger)})
    return {"client_id": position.client_id, "leg_no": position.leg_no, "moved": done} if done else None
