"""Resolve: from a strategy's legs and allocations to the exact orders of each broker account.

For one execution:

1. Each enabled leg resolves to ONE contract for every account (expiry by expiry_type/offset on
   the trade date from the instrument master; strike by the leg's rule on the live chain).
2. Lots per account from the allocation (LEG_LEVEL overrides or STRATEGY_LEVEL multiplier);
   quantity = lots x the contract's lot size (from the master, never a table).
3. Quantities above the exchange freeze limit are sliced into lot multiples.
4. LIMIT prices = LTP +/- the leg's slippage percent, rounded to the tick in the direction
   that keeps the order marketable (BUY up, SELL down), never below one tick.
5. Order sequence in an account: BUY orders before SELL orders (entry: hedges before shorts;
   exit: shorts bought back before longs are sold), the margin-safe order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared_utils.execution.context import EngineContext
from shared_utils.execution.placer import limit_price  # noqa: F401 - shared with the price refresh
from shared_utils.market.errors import BrokerSymbolError, MarketError
from shared_utils.market.expiry import resolve_expiry
from shared_utils.market.freeze import freeze_quantity, slice_quantity
from shared_utils.market.instruments import Contract
from shared_utils.market.strikes import choose_strike
from shared_utils.models.allocation import Allocation
from shared_utils.models.enums import OrderPurpose, OrderType, Product, TransactionType
from shared_utils.models.execution import Position
from shared_utils.models.leg import Leg, ResolvedLeg


#: brokers that refuse an order without their own instrument token (Angel's ``symboltoken``)
BROKERS_NEEDING_TOKEN = frozenset({"angel"})


class ResolutionError(ValueError):
    """A leg could not be resolved to a contract (the message says which leg and why)."""


def resolve_legs(ctx: EngineContext, underlying: str, legs: list[Leg], trade_date: date, now: datetime) -> dict[int, tuple[ResolvedLeg, Contract]]:
    """Each enabled leg -> (ResolvedLeg, Contract), one choice shared by every account.

    Raises:
        ResolutionError: naming the leg and the market reason.
    """
    resolved: dict[int, tuple[ResolvedLeg, Contract]] = {}
    chains: dict[date, Any] = {}
    for leg in sorted(legs, key=lambda l: l.leg_no):
        if not leg.enabled:
            continue
        try:
            expiry = resolve_expiry(ctx.master, leg.underlying, leg.expiry_type, leg.expiry_offset, trade_date, ctx.calendar)
            if expiry not in chains:
                chains[expiry] = ctx.market.chain(leg.underlying, expiry, now)
            chain = chains[expiry]
            option_type = leg.leg_type.option_type
            choice = choose_strike(chain, option_type, leg.strike_selection_config, now)
            contract = ctx.master.contract(leg.underlying, expiry, choice.strike, option_type)
            quote = chain.quote(choice.strike, option_type)
        except MarketError as exc:
            raise ResolutionError(f"leg {leg.leg_no}: {exc}") from exc
        resolved[leg.leg_no] = (
            ResolvedLeg(leg_no=leg.leg_no, tradingsymbol=contract.tradingsymbol, exchange=contract.exchange.value,
                        instrument_token=contract.instrument_token, expiry=expiry.isoformat(), strike=contract.strike,
                        option_type=option_type.value, lot_size=contract.lot_size, tick_size=contract.tick_size,
                        ltp=quote.ltp, selection={"method": choice.method.value, **_jsonable(choice.detail)}),
            contract,
        )
    return resolved


def _jsonable(detail: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in detail.items():
        if isinstance(value, (Decimal, float)):
            out[key] = str(value)
        elif isinstance(value, (str, int, bool)) or value is None:
            out[key] = value
        else:
            out[key] = str(value)
    return out


@dataclass
class PlannedOrder:
    """One order to send. Quantity in units; prices in rupees (strings in JSON state)."""

    leg_no: int
    slice_no: int
    purpose: str
    tradingsymbol: str
    exchange: str
    instrument_token: int | None
    transaction_type: str
    lots: int
    lot_size: int
    quantity: int
    product: str
    order_type: str
    price: str | None
    trigger_price: str | None
    ltp: str | None
    tick_size: str
    #: the receiving broker's own symbol and token (Angel/Noren differ from Kite's)
    broker_tradingsymbol: str | None = None
    broker_token: str | None = None
    #: why this order cannot be sent (e.g. no symbol mapping); the placer records it, never sends
    problem: str | None = None
    #: 0 = the planned send; 1.. = a retry/completion/exit retry of the same leg and slice (its
    #: own order-key segment, persistence.keys.order_sk: never an offset on ``slice_no``)
    attempt: int = 0

    def to_state(self) -> dict[str, Any]:
        return asdict(self)


def map_to_broker(ctx: EngineContext, orders: list[PlannedOrder], broker: str) -> list[PlannedOrder]:
    """Fill each order's broker symbol and token for ``broker`` ("paper" speaks Kite's symbols).
    An unmappable contract marks the order with ``problem`` instead of guessing."""
    from shared_utils.market.instruments import broker_symbol

    for order in orders:
        try:
            contract = ctx.master.by_symbol(order.exchange, order.tradingsymbol)
            found = broker_symbol(contract, broker, ctx.symbol_masters.get(broker))
            if found.token is None and broker in BROKERS_NEEDING_TOKEN:
                raise BrokerSymbolError(f"{broker}: no broker token for {found.symbol} (the broker's instrument master "
                                        "is not loaded); its orders need one")
            order.broker_tradingsymbol, order.broker_token = found.symbol, found.token
        except MarketError as exc:
            order.problem = f"cannot map {order.tradingsymbol} to a {broker} symbol: {exc}"
    return orders


def _side_order(orders: list[PlannedOrder]) -> list[PlannedOrder]:
    """BUY before SELL; within a side, by leg then slice (stable)."""
    return sorted(orders, key=lambda o: (0 if o.transaction_type == "BUY" else 1, o.leg_no, o.slice_no))


def plan_entry_orders(ctx: EngineContext, legs: list[Leg], allocation: Allocation,
                      resolved: dict[int, tuple[ResolvedLeg, Contract]], product: Product, trade_date: date) -> list[PlannedOrder]:
    """The entry orders of one account, in sending order."""
    orders: list[PlannedOrder] = []
    for leg in legs:
        if leg.leg_no not in resolved:
            continue
        lots = allocation.lots_for_leg(leg.leg_no, leg.lots, leg.enabled)
        if lots <= 0:
            continue
        info, contract = resolved[leg.leg_no]
        quantity = lots * contract.lot_size
        freeze = freeze_quantity(contract.underlying, trade_date)
        side = leg.transaction_type
        price = None
        if leg.order_type is OrderType.LIMIT:
            price = str(limit_price(info.ltp, side, leg.entry_slippage, contract.tick_size))
        for slice_no, qty in enumerate(slice_quantity(quantity, contract.lot_size, freeze)):
            orders.append(PlannedOrder(
                leg_no=leg.leg_no, slice_no=slice_no, purpose=OrderPurpose.ENTRY.value,
                tradingsymbol=contract.tradingsymbol, exchange=contract.exchange.value,
                instrument_token=contract.instrument_token, transaction_type=side.value, lots=qty // contract.lot_size,
                lot_size=contract.lot_size, quantity=qty, product=product.value, order_type=leg.order_type.value,
                price=price, trigger_price=None, ltp=str(info.ltp), tick_size=str(contract.tick_size)))
    return _side_order(orders)


def plan_exit_orders(ctx: EngineContext, legs: dict[int, Leg], positions: list[Position], trade_date: date,
                     now: datetime) -> list[PlannedOrder]:
    """Orders that close every open position of one account (shorts bought back first)."""
    orders: list[PlannedOrder] = []
    for position in positions:
        if position.quantity == 0:
            continue
        contract = ctx.master.by_symbol(position.exchange, position.tradingsymbol)
        side = TransactionType.BUY if position.quantity < 0 else TransactionType.SELL
        leg = legs.get(position.leg_no)
        order_type = leg.order_type if leg is not None else OrderType.LIMIT
        slippage = leg.exit_slippage if leg is not None else Decimal(5)
        ltp = ctx.market.quote(contract, now).ltp
        price = str(limit_price(ltp, side, slippage, contract.tick_size)) if order_type is OrderType.LIMIT else None
        freeze = freeze_quantity(contract.underlying, trade_date)
        for slice_no, qty in enumerate(slice_quantity(abs(position.quantity), contract.lot_size, freeze)):
            orders.append(PlannedOrder(
                leg_no=position.leg_no, slice_no=slice_no, purpose=OrderPurpose.EXIT.value,
                tradingsymbol=contract.tradingsymbol, exchange=contract.exchange.value,
                instrument_token=contract.instrument_token, transaction_type=side.value, lots=qty // contract.lot_size,
                lot_size=contract.lot_size, quantity=qty, product=position.product.value, order_type=order_type.value,
                price=price, trigger_price=None, ltp=str(ltp), tick_size=str(contract.tick_size)))
    return _side_order(orders)
