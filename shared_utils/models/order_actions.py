"""Request and response bodies of the order, execution and position actions (issue 18):
POST /options/orders/{order_id}/cancel, POST /options/orders/{order_id}/modify,
POST /options/executions/{execution_id}/cancel, POST /options/positions/{position_id}/close,
GET /options/positions/live. Money is a decimal string of rupees, quantities are units,
instants are UTC ISO-8601 with milliseconds (``...Z``). The service is
:mod:`shared_utils.services.order_actions`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from shared_utils.models.common import RequestModel


class ModifyOrderRequest(RequestModel):
    """What to change on a working order (at least one field; omitted fields keep their value).

    ``price``: the new limit price (LIMIT and SL orders), rupees on the contract's tick;
    ``trigger_price``: the new trigger (SL and SL-M orders), rupees on the tick; ``quantity``:
    the new TOTAL quantity in units (a multiple of the lot size, above what already filled).
    Kite's modify takes exactly these (``../shared/reference/broker-samples/kite/place_order_params.json``
    ``modify_order``); the symbol, side and product of an order cannot change.
    """

    price: Decimal | None = Field(None, gt=0, le=Decimal("1000000"), max_digits=12, decimal_places=2,
                                  description="new limit price, rupees")
    trigger_price: Decimal | None = Field(None, gt=0, le=Decimal("1000000"), max_digits=12, decimal_places=2,
                                          description="new trigger price, rupees")
    quantity: int | None = Field(None, gt=0, le=1_000_000, description="new total quantity, units")

    @model_validator(mode="after")
    def _something(self) -> "ModifyOrderRequest":
        if self.price is None and self.trigger_price is None and self.quantity is None:
            raise ValueError("nothing to change: give price, trigger_price and/or quantity")
        return self


class OrderActionResult(BaseModel):
    """The order after the broker answered a cancel or a modify."""

    order_id: str = Field(description="public id of the order (the platform's broker tag)")
    action: Literal["CANCEL", "MODIFY"]
    status: str = Field(description="the order's status after the action (OrderStatus)")
    purpose: str = Field(description="ENTRY, EXIT, STOP_LOSS or TARGET")
    client_id: str
    tradingsymbol: str
    transaction_type: str
    order_type: str
    quantity: int
    filled_quantity: int
    price: str | None
    trigger_price: str | None
    average_price: str | None
    broker_order_id: str | None
    broker_message: str | None
    audit_id: str = Field(description="id of the audit item recording who, when, what and the broker's answer")
    at: str = Field(description="UTC instant of the answer")
    warnings: list[str] = Field(default_factory=list)


class ExecutionCancelResult(BaseModel):
    """A pending execution stopped before anything was sent."""

    execution_id: str
    status: Literal["CANCELLED"]
    previous_status: str = Field(description="SCHEDULED (not claimed yet), CLAIMED or IN_PROGRESS (orders planned, "
                                             "none sent)")
    orders_not_sent: int = Field(description="planned orders now NOT_SENT")
    accounts: list[str] = Field(description="accounts whose sends were stopped")
    audit_id: str
    message: str


class ClosingOrder(BaseModel):
    order_id: str
    transaction_type: str
    quantity: int
    price: str | None
    average_price: str | None
    status: str
    message: str | None


class PositionCloseResult(BaseModel):
    """What a manual close did: stops cancelled first, the closing orders and their states."""

    position_id: str
    strategy_id: str
    client_id: str
    tradingsymbol: str
    quantity_before: int = Field(description="signed units held when the closing order was planned")
    quantity_after: int = Field(description="signed units held after the closing orders' fills known so far")
    cancelled_orders: list[str] = Field(description="order ids cancelled first (the leg's stop, working orders)")
    orders: list[ClosingOrder]
    reasons: list[str]
    audit_id: str


class StopAtBroker(BaseModel):
    order_id: str
    broker_order_id: str | None
    status: str
    transaction_type: str
    order_type: str
    quantity: int
    trigger_price: str | None
    price: str | None
    source: Literal["broker", "records"] = Field(description="broker: read from the account's order book now")


class LivePosition(BaseModel):
    position_id: str = Field(description="{strategy_id}~{client_id}~{tradingsymbol}; POST .../close takes it")
    strategy_id: str
    client_id: str
    tradingsymbol: str
    exchange: str
    leg_no: int
    product: str
    quantity: int = Field(description="signed units (short < 0)")
    average_price: str
    ltp: str | None
    ltp_source: Literal["market", "records"]
    unrealised_pnl: str
    realised_pnl: str
    mtm: str = Field(description="realised + (ltp - average_price) x quantity, rupees")
    stop: StopAtBroker | None


class LivePositions(BaseModel):
    items: list[LivePosition]
    total_mtm: str
    as_of: str
    warnings: list[str]
