"""Strategy preview: what the entry would trade at a moment, resolved by the ENGINE's own code
(issue 17, ``GET /options/strategies/{strategy_id}/preview?date=&time=``).

The legs go through ``shared_utils.execution.planner.resolve_legs`` (the contract of every leg,
one choice for all accounts), ``plan_entry_orders`` (lots per account, quantity, freeze slices,
LIMIT prices) and ``map_to_broker`` (each account's broker symbol) exactly as Resolve calls them,
with the engine's refusals (``readiness.executability_problems``,
``market_data.market_data_problems``, ``guards.session_problem``, ``guards.kill_switch_problem``,
the account risk limits of Resolve, an entry already claimed that day) listed as ``problems``. Nothing is written and nothing is sent.

The instant: ``date`` + ``time`` (IST, ``HH:MM``) mean the entry slot at that time; the engine
picks the contracts in Prepare, when the emitter announces the slot (:data:`RESOLVE_LEAD`, the
lookahead, before it; or now, when that is already past), and so does the preview; the engine
then refreshes its LIMIT prices 400 ms before the slot (``placer.refresh_prices``). ``date`` alone means the strategy's entry_time that day; neither means
now. The simulator prices that instant; a broker's quote API can only price now (said in
``notes``).

Risk (``shared_utils.services.calculators.analyse``) per account and for all accounts together:
net premium (rupees; credit positive), greeks, breakevens, max profit / max loss.

Margin per account:

- LIVE Zerodha: Kite basket margins (``POST /margins/basket?consider_positions=true``, through the
  account's KiteConnect session): ``initial`` (sum of the legs alone) and ``final`` (with the
  hedge benefit), ``source: "broker"``. A failure is said and the approximation answers.
- Otherwise (paper, or brokers without a basket-margin API): an APPROXIMATION, labelled
  ``source: "approximation"``: the position's max loss when bounded (a hedged position), else 12 %
  of the short legs' notional (index SPAN + exposure is of that order; not the exchange's SPAN),
  plus the premium paid for long legs.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from shared_utils.clock import ist_datetime, to_ist, utc_iso_ms
from shared_utils.errors import InvalidRequest
from shared_utils.market.errors import MarketError
from shared_utils.models.enums import EntityStatus, ExecutionType, TradingMode, TransactionType

#: the engine resolves an entry in Prepare, when the emitter announces the slot: lookahead_minutes
#: (2 in every environment) before it (execution.steps.prepare)
RESOLVE_LEAD = timedelta(minutes=2)
#: approximation of index option SPAN + exposure per rupee of short notional (not the exchange's)
SHORT_MARGIN_RATE = Decimal("0.12")


def preview_instant(strategy: Any, day: str | None, at: str | None, now: datetime) -> tuple[datetime, datetime, bool]:
    """(slot instant, resolution instant, whether it is "now") from ``date``/``time`` (IST).

    Raises InvalidRequest naming ``date`` or ``time``.
    """
    if not day and not at:
        return now, now, True
    try:
        when = date.fromisoformat(day) if day else to_ist(now).date()
    except ValueError:
        raise InvalidRequest.field(("query", "date"), f"{day!r} is not a date (YYYY-MM-DD)") from None
    slot = at or strategy.entry_time
    try:
        time.fromisoformat(slot)
        execute_at = ist_datetime(when, slot[:5])
    except ValueError:
        raise InvalidRequest.field(("query", "time"), f"{at!r} is not a time (HH:MM, IST)") from None
    return execute_at, execute_at - RESOLVE_LEAD, False


def preview(ctx: Any, repos: Any, user_id: str, strategy_id: str, day: str | None, at: str | None) -> dict[str, Any]:
    """The preview of ``strategy_id`` of ``user_id`` (another user's id: NotFound -> 404).

    ``ctx``: the engine context whose market data, master, calendar and clock are used; ``repos``:
    the caller's tables.
    """
    from shared_utils.execution.guards import kill_switch_problem, session_problem
    from shared_utils.execution.market_data import market_data_problems
    from shared_utils.execution.planner import (
        ResolutionError,
        limit_price,
        map_to_broker,
        plan_entry_orders,
        resolve_legs,
    )
    from shared_utils.models.enums import OrderType
    from shared_utils.execution.readiness import executability_problems
    from shared_utils.services.calculators import _priced, analyse
    from shared_utils.services.market_status import MarketReader

    strategy = repos.strategies.get(user_id, strategy_id)
    legs = repos.legs.list(user_id, strategy_id)
    allocations = [a for a in repos.allocations.list(user_id, strategy_id) if a.status is EntityStatus.ACTIVE]
    now = ctx.clock.now()
    execute_at, resolve_at, is_now = preview_instant(strategy, day, at, now)
    if not is_now and resolve_at < now < execute_at:
        resolve_at = now  # inside the lookahead: the engine's Prepare would resolve now
    trade_date = to_ist(execute_at).date()
    reader = MarketReader(dataclasses.replace(ctx, repos=repos), resolve_at)
    engine = reader.context
    exchange = "BSE" if strategy.underlying in ("SENSEX", "BANKEX", "SENSEX50") else "NSE"

    problems: list[str] = []
    notes: list[str] = []
    problems += executability_problems(strategy, legs, allocations, trade_date)
    guard = session_problem(ctx.calendar, execute_at, exchange)
    if guard:
        problems.append(guard)
    kill = _kill_switch(kill_switch_problem, repos, user_id)
    if kill:
        problems.append(kill)
    if not is_now and execute_at < now:
        problems.append(f"{utc_iso_ms(execute_at)} is in the past: the engine would not enter at that slot now")
    if not is_now and reader.live:
        notes.append("prices are the broker's current quotes (a quote API cannot price another instant)")
    existing = repos.executions.get(user_id, strategy_id, ExecutionType.ENTRY, trade_date)
    if existing is not None:
        problems.append(f"the entry of {trade_date.isoformat()} is already claimed ({existing.execution_id}, "
                        f"{existing.status.value}): the engine runs one entry per strategy and trade date")
    refused = market_data_problems(engine, ExecutionType.ENTRY, trade_date, user_id, allocations)
    problems += refused

    resolved: dict[int, Any] = {}
    if not refused:
        try:
            resolved = resolve_legs(engine, strategy.underlying, legs, trade_date, resolve_at)
        except (ResolutionError, MarketError) as exc:
            problems.append(str(exc))

    legs_by_no = {leg.leg_no: leg for leg in legs}
    legs_out = []
    for leg_no, (info, contract) in sorted(resolved.items()):
        leg = legs_by_no[leg_no]
        legs_out.append({"leg_no": leg_no, "side": leg.transaction_type.value, "tradingsymbol": info.tradingsymbol,
                         "exchange": info.exchange, "expiry": info.expiry, "strike": str(info.strike),
                         "option_type": info.option_type, "lot_size": info.lot_size, "ltp": str(info.ltp),
                         "order_type": leg.order_type.value,
                         "limit_price": str(limit_price(info.ltp, leg.transaction_type, leg.entry_slippage, contract.tick_size))
                         if leg.order_type is OrderType.LIMIT else None,
                         "selection": info.selection})

    accounts_out = []
    all_priced = []
    for allocation in allocations:
        account = repos.accounts.find(user_id, allocation.client_id)
        entry: dict[str, Any] = {"client_id": allocation.client_id}
        if account is None or account.status is not EntityStatus.ACTIVE:
            problems.append(f"{allocation.client_id}: broker account is not linked or not active")
            entry["problems"] = ["broker account is not linked or not active"]
            accounts_out.append(entry)
            continue
        entry.update(broker=account.broker.value, trading_mode=account.trading_mode.value)
        if not resolved:
            accounts_out.append(entry)
            continue
        orders = plan_entry_orders(engine, legs, allocation, resolved, strategy.product, trade_date)
        if ctx.effective_broker is not None:
            effective = ctx.effective_broker(account)
        else:
            effective = "paper" if account.trading_mode is TradingMode.PAPER else account.broker.value
        map_to_broker(engine, orders, effective)
        for problem in _risk_problems(engine, allocation, orders, trade_date):
            problems.append(problem)
            entry.setdefault("problems", []).append(problem)
        per_leg: dict[int, dict[str, Any]] = {}
        for order in orders:
            row = per_leg.setdefault(order.leg_no, {"leg_no": order.leg_no, "side": order.transaction_type,
                                                    "tradingsymbol": order.tradingsymbol, "lots": 0, "quantity": 0,
                                                    "limit_price": order.price, "slices": []})
            row["lots"] += order.lots
            row["quantity"] += order.quantity
            row["slices"].append({"quantity": order.quantity, "lots": order.lots,
                                  "broker_tradingsymbol": order.broker_tradingsymbol,
                                  **({"problem": order.problem} if order.problem else {})})
            if order.problem and order.problem not in problems:
                problems.append(f"{account.client_id}: {order.problem}")
        entry["orders_in_sending_order"] = [f"{o.transaction_type} {o.tradingsymbol} x{o.quantity}" for o in orders]
        entry["legs"] = [per_leg[no] for no in sorted(per_leg)]
        priced = [_priced(reader, no - 1, resolved[no][1], TransactionType(row["side"]),
                          row["lots"], None, resolved[no][0].ltp, resolve_at, leg_no=no)
                  for no, row in sorted(per_leg.items())]
        if priced:
            analysis = analyse(priced, resolve_at, what=frozenset({"premium", "greeks", "breakeven"}))
            limit_value = sum((Decimal(o.price) * o.quantity * (1 if o.transaction_type == "SELL" else -1)
                               for o in orders if o.price is not None), Decimal(0))
            entry["risk"] = {k: analysis[k] for k in ("net_premium", "net_premium_kind", "greeks", "breakevens",
                                                      "max_profit", "max_loss")}
            entry["risk"]["net_premium_at_limit_prices"] = str(limit_value.quantize(Decimal("0.01")))
            entry["margin"] = margin_estimate(ctx, account, orders, priced, analysis)
            all_priced += priced
        accounts_out.append(entry)

    total: dict[str, Any] | None = None
    if all_priced:
        merged = _merge(all_priced)
        analysis = analyse(merged, resolve_at, what=frozenset({"premium", "greeks", "breakeven"}))
        total = {k: analysis[k] for k in ("net_premium", "net_premium_kind", "greeks", "greeks_units", "breakevens",
                                          "max_profit", "max_loss")}
        margins = [a["margin"] for a in accounts_out if "margin" in a]
        total["margin_total"] = str(sum((Decimal(m["required"]) for m in margins if m.get("required")), Decimal(0)))
    return {
        "strategy_id": strategy_id, "strategy_name": strategy.strategy_name, "underlying": strategy.underlying,
        "execute_at": utc_iso_ms(execute_at), "resolved_at": utc_iso_ms(resolve_at),
        "trade_date": trade_date.isoformat(), "executable": not problems, "problems": problems, "notes": notes,
        "legs": legs_out, "accounts": accounts_out, "total": total, "quote": reader.stamp(),
    }


def _risk_problems(engine: Any, allocation: Any, orders: list[Any], trade_date: date) -> list[str]:
    """The account's risk limits as Resolve checks them (steps._risk_problems: max position
    value, max daily trades); an engine without that check answers nothing here."""
    from shared_utils.execution import steps

    check = getattr(steps, "_risk_problems", None)
    return list(check(engine, allocation, orders, trade_date, ExecutionType.ENTRY)) if check else []


def _kill_switch(check: Any, repos: Any, user_id: str) -> str | None:
    """The engine's kill-switch check for an ENTRY of ``user_id``. The shared contract (C3) moves
    its first argument from the controls repository to ``repos``; either signature is called
    as it is declared."""
    import inspect

    first = next(iter(inspect.signature(check).parameters))
    return check(repos if first == "repos" else repos.controls, user_id, ExecutionType.ENTRY)


def _merge(priced: list[Any]) -> list[Any]:
    """Legs of every account summed per (leg_no): one position for the totals."""
    merged: dict[int | None, Any] = {}
    for leg in priced:
        if leg.leg_no in merged:
            merged[leg.leg_no] = dataclasses.replace(merged[leg.leg_no], lots=merged[leg.leg_no].lots + leg.lots)
        else:
            merged[leg.leg_no] = leg
    return list(merged.values())


# ---------------------------------------------------------------------------- margin

def margin_estimate(ctx: Any, account: Any, orders: list[Any], priced: list[Any], analysis: dict[str, Any]) -> dict[str, Any]:
    """The account's margin for ``orders`` (see the module docstring: broker or approximation)."""
    broker_problem = None
    if account.trading_mode is TradingMode.LIVE and account.broker.value == "zerodha":
        try:
            client = ctx.clients.client_for(account)
            kite = getattr(client, "kite", None)
            if kite is None:
                raise MarketError("the account's client has no Kite session")
            return kite_basket_margin(kite, orders)
        except Exception as exc:  # any broker/session failure: say it and approximate
            broker_problem = f"Kite basket margins unavailable: {type(exc).__name__}: {exc}"
    approx = approximate_margin(priced, analysis)
    if broker_problem:
        approx["problem"] = broker_problem
    elif account.trading_mode is TradingMode.LIVE:
        approx["note"] = f"{account.broker.value}: no basket-margin API used; approximation shown"
    return approx


def kite_basket_margin(kite: Any, orders: list[Any]) -> dict[str, Any]:
    """Kite ``/margins/basket`` for ``orders`` (PlannedOrders); rupees. Sample answer:
    ../shared/reference/broker-samples/kite/basket_margins.json (``initial``/``final``)."""
    params = [{"exchange": o.exchange, "tradingsymbol": o.broker_tradingsymbol or o.tradingsymbol,
               "transaction_type": o.transaction_type, "variety": "regular", "product": o.product,
               "order_type": o.order_type, "quantity": o.quantity, "price": float(o.price) if o.price else 0,
               "trigger_price": 0} for o in orders]
    data = kite.basket_order_margins(params, consider_positions=True, mode="compact")
    initial, final = data.get("initial") or {}, data.get("final") or {}
    return {"source": "broker", "description": "Kite basket margins (consider_positions=true)",
            "required": _r(final.get("total")), "initial": _r(initial.get("total")),
            "span": _r(final.get("span")), "exposure": _r(final.get("exposure")),
            "option_premium": _r(final.get("option_premium"))}


def _r(value: Any) -> str | None:
    return None if value is None else str(Decimal(str(value)).quantize(Decimal("0.01")))


def approximate_margin(priced: list[Any], analysis: dict[str, Any]) -> dict[str, Any]:
    """The labelled approximation (module docstring); rupees."""
    paid = sum((l.premium * l.quantity for l in priced if l.side is TransactionType.BUY), Decimal(0))
    max_loss = analysis.get("max_loss")
    if max_loss not in (None, "unlimited"):
        base = max(Decimal(max_loss), Decimal(0))
        basis = "max loss of the position (bounded: hedged)"
    else:
        base = sum((SHORT_MARGIN_RATE * Decimal(repr(l.spot)) * l.quantity for l in priced
                    if l.side is TransactionType.SELL), Decimal(0))
        basis = f"{SHORT_MARGIN_RATE * 100}% of the short legs' notional (unbounded loss)"
    required = (base + paid).quantize(Decimal("0.01"))
    return {"source": "approximation", "required": str(required),
            "description": f"APPROXIMATION, not the exchange's SPAN: {basis} + premium paid for long legs"}


__all__ = ["preview", "preview_instant", "margin_estimate", "kite_basket_margin", "approximate_margin", "RESOLVE_LEAD"]
