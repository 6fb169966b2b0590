"""Paper broker: fills against a market data source, keeps a book, trades and positions.

The platform runs in PAPER mode by default. Rules:

- Contract facts come from ``contract_lookup(exchange, tradingsymbol) -> (lot_size, tick_size)``
  (units per lot; rupees). Unknown contract, quantity not a lot multiple, price or trigger off
  the tick -> :class:`OrderRejected` (nothing booked).
- Fill price = LTP moved against us by the slippage (``slippage_bps``, or ``slippage_pct``),
  rounded to the tick AGAINST us (BUY up, SELL down). A LIMIT fill is never worse than the limit.
- MARKET fills at once. LIMIT fills when marketable (BUY limit >= LTP, SELL limit <= LTP), else
  rests OPEN until :meth:`poll` / :meth:`on_tick` finds it marketable. SL / SL-M rest in
  TRIGGER_PENDING until LTP crosses the trigger (BUY: LTP >= trigger; SELL: LTP <= trigger),
  then behave as LIMIT / MARKET.
- Positions per (exchange, tradingsymbol, product): signed units, average price of the open
  quantity, realised P&L (rupees) on closing trades, unrealised marked at LTP.
- Thread-safe (one lock). ``latency_s`` adds a simulated round trip through ``sleep``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Protocol

from shared_utils.brokers.base import BrokerClient, BrokerSession
from shared_utils.brokers.errors import OrderNotFound, OrderRejected
from shared_utils.brokers.models import (
    InstrumentRef,
    ModifyRequest,
    OrderAck,
    OrderReport,
    OrderRequest,
    PositionReport,
    Quote,
)
from shared_utils.brokers.ratelimit import AccountRateLimiter
from shared_utils.clock import IST, UTC
from shared_utils.models.enums import Exchange, OrderStatus, OrderType, Product, TransactionType


class MarketDataSource(Protocol):
    """Anything that knows the last traded price (rupees) of a contract."""

    def ltp(self, exchange: str, tradingsymbol: str) -> Decimal: ...


ContractLookup = Callable[[str, str], tuple[int, Decimal]]


def round_to_tick(price: Decimal, tick: Decimal, rounding: str) -> Decimal:
    """Round ``price`` to a multiple of ``tick`` (ROUND_CEILING / ROUND_FLOOR)."""
    return (price / tick).to_integral_value(rounding=rounding) * tick


@dataclass
class _Position:
    qty: int = 0
    avg: Decimal = Decimal("0")
    realised: Decimal = Decimal("0")


class PaperBroker(BrokerClient):
    """Simulated broker account.

    Args:
        market_data: LTP source (``ltp(exchange, tradingsymbol) -> Decimal`` rupees).
        contract_lookup: ``(exchange, tradingsymbol) -> (lot_size, tick_size)``; raise KeyError
            for an unknown contract.
        slippage_bps: adverse slippage in basis points of LTP (default 0).
        slippage_pct: alternative, in percent (``Decimal("0.1")`` = 10 bps); not both.
        latency_s: simulated round trip per call (e.g. 0.02-0.05 for benchmarks), via ``sleep``.
        now: aware clock for order timestamps (reported in IST).
    """

    broker = "paper"

    def __init__(
        self,
        market_data: MarketDataSource,
        contract_lookup: ContractLookup,
        *,
        slippage_bps: Decimal | int | str = 0,
        slippage_pct: Decimal | str | None = None,
        latency_s: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        rate_limiter: AccountRateLimiter | None = None,
        account_id: str = "PAPER",
    ) -> None:
        super().__init__(rate_limiter=rate_limiter)
        if slippage_pct is not None and Decimal(str(slippage_bps)):
            raise ValueError("give slippage_bps or slippage_pct, not both")
        self._slip = Decimal(str(slippage_pct)) / 100 if slippage_pct is not None else Decimal(str(slippage_bps)) / 10000
        self._md = market_data
        self._lookup = contract_lookup
        self._latency = latency_s
        self._sleep = sleep
        self._now = now
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._orders: dict[str, OrderReport] = {}
        self._requests: dict[str, OrderRequest] = {}
        self.trades: list[dict] = []
        self._positions: dict[tuple[Exchange, str, Product], _Position] = {}
        self.account_id = account_id

    # ---- helpers -------------------------------------------------------------------------
    def _delay(self) -> None:
        if self._latency:
            self._sleep(self._latency)

    def _contract(self, exchange: Exchange, symbol: str) -> tuple[int, Decimal]:
        try:
            lot, tick = self._lookup(exchange.value, symbol)
        except KeyError:
            raise OrderRejected(f"paper: unknown contract {exchange}:{symbol}", broker=self.broker,
                                broker_message="Invalid instrument", code="UNKNOWN_CONTRACT") from None
        return int(lot), Decimal(str(tick))

    def _validate(self, req: OrderRequest) -> None:
        lot, tick = self._contract(req.exchange, req.tradingsymbol)
        if req.quantity % lot:
            raise OrderRejected(f"paper: quantity {req.quantity} is not a multiple of lot size {lot}",
                                broker=self.broker, broker_message="Quantity not a lot multiple", code="LOT")
        for name in ("price", "trigger_price"):
            val = getattr(req, name)
            if val is not None and val % tick:
                raise OrderRejected(f"paper: {name} {val} is not on the tick {tick}",
                                    broker=self.broker, broker_message="Price not a tick multiple", code="TICK")

    def _fill_price(self, req: OrderRequest, ltp: Decimal) -> Decimal:
        _, tick = self._contract(req.exchange, req.tradingsymbol)
        if req.transaction_type is TransactionType.BUY:
            px = round_to_tick(ltp * (1 + self._slip), tick, ROUND_CEILING)
            return min(px, req.price) if req.price is not None and req.order_type in (OrderType.LIMIT, OrderType.SL) else px
        px = round_to_tick(ltp * (1 - self._slip), tick, ROUND_FLOOR)
        return max(px, req.price) if req.price is not None and req.order_type in (OrderType.LIMIT, OrderType.SL) else px

    def _try_fill(self, order_id: str) -> None:
        rep = self._orders[order_id]
        req = self._requests[order_id]
        if rep.is_terminal:
            return
        ltp = Decimal(str(self._md.ltp(req.exchange.value, req.tradingsymbol)))
        buy = req.transaction_type is TransactionType.BUY
        status = rep.status
        if status is OrderStatus.TRIGGER_PENDING:
            if not (ltp >= req.trigger_price if buy else ltp <= req.trigger_price):
                return
            status = OrderStatus.OPEN
        limit = req.price if req.order_type in (OrderType.LIMIT, OrderType.SL) else None
        if limit is not None and not (limit >= ltp if buy else limit <= ltp):
            if status is not rep.status:
                self._orders[order_id] = replace(rep, status=status, updated_at=self._now().astimezone(IST))
            return
        price = self._fill_price(req, ltp)
        now = self._now().astimezone(IST)
        self._orders[order_id] = replace(rep, status=OrderStatus.FILLED, filled_quantity=req.quantity, pending_quantity=0,
                                         average_price=price, updated_at=now)
        self._book_trade(req, price, now, order_id)

    def _book_trade(self, req: OrderRequest, price: Decimal, at: datetime, order_id: str) -> None:
        self.trades.append({"order_id": order_id, "exchange": req.exchange, "tradingsymbol": req.tradingsymbol,
                            "transaction_type": req.transaction_type, "quantity": req.quantity, "price": price, "at": at})
        pos = self._positions.setdefault((req.exchange, req.tradingsymbol, req.product), _Position())
        signed = req.quantity if req.transaction_type is TransactionType.BUY else -req.quantity
        if pos.qty == 0 or (pos.qty > 0) == (signed > 0):
            pos.avg = (pos.avg * abs(pos.qty) + price * abs(signed)) / (abs(pos.qty) + abs(signed))
            pos.qty += signed
            return
        closed = min(abs(pos.qty), abs(signed))
        pos.realised += (price - pos.avg) * closed * (1 if pos.qty > 0 else -1)
        new_qty = pos.qty + signed
        if new_qty == 0:
            pos.avg = Decimal("0")
        elif (new_qty > 0) != (pos.qty > 0):
            pos.avg = price
        pos.qty = new_qty

    # ---- BrokerClient ----------------------------------------------------------------------
    def login(self) -> BrokerSession:
        """No-op session (paper needs no credentials)."""
        return BrokerSession(access_token="paper", user_id=self.account_id, obtained_at=self._now())

    def place_order(self, request: OrderRequest) -> OrderAck:
        """Validate, book, fill what is marketable. Raises OrderRejected (lot/tick/contract)."""
        self.rate_limiter.acquire("orders")
        self._delay()
        with self._lock:
            self._validate(request)
            order_id = f"P{next(self._ids):09d}"
            now = self._now().astimezone(IST)
            status = OrderStatus.TRIGGER_PENDING if request.order_type in (OrderType.SL, OrderType.SL_M) else OrderStatus.OPEN
            self._requests[order_id] = request
            self._orders[order_id] = OrderReport(
                order_id=order_id, tag=request.tag, status=status, quantity=request.quantity, filled_quantity=0,
                pending_quantity=request.quantity, average_price=None, price=request.price,
                trigger_price=request.trigger_price, tradingsymbol=request.tradingsymbol, exchange=request.exchange,
                transaction_type=request.transaction_type, product=request.product, order_type=request.order_type,
                message=None, placed_at=now, updated_at=now,
            )
            self._try_fill(order_id)
            return OrderAck(order_id=order_id, tag=request.tag, broker=self.broker, received_at=self._now())

    def _working(self, order_id: str) -> OrderReport:
        rep = self._orders.get(order_id)
        if rep is None:
            raise OrderNotFound(f"paper: order {order_id} not found", broker=self.broker, code="NOT_FOUND")
        if rep.is_terminal:
            raise OrderRejected(f"paper: order {order_id} is {rep.status}", broker=self.broker,
                                broker_message=f"Order is {rep.status}", code="STATE")
        return rep

    def modify_order(self, request: ModifyRequest) -> OrderAck:
        """Change quantity/price/trigger/type of a working order, then re-check fills."""
        self.rate_limiter.acquire("orders")
        self._delay()
        with self._lock:
            rep = self._working(request.order_id)
            old = self._requests[request.order_id]
            new = replace(old, quantity=request.quantity or old.quantity,
                          price=request.price if request.price is not None else old.price,
                          trigger_price=request.trigger_price if request.trigger_price is not None else old.trigger_price,
                          order_type=request.order_type or old.order_type)
            self._validate(new)
            self._requests[request.order_id] = new
            self._orders[request.order_id] = replace(rep, quantity=new.quantity, pending_quantity=new.quantity,
                                                     price=new.price, trigger_price=new.trigger_price,
                                                     order_type=new.order_type, updated_at=self._now().astimezone(IST))
            self._try_fill(request.order_id)
            return OrderAck(order_id=request.order_id, tag=None, broker=self.broker, received_at=self._now())

    def cancel_order(self, order_id: str) -> OrderAck:
        """Cancel a working order (OrderRejected if already terminal)."""
        self.rate_limiter.acquire("orders")
        self._delay()
        with self._lock:
            rep = self._working(order_id)
            self._orders[order_id] = replace(rep, status=OrderStatus.CANCELLED, pending_quantity=0,
                                             updated_at=self._now().astimezone(IST))
            return OrderAck(order_id=order_id, tag=None, broker=self.broker, received_at=self._now())

    def poll(self) -> list[OrderReport]:
        """Re-check every working order against the market; return the ones that changed."""
        with self._lock:
            changed = []
            for oid, rep in list(self._orders.items()):
                if not rep.is_terminal:
                    self._try_fill(oid)
                    if self._orders[oid] != rep:
                        changed.append(self._orders[oid])
            return changed

    def on_tick(self, exchange: str, tradingsymbol: str) -> list[OrderReport]:
        """A new price for one contract arrived: re-check that contract's working orders."""
        with self._lock:
            changed = []
            for oid, rep in list(self._orders.items()):
                if not rep.is_terminal and rep.exchange == exchange and rep.tradingsymbol == tradingsymbol:
                    self._try_fill(oid)
                    if self._orders[oid] != rep:
                        changed.append(self._orders[oid])
            return changed

    def order_book(self) -> list[OrderReport]:
        """All orders of the session, in placement order."""
        self._delay()
        with self._lock:
            return list(self._orders.values())

    def positions(self) -> list[PositionReport]:
        """Net positions with realised P&L and unrealised P&L at the current LTP (rupees)."""
        self._delay()
        with self._lock:
            out = []
            for (exch, sym, prod), p in self._positions.items():
                ltp = Decimal(str(self._md.ltp(exch.value, sym)))
                out.append(PositionReport(tradingsymbol=sym, exchange=exch, product=prod, quantity=p.qty,
                                          average_price=p.avg, ltp=ltp, realised_pnl=p.realised,
                                          unrealised_pnl=(ltp - p.avg) * p.qty if p.qty else Decimal("0")))
            return out

    def ltp(self, instruments: Sequence[InstrumentRef]) -> dict[str, Decimal]:
        """LTPs straight from the market data source."""
        return {i.key: Decimal(str(self._md.ltp(i.exchange.value, i.tradingsymbol))) for i in instruments}

    def quotes(self, instruments: Sequence[InstrumentRef]) -> dict[str, Quote]:
        """Quotes with bid = ask = LTP (the paper market has no depth)."""
        return {k: Quote(exchange=Exchange(k.split(":")[0]), tradingsymbol=k.split(":", 1)[1], ltp=v, bid=v, ask=v)
                for k, v in self.ltp(instruments).items()}
