"""Expired contracts settle at expiry; an exit day that is not a trading day exits on the
previous trading day (issue 13 item 11, invariant I5).

Settlement. Index options on NSE/BSE are European and cash settled: at expiry an open position
is closed by the exchange at the FINAL SETTLEMENT PRICE, which for an option is its intrinsic
value against the underlying index's closing level on the expiry day (NSE F&O contract
specifications, "Final settlement price: closing price of the underlying index"). The platform
books that closing trade itself, so an expired contract (gone from today's instrument master,
where ``by_symbol`` raises ContractNotFoundError) never blocks an exit or a risk check:

- the price is the exchange's settlement price when one is known (``ctx.settlement_prices``:
  a callable ``(exchange, tradingsymbol, expiry) -> (Decimal, source) | None``, e.g. read from the
  exchange's bhavcopy), else the intrinsic value from the underlying's close on the expiry day
  (``ctx.market``: ``spot(underlying, at)`` when it has one, else the expiry's chain spot);
- it is recorded as an order of purpose EXIT under the position's entry execution (key attempt
  ``SETTLEMENT_ATTEMPT``, never sent to a broker) FILLED at that price, through the same atomic
  booking as every fill; ``broker_message`` names the price's source; an "Order Alert" kind
  SETTLEMENT tells the trader.

The contract (expiry, strike, type) comes from the entry execution's ``resolved_legs``.
Prices Decimal rupees on the 0.05 tick; instants aware; dates IST.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shared_utils.clock import ist_datetime, to_ist
from shared_utils.models.enums import OrderPurpose, OrderStatus, TransactionType, Weekday
from shared_utils.models.execution import OrderRecord, Position
from shared_utils.persistence import keys

#: key attempt of settlement records (exit retries of the ENTRY execution use 1 and 2)
SETTLEMENT_ATTEMPT = 9
TICK = Decimal("0.05")
#: the exchanges' close: options expire at 15:30 IST on their expiry day
CLOSE = "15:30"


def contract_of(ctx: Any, position: Position) -> dict[str, Any] | None:
    """{expiry: date, strike: Decimal, option_type: "CE"|"PE", underlying: str} of the
    position's contract, from its entry execution's resolved legs (None when unknown)."""
    if not position.entry_execution_id:
        return None
    try:
        execution = ctx.repos.executions.get_by_id(position.user_id, position.entry_execution_id)
    except LookupError:
        return None
    for leg in execution.resolved_legs:
        if leg.tradingsymbol == position.tradingsymbol:
            underlying = leg.selection.get("underlying") if isinstance(leg.selection, dict) else None
            strategy = None
            if not underlying:
                try:
                    strategy = ctx.repos.strategies.get(position.user_id, position.strategy_id)
                except LookupError:
                    strategy = None
            return {"expiry": date.fromisoformat(str(leg.expiry)[:10]), "strike": Decimal(leg.strike),
                    "option_type": leg.option_type, "underlying": underlying or (strategy.underlying if strategy else None)}
    return None


def is_expired(expiry: date, now: datetime) -> bool:
    """After 15:30 IST of the expiry day."""
    return now >= ist_datetime(expiry, CLOSE)


def intrinsic(option_type: str, strike: Decimal, close: Decimal) -> Decimal:
    """Intrinsic value (rupees, on the 0.05 tick): CE max(0, close - strike), PE max(0, strike - close)."""
    value = close - strike if option_type == "CE" else strike - close
    value = max(Decimal(0), value)
    return ((value / TICK).quantize(Decimal(1), rounding=ROUND_HALF_UP) * TICK).quantize(TICK)


def underlying_close(ctx: Any, underlying: str, expiry: date) -> tuple[Decimal, str] | None:
    """The underlying's level at 15:30 IST on ``expiry`` and where it came from."""
    at = ist_datetime(expiry, CLOSE)
    market = ctx.market
    for source in (market, getattr(market, "simulator", None)):
        spot = getattr(source, "spot", None)
        if callable(spot):
            try:
                return Decimal(spot(underlying, at)), f"{underlying} close {expiry.isoformat()} 15:30 IST (market data)"
            except Exception:  # noqa: BLE001 - try the next source
                continue
    try:
        return market.chain(underlying, expiry, at).spot, f"{underlying} level at expiry (option chain)"
    except Exception:  # noqa: BLE001
        return None


def settlement_price(ctx: Any, position: Position, contract: dict[str, Any]) -> tuple[Decimal, str] | None:
    """(price, source): the exchange's settlement price when known, else intrinsic value."""
    known = getattr(ctx, "settlement_prices", None)
    if callable(known):
        found = known(position.exchange, position.tradingsymbol, contract["expiry"])
        if found is not None:
            price, source = found
            return Decimal(price), f"exchange settlement price ({source})"
    if not contract.get("underlying"):
        return None
    close = underlying_close(ctx, contract["underlying"], contract["expiry"])
    if close is None:
        return None
    level, source = close
    return (intrinsic(contract["option_type"], contract["strike"], level),
            f"intrinsic value {contract['option_type']} {contract['strike']} from {source} = {level}")


def settle_expired(ctx: Any, user_id: str, strategy_id: str, now: datetime) -> list[str]:
    """Book every open position of the strategy whose contract has expired at its settlement
    price (idempotent: a settlement record per position, keyed). Returns what was settled, in
    words; a position whose price cannot be found is named (and alerted), never raised."""
    from shared_utils.execution.booking import save_report
    from shared_utils.execution.exits import alert

    notes: list[str] = []
    for position in ctx.repos.positions.list(user_id, strategy_id):
        if not position.quantity:
            continue
        contract = contract_of(ctx, position)
        if contract is None or not is_expired(contract["expiry"], now):
            continue
        priced = settlement_price(ctx, position, contract)
        if priced is None:
            note = (f"{position.client_id} {position.tradingsymbol}: expired {contract['expiry']} but no settlement "
                    "price is known yet; settle by hand")
            alert(ctx, "SETTLEMENT", user_id, strategy_id, note)
            notes.append(note)
            continue
        price, source = priced
        side = TransactionType.BUY if position.quantity < 0 else TransactionType.SELL
        key = keys.order_sk(position.entry_execution_id, position.client_id, position.leg_no, 0, OrderPurpose.EXIT,
                            SETTLEMENT_ATTEMPT)
        quantity = abs(position.quantity)
        record = OrderRecord(
            order_key=key, execution_id=position.entry_execution_id, user_id=user_id, strategy_id=strategy_id,
            client_id=position.client_id, broker="settlement", leg_no=position.leg_no, slice_no=0,
            attempt=SETTLEMENT_ATTEMPT, purpose=OrderPurpose.EXIT, tag=keys.order_tag(key), exchange=position.exchange,
            tradingsymbol=position.tradingsymbol, transaction_type=side,
            lots=quantity // position.lot_size if position.lot_size else 0, lot_size=position.lot_size,
            quantity=quantity, product=position.product, order_type="LIMIT", price=price, execute_at=now, intent_at=now,
            error_kind="SETTLEMENT")
        stored, _ = ctx.repos.orders.record_intent(record)
        if stored.status is OrderStatus.FILLED:
            continue
        message = f"settled at expiry {contract['expiry']}: {price} ({source}); not sent to any broker"
        save_report(ctx.repos, stored, OrderStatus.FILLED, quantity, price, message, now)
        note = f"{position.client_id} {position.tradingsymbol} {position.quantity} units {message}"
        alert(ctx, "SETTLEMENT", user_id, strategy_id, note, client_id=position.client_id)
        notes.append(note)
    return notes


def exit_due_on(calendar: Any, exit_days: list[Weekday] | None, trade_date: date, exchange: str = "NSE") -> bool:
    """Is a strategy with ``exit_days`` due to exit on ``trade_date`` (a trading day)?

    Yes when its weekday is an exit day, or when an exit day falls on a NON-trading day between
    ``trade_date`` and the next trading day (a holiday or weekend): that exit runs on the
    previous trading day, ``trade_date`` (issue 13 item 11: NIFTY weekly expiring Mon 9 Nov 2026,
    the exit day Tue 10 Nov a holiday: the exit runs Mon 9 Nov). No ``exit_days``: every day."""
    from datetime import timedelta

    if not exit_days:
        return True
    days = {d.value if hasattr(d, "value") else str(d) for d in exit_days}
    weekday = list(Weekday)
    if weekday[trade_date.weekday()].value in days:
        return True
    following = calendar.next_trading_day(trade_date, exchange)
    day = trade_date + timedelta(days=1)
    while day < following:
        if weekday[day.weekday()].value in days:
            return True
        day += timedelta(days=1)
    return False


def moved_exits(calendar: Any, exit_days: list[Weekday] | None, start: date, days: int = 45,
                exchange: str = "NSE") -> list[str]:
    """Sentences for the strategy detail: each exit day in the next ``days`` that is not a
    trading day and the trading day its exit runs on instead."""
    from datetime import timedelta

    if not exit_days:
        return []
    wanted = {d.value if hasattr(d, "value") else str(d) for d in exit_days}
    weekday = list(Weekday)
    out = []
    for n in range(days):
        day = start + timedelta(days=n)
        if weekday[day.weekday()].value not in wanted or calendar.is_trading_day(day, exchange):
            continue
        if day.weekday() >= 5 and not calendar.holiday(day, exchange):
            why = "weekend"
        else:
            holiday = calendar.holiday(day, exchange)
            why = f"holiday: {getattr(holiday, 'name', None) or getattr(holiday, 'description', None) or 'exchange holiday'}"
        runs = calendar.previous_trading_day(day, exchange)
        out.append(f"exit of {day:%a %d %b %Y} ({why}) runs on the previous trading day, {runs:%a %d %b %Y}")
    return out


__all__ = ["settle_expired", "exit_due_on", "moved_exits", "intrinsic", "settlement_price", "SETTLEMENT_ATTEMPT",
           "to_ist"]
