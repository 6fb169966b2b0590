"""Basket: a trader's container of strategies with a capital budget (seed 002 "Basket Entity")."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from shared_utils.models.common import RecordMeta, RequestModel, UpdateRequest
from shared_utils.models.enums import EntityStatus


class PerformanceMetrics(RequestModel):
    total_return: Decimal = Decimal(0)
    sharpe_ratio: Decimal = Decimal(0)
    max_drawdown: Decimal = Decimal(0)
    win_rate: Decimal = Decimal(0)
    monthly_return: Decimal = Decimal(0)
    volatility: Decimal = Decimal(0)


class BasketCreate(RequestModel):
    """POST /options/baskets. ``initial_capital`` in rupees; ``deployable_percentage`` 0-100."""

    basket_name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    initial_capital: Decimal = Field(gt=0, le=Decimal("1e12"), decimal_places=2)
    deployable_percentage: Decimal = Field(default=Decimal(100), gt=0, le=100, decimal_places=2)
    status: Literal[EntityStatus.ACTIVE, EntityStatus.PAUSED] = EntityStatus.ACTIVE


class BasketUpdate(UpdateRequest):
    """PUT /options/baskets/{basket_id}: any subset of the editable fields (at least one)."""

    basket_name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    initial_capital: Decimal | None = Field(default=None, gt=0, le=Decimal("1e12"), decimal_places=2)
    deployable_percentage: Decimal | None = Field(default=None, gt=0, le=100, decimal_places=2)
    status: EntityStatus | None = None



class Basket(RecordMeta):
    """A stored basket (PK user_id, SK ``BASKET#{basket_id}``)."""

    basket_id: str
    user_id: str
    basket_name: str
    description: str = ""
    initial_capital: Decimal
    deployable_percentage: Decimal
    current_capital: Decimal
    created_by_type: Literal["USER"] = "USER"
    creator_user_id: str
    creator_name: str = ""
    performance_metrics: PerformanceMetrics = Field(default_factory=PerformanceMetrics)
    status: EntityStatus = EntityStatus.ACTIVE
    entity_type: Literal["BASKET"] = "BASKET"
