"""Execution, order and position records (seed 002 "Execution Entity"; seed 001 "Order History
Table", "Position Tracking Table", folded into the single table).

- One :class:`Execution` per strategy, trade date and type (ENTRY/EXIT), claimed with a
  conditional put so a duplicate event, a re-run state machine or a second emitter is a no-op.
- One :class:`OrderRecord` per order the platform intends to send, written (PENDING) BEFORE the
  broker call, keyed deterministically, and carrying the broker ``tag`` derived from that key.
- One :class:`Position` per strategy, account and contract.

Quantities are units (lots x lot size) unless a field says lots. Prices are Decimal rupees.
Instants are aware datetimes stored as UTC ISO-8601.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from pydantic import BaseModel

from shared_utils.models.common import DomainModel, RecordMeta, RequestModel
from shared_utils.models.enums import (
    ExecutionStatus,
    ExecutionType,
    OrderPurpose,
    OrderStatus,
    OrderType,
    Product,
    TransactionType,
)

class ResolvedLeg(DomainModel):
    """A leg resolved to one contract for one trade date (the same choice for every account)."""

    leg_no: int
    tradingsymbol: str
    exchange: str
    instrument_token: int | None = None
    expiry: str
    strike: Decimal
    option_type: str
    lot_size: int
    tick_size: Decimal
    ltp: Decimal | None = None
    selection: dict[str, Any] = Field(default_factory=dict)


TERMINAL_EXECUTION_STATUSES = frozenset(
    {ExecutionStatus.COMPLETED, ExecutionStatus.PARTIAL, ExecutionStatus.FAILED, ExecutionStatus.SKIPPED,
     ExecutionStatus.CANCELLED}
)


class ExecutionResults(DomainModel):
    successful_orders: int = 0
    failed_orders: int = 0
    unknown_orders: int = 0
    total_premium: Decimal = Decimal(0)
    first_order_lag_ms: float | None = None
    last_order_lag_ms: float | None = None
    execution_time_ms: float | None = None


class Execution(RecordMeta):
    """One run of a strategy's entry or exit on one trade date.

    ``execute_at`` is the target instant (UTC) of the first order; ``reasons`` explains every
    skip or failure in words a trader understands (including what the broker said).
    """

    execution_id: str
    user_id: str
    strategy_id: str
    basket_id: str | None = None
    execution_type: ExecutionType
    trade_date: date
    execution_time: str  # IST HH:MM slot
    execute_at: AwareDatetime
    status: ExecutionStatus = ExecutionStatus.CLAIMED
    trigger: Literal["SCHEDULE", "MANUAL", "STOP_LOSS", "SQUARE_OFF"] = "SCHEDULE"
    claimed_by: str = ""
    claimed_at: AwareDatetime | None = None
    started_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    total_legs: int = 0
    total_lots: int = 0
    brokers_involved: list[str] = Field(default_factory=list)
    resolved_legs: list[ResolvedLeg] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list)
    results: ExecutionResults = Field(default_factory=ExecutionResults)
    expires_at: int | None = None
    entity_type: Literal["EXECUTION"] = "EXECUTION"


class Fill(DomainModel):
    """One trade (fill) of an order: ``quantity`` units at ``price`` rupees."""

    trade_id: str
    quantity: int
    price: Decimal
    filled_at: AwareDatetime


class OrderRecord(RecordMeta):
    """One order the platform intends to place, has placed, or reconciled.

    ``order_key`` = the item's sort key (persistence.keys.order_sk); ``tag`` = keys.order_tag(
    order_key), sent to the broker. ``intent_at`` is written before the call; ``sent_at`` is the
    instant the request left (the timing benchmark's measure); ``acked_at`` when the broker
    answered. ``status`` follows execution.order_state.
    """

    order_key: str
    execution_id: str
    user_id: str
    strategy_id: str
    client_id: str
    broker: str
    leg_no: int
    slice_no: int = 0
    purpose: OrderPurpose = OrderPurpose.ENTRY
    #: 0 = the planned send; 1.. = a retry, completion or exit retry of the same leg and slice
    #: (its own key segment: persistence.keys.order_sk)
    attempt: int = 0
    tag: str
    exchange: str
    tradingsymbol: str
    instrument_token: int | None = None
    broker_tradingsymbol: str | None = None
    broker_token: str | None = None
    transaction_type: TransactionType
    lots: int
    lot_size: int
    quantity: int
    product: Product
    order_type: OrderType
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    ltp_at_decision: Decimal | None = None
    #: the contract's tick (rupees), so PlaceOrders needs no instrument master
    tick_size: Decimal | None = None
    status: OrderStatus = OrderStatus.PENDING
    broker_order_id: str | None = None
    filled_quantity: int = 0
    average_price: Decimal | None = None
    fills: list[Fill] = Field(default_factory=list)
    broker_message: str | None = None
    error_kind: str | None = None
    execute_at: AwareDatetime | None = None
    intent_at: AwareDatetime | None = None
    sent_at: AwareDatetime | None = None
    acked_at: AwareDatetime | None = None
    parent_order_key: str | None = None
    status_history: list[dict[str, Any]] = Field(default_factory=list)
    #: reconciliation findings on this record (execution.duplicate_checker), e.g.
    #: "MISSING_AT_BROKER 2026-08-17T04:05:00+00:00"; empty on a healthy order (added with a
    #: default, so older items load unchanged)
    flags: list[str] = Field(default_factory=list)
    expires_at: int | None = None
    entity_type: Literal["ORDER"] = "ORDER"

    @property
    def lag_ms(self) -> float | None:
        """Milliseconds from ``execute_at`` to ``sent_at`` (negative = sent early: a defect)."""
        if self.execute_at is None or self.sent_at is None:
            return None
        return (self.sent_at - self.execute_at).total_seconds() * 1000


class Position(RecordMeta):
    """Net position of one strategy in one account in one contract.

    ``quantity`` is signed units (short < 0). ``average_price`` is the average open price of the
    current net quantity; ``realised_pnl`` rupees booked by closing trades; MTM =
    realised + (ltp - average_price) x quantity.
    """

    user_id: str
    strategy_id: str
    client_id: str
    tradingsymbol: str
    exchange: str
    leg_no: int
    product: Product
    lot_size: int
    quantity: int = 0
    average_price: Decimal = Decimal(0)
    realised_pnl: Decimal = Decimal(0)
    ltp: Decimal | None = None
    buy_quantity: int = 0
    sell_quantity: int = 0
    buy_value: Decimal = Decimal(0)
    sell_value: Decimal = Decimal(0)
    entry_execution_id: str | None = None
    stop_loss_order_key: str | None = None
    status: Literal["OPEN", "CLOSED"] = "OPEN"
    entity_type: Literal["POSITION"] = "POSITION"

    @property
    def unrealised_pnl(self) -> Decimal:
        if self.ltp is None or self.quantity == 0:
            return Decimal(0)
        return (self.ltp - self.average_price) * self.quantity

    @property
    def mtm(self) -> Decimal:
        return self.realised_pnl + self.unrealised_pnl

    def apply_fill(self, side: TransactionType, quantity: int, price: Decimal, at: datetime | None = None) -> None:
        """Book a fill: ``quantity`` units at ``price`` rupees; closing trades realise P&L."""
        signed = quantity if side is TransactionType.BUY else -quantity
        if side is TransactionType.BUY:
            self.buy_quantity += quantity
            self.buy_value += price * quantity
        else:
            self.sell_quantity += quantity
            self.sell_value += price * quantity
        current = self.quantity
        if current == 0 or (current > 0) == (signed > 0):
            total = abs(current) + quantity
            self.average_price = (self.average_price * abs(current) + price * quantity) / total
            self.quantity = current + signed
        else:
            closing = min(abs(current), quantity)
            direction = 1 if current > 0 else -1
            self.realised_pnl += (price - self.average_price) * closing * direction
            remainder = quantity - closing
            self.quantity = current + signed
            if self.quantity == 0:
                self.average_price = Decimal(0)
            elif remainder:
                self.average_price = price
        self.status = "OPEN" if self.quantity else "CLOSED"
        if at is not None:
            self.updated_at = at


class TradeDay(DomainModel):
    """Helper shape for the schedule view: one strategy due on one date."""

    strategy_id: str
    strategy_name: str
    execution_type: ExecutionType
    time: str
    trade_date: date
    due: bool
    reasons: list[str] = Field(default_factory=list)


class KillSwitchUpdate(RequestModel):
    """PUT body of a kill switch: ``on`` stops new entries (exits still run); ``reason`` is
    shown on every entry it stops."""

    on: bool
    reason: str = Field(default="", max_length=500)


class KillSwitchState(BaseModel):
    """One kill switch as stored: scope GLOBAL (ADMIN users), USER or ACCOUNT (the trader);
    who set it (``set_by``, the caller's Cognito username or sub) and when (UTC)."""

    scope: Literal["GLOBAL", "USER", "ACCOUNT"]
    on: bool = False
    reason: str = ""
    client_id: str | None = None
    set_by: str | None = None
    updated_at: str | None = None


class KillSwitchView(BaseModel):
    """GET /options/kill-switch: every switch that applies to the caller's entries."""

    global_switch: KillSwitchState
    user: KillSwitchState
    accounts: list[KillSwitchState] = Field(default_factory=list)
    stops_entries: bool


class WorkItem(DomainModel):
    """One Map branch of the state machine (contract C1): a REFERENCE to one account's intents
    of one execution plus a few scalar settings; the orders themselves are in the table.

    Built by Resolve (``model_dump(mode="json")`` into the state), read by PlaceOrders
    (``model_validate``). Times in ms; ``execute_at`` aware (UTC on the wire);
    ``max_margin_utilization`` percent.
    """

    execution_id: str
    user_id: str
    strategy_id: str
    client_id: str
    execution_type: ExecutionType
    execute_at: AwareDatetime
    execution_delay_ms: int = Field(default=0, ge=0)
    max_entry_delay_ms: int | None = Field(default=None, ge=0)
    hedge_fill_timeout_ms: int | None = Field(default=None, ge=0)
    max_margin_utilization: Decimal | None = None
