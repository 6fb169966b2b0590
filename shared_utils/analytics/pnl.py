"""Gross and net P&L per order, day, account and strategy (rupees, Decimal).

Gross (realised) P&L: the executed orders' fills are replayed in fill-time order per (strategy,
account, contract) with the same average-cost rule as :class:`~shared_utils.models.execution.
Position` (``apply_fill``): a closing fill realises ``(price - average) x closed quantity x
direction``; the P&L belongs to the IST trade date of the order whose fill closed it.
Fills carried in from before a report's first day are replayed too: the ledger reads orders
from ``LOOKBACK_DAYS`` before the first day (options carried longer than that are counted from
the first fill seen; documented limitation).

Charges: per executed order (an order with ``filled_quantity > 0``), from
:mod:`shared_utils.analytics.charges` with the order's broker (paper orders as configured) on
its premium turnover (sum of fill quantity x price). An account's day is one contract note per
exchange: components summed exactly, rounded once (paisa; STT to the rupee). A strategy's
charges are its orders' exact charges summed and rounded half-up to the paisa (a share of the
account's notes; the two can differ by the notes' rounding).

Net = gross - charges.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Iterable

from shared_utils.analytics.charges import COMPONENTS, ChargesCalculator, ContractNote, OrderCharges, round_half_up
from shared_utils.analytics.history import trade_date_of
from shared_utils.models.enums import TransactionType
from shared_utils.models.execution import Fill, OrderRecord

LOOKBACK_DAYS = 31
ZERO = Decimal(0)


def fills_of(order: OrderRecord) -> list[Fill]:
    """The order's fills as stored; an order reported filled without fill rows (a broker that
    gives only the average) counts as one fill of ``filled_quantity`` at ``average_price``."""
    if order.fills:
        return list(order.fills)
    if order.filled_quantity > 0 and order.average_price is not None:
        at = order.acked_at or order.sent_at or order.updated_at
        return [Fill(trade_id=f"{order.tag}-avg", quantity=order.filled_quantity, price=order.average_price, filled_at=at)]
    return []


@dataclass
class OrderLine:
    """One order with its trade date, premium turnover, exact charges and realised gross."""

    order: OrderRecord
    trade_date: date
    turnover: Decimal = ZERO
    charges: OrderCharges | None = None
    realised: Decimal = ZERO

    @property
    def executed(self) -> bool:
        return self.charges is not None


@dataclass
class Bucket:
    """Totals of a group of order lines (one day, account, strategy...)."""

    orders: int = 0
    executed_orders: int = 0
    turnover: Decimal = ZERO
    gross: Decimal = ZERO
    exact_charges: dict[str, Decimal] = field(default_factory=lambda: {c: ZERO for c in COMPONENTS})
    warnings: list[str] = field(default_factory=list)

    def add(self, line: OrderLine) -> None:
        self.orders += 1
        self.gross += line.realised
        if line.charges is not None:
            self.executed_orders += 1
            self.turnover += line.turnover
            for c in COMPONENTS:
                self.exact_charges[c] += getattr(line.charges, c)
            self.warnings += [w for w in line.charges.warnings if w not in self.warnings]

    def charges(self) -> dict[str, Decimal]:
        """Exact components summed, each rounded half-up to the paisa, plus ``total``."""
        out = {c: round_half_up(v) for c, v in self.exact_charges.items()}
        out["total"] = sum(out.values(), ZERO)
        return out


class Ledger:
    """Order lines of a set of orders (see module doc). ``orders``: every order that may
    matter, including the lookback; ``calculator``: the charges rates."""

    def __init__(self, orders: Iterable[OrderRecord], calculator: ChargesCalculator) -> None:
        self.calculator = calculator
        self.lines: list[OrderLine] = []
        by_key: dict[str, OrderLine] = {}
        events: list[tuple] = []
        for order in orders:
            line = OrderLine(order=order, trade_date=trade_date_of(order))
            fills = fills_of(order)
            if fills and order.filled_quantity > 0:
                line.turnover = sum((Decimal(f.quantity) * f.price for f in fills), ZERO)
                line.charges = calculator.order_charges(
                    broker=order.broker, exchange=order.exchange, side=order.transaction_type.value,
                    turnover=line.turnover, trade_date=line.trade_date, tradingsymbol=order.tradingsymbol)
                for f in fills:
                    events.append((f.filled_at, order.order_key, f.trade_id, order, f))
            by_key[order.order_key] = line
            self.lines.append(line)
        # replay: average cost per (strategy, account, contract), as Position.apply_fill
        book: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])  # qty, avg
        for _, key, _, order, f in sorted(events, key=lambda e: (e[0], e[1], e[2])):
            state = book[(order.strategy_id, order.client_id, order.tradingsymbol)]
            qty, avg = state
            signed = f.quantity if order.transaction_type is TransactionType.BUY else -f.quantity
            if qty == 0 or (qty > 0) == (signed > 0):
                total = abs(qty) + f.quantity
                state[1] = (avg * abs(qty) + f.price * f.quantity) / total
                state[0] = qty + signed
            else:
                closing = min(abs(qty), f.quantity)
                direction = 1 if qty > 0 else -1
                by_key[key].realised += (f.price - avg) * closing * direction
                state[0] = qty + signed
                if state[0] == 0:
                    state[1] = ZERO
                elif f.quantity > closing:
                    state[1] = f.price

    def in_range(self, start: date, end: date) -> list[OrderLine]:
        return [line for line in self.lines if start <= line.trade_date <= end]

    def bucket(self, lines: Iterable[OrderLine]) -> Bucket:
        b = Bucket()
        for line in lines:
            b.add(line)
        return b

    def account_day(self, lines: Iterable[OrderLine]) -> tuple[Bucket, dict[str, Decimal]]:
        """One account's day: totals and its contract-note charges (one note per exchange,
        each rounded once), summed over the exchanges."""
        lines = list(lines)
        notes: dict[str, ContractNote] = defaultdict(self.calculator.contract_note)
        for line in lines:
            if line.charges is not None:
                notes[line.charges.exchange].add(line.charges)
        charges = {c: ZERO for c in COMPONENTS} | {"total": ZERO}
        for note in notes.values():
            for k, v in note.rounded.items():
                charges[k] += v
        return self.bucket(lines), charges


def lookback_start(start: date) -> date:
    return start - timedelta(days=LOOKBACK_DAYS)


def money(value: Decimal) -> str:
    """Rupees as a string, half-up to the paisa (never "-0.00")."""
    rounded = round_half_up(value)
    return str(rounded if rounded != 0 else abs(rounded))
