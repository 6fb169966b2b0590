"""Response shapes of the REST API (the OpenAPI document is generated from them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from shared_utils.models.allocation import Allocation
from shared_utils.models.basket import Basket
from shared_utils.models.leg import Leg
from shared_utils.models.strategy import Strategy


class Message(BaseModel):
    message: str


class ErrorDetail(BaseModel):
    loc: list[str | int]
    msg: str
    type: str | None = None


class ErrorBody(BaseModel):
    """Every 4xx answer: ``detail`` lists (field, reason) on 422; ``reasons`` explain a 409."""

    statusCode: int
    message: str
    detail: list[ErrorDetail] | None = None
    reasons: list[str] | None = None


class BasketList(BaseModel):
    items: list[Basket]
    next_token: str | None = None


class BasketDetail(BaseModel):
    basket: Basket
    strategies: list[Strategy]


class StrategyList(BaseModel):
    items: list[Strategy]


class StrategyDetail(BaseModel):
    strategy: Strategy
    legs: list[Leg]
    allocations: list[Allocation]
    executable: bool
    executability_problems: list[str] = Field(default_factory=list)
    #: things that do not stop the strategy but a trader should know (e.g. exit after expiry)
    warnings: list[str] = Field(default_factory=list)


class LegList(BaseModel):
    items: list[Leg]


class AllocationList(BaseModel):
    items: list[Allocation]


class SummaryLeg(BaseModel):
    leg_no: int
    transaction_type: str
    option_type: str
    lots: int
    quantity: int | None
    lot_size: int | None
    expiry: str | None
    lot_size_source: str


class SummaryAccount(BaseModel):
    client_id: str
    priority: int
    status: str
    allocation_type: str
    total_lots: int
    total_quantity: int
    legs: list[SummaryLeg]


class SummaryLegTotal(BaseModel):
    leg_no: int
    lots: int
    quantity: int
    lot_size: int | None
    expiry: str | None
    lot_size_source: str


class AllocationSummary(BaseModel):
    strategy_id: str
    underlying: str
    trade_date: str
    accounts: list[SummaryAccount]
    legs: list[SummaryLegTotal]
    total_lots: int
    total_quantity: int


class ScheduleRow(BaseModel):
    strategy_id: str
    strategy_name: str
    basket_id: str | None = None
    execution_type: str
    time_ist: str
    date: str
    execute_at: str
    due: bool
    reasons: list[str]


class ScheduleView(BaseModel):
    date: str
    trading_day: bool
    items: list[ScheduleRow]


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


class ExecutionList(BaseModel):
    items: list["Execution"]


class ExecutionDetail(BaseModel):
    execution: "Execution"
    orders: list["OrderRecord"]


class PositionView(BaseModel):
    """A position with its P&L in rupees: MTM = realised + (ltp - average) x quantity."""

    strategy_id: str
    client_id: str
    tradingsymbol: str
    exchange: str
    leg_no: int
    product: str
    quantity: int
    average_price: str
    ltp: str | None
    realised_pnl: str
    unrealised_pnl: str
    mtm: str
    status: str
    position_id: str | None = Field(None, description="{strategy_id}~{client_id}~{tradingsymbol}: "
                                                      "POST /options/positions/{position_id}/close takes it")


class PositionList(BaseModel):
    items: list[PositionView]
    total_mtm: str


class ManualRequest(BaseModel):
    """POST /options/executions/manual (seed 002): run a strategy's entry or exit now."""

    model_config = {"extra": "forbid"}

    strategy_id: str = Field(min_length=1, max_length=64)
    execution_type: Literal["entry", "exit", "ENTRY", "EXIT"]
    force: bool = False

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: object, info) -> object:
        """``force`` only as a JSON boolean (``shared_utils.models.strict``)."""
        from shared_utils.models.strict import check_strict_scalar

        return check_strict_scalar(cls, info.field_name, value) if info.field_name else value


class ManualResponse(BaseModel):
    execution_id: str
    execute_at: str
    trade_date: str
    execution_type: str
    status: str


from shared_utils.models.execution import Execution, OrderRecord  # noqa: E402

ExecutionList.model_rebuild()
ExecutionDetail.model_rebuild()
