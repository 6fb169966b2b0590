"""Allocation: how many lots of a strategy run in one broker account (seed 002 "Allocation
Entity", the "leg-level broker allocation" feature).

Lots per leg for one account (``lots_for_leg``), exactly as seed 002 specifies:

- ``LEG_LEVEL``: ``leg_overrides[str(leg_no)].lots`` when the override exists and is enabled; a
  disabled override skips the leg in that account; a leg without an override is not traded in
  that account (leg-level means the trader named every leg they want there).
- ``STRATEGY_LEVEL``: the leg's base ``lots`` x ``strategy_lots_multiplier``.

Quantity sent to the broker = lots x the CONTRACT's lot size from the instrument master of the
trade date (NIFTY 65 on 2026-08-18, not the seed's 25).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from shared_utils.models.common import DomainModel, RecordMeta, RequestModel, UpdateRequest, no_repeats
from shared_utils.models.enums import AllocationType, EntityStatus


class LegOverride(RequestModel):
    lots: int = Field(ge=1, le=10000)
    enabled: bool = True
    notes: str | None = Field(default=None, max_length=500)


class RiskLimits(RequestModel):
    """Per strategy per account, checked before orders are sent. Rupees except trades (count)
    and margin (percent)."""

    max_daily_trades: int | None = Field(default=None, ge=1)
    max_daily_loss: Decimal | None = Field(default=None, gt=0)
    max_position_value: Decimal | None = Field(default=None, gt=0)
    max_margin_utilization: Decimal | None = Field(default=None, gt=0, le=100)


class ExecutionConfig(RequestModel):
    execution_delay_ms: int = Field(default=0, ge=0, le=5000)
    prefer_for_entries: bool = True
    prefer_for_exits: bool = True
    enable_auto_rebalance: bool = False


class AllocationConfig(RequestModel):
    type: AllocationType
    leg_overrides: dict[str, LegOverride] | None = None
    strategy_lots_multiplier: int | None = Field(default=None, ge=1, le=1000)

    @field_validator("leg_overrides")
    @classmethod
    def _leg_keys(cls, value: dict[str, LegOverride] | None) -> dict[str, LegOverride] | None:
        if value is None:
            return None
        normalised: dict[str, LegOverride] = {}
        for key, override in value.items():
            if not str(key).strip().isdigit() or not 1 <= int(key) <= 99:
                raise ValueError(f"leg_overrides: key {key!r} is not a leg number 1-99")
            normalised[str(int(key))] = override
        return normalised

    @model_validator(mode="after")
    def _shape(self) -> "AllocationConfig":
        if self.type is AllocationType.LEG_LEVEL:
            if not self.leg_overrides:
                raise ValueError("leg_overrides: required for a LEG_LEVEL allocation")
            if self.strategy_lots_multiplier is not None:
                raise ValueError("strategy_lots_multiplier: only for STRATEGY_LEVEL allocations")
        else:
            if self.leg_overrides:
                raise ValueError("leg_overrides: only for LEG_LEVEL allocations")
            if self.strategy_lots_multiplier is None:
                self.strategy_lots_multiplier = 1
        return self


class AllocationSpec(RequestModel):
    """One account's allocation: an element of POST .../allocations/advanced ``allocations``, or
    the body of POST .../allocations (where the seed sends ``strategy_lots_multiplier`` at the
    top level: accepted and folded into a STRATEGY_LEVEL ``allocation_config``)."""

    client_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    priority: int = Field(default=1, ge=1, le=999)
    allocation_config: AllocationConfig
    risk_limits: RiskLimits = Field(default_factory=RiskLimits)
    execution_config: ExecutionConfig = Field(default_factory=ExecutionConfig)
    status: Literal[EntityStatus.ACTIVE, EntityStatus.PAUSED] = EntityStatus.ACTIVE

    @model_validator(mode="before")
    @classmethod
    def _top_level_forms(cls, data: Any) -> Any:
        if isinstance(data, dict) and "allocation_config" not in data:
            data = dict(data)
            if "leg_overrides" in data:
                data["allocation_config"] = {"type": "LEG_LEVEL", "leg_overrides": data.pop("leg_overrides")}
            else:
                data["allocation_config"] = {
                    "type": "STRATEGY_LEVEL",
                    "strategy_lots_multiplier": data.pop("strategy_lots_multiplier", 1),
                }
        return data


class AdvancedAllocationRequest(RequestModel):
    """POST .../allocations/advanced: the seed's ``{"allocations": [...]}`` (a single allocation
    object is accepted too)."""

    allocations: list[AllocationSpec] = Field(min_length=1, max_length=50)

    @model_validator(mode="before")
    @classmethod
    def _single(cls, data: Any) -> Any:
        if isinstance(data, dict) and "allocations" not in data and "client_id" in data:
            return {"allocations": [data]}
        return data

    @field_validator("allocations")
    @classmethod
    def _unique_accounts(cls, allocations: list[AllocationSpec]) -> list[AllocationSpec]:
        return no_repeats(allocations, "client_id")


class AllocationUpdate(UpdateRequest):
    """PUT .../allocations/{client_id}: any of priority, allocation_config, risk_limits,
    execution_config, status."""

    priority: int | None = Field(default=None, ge=1, le=999)
    allocation_config: AllocationConfig | None = None
    risk_limits: RiskLimits | None = None
    execution_config: ExecutionConfig | None = None
    status: Literal[EntityStatus.ACTIVE, EntityStatus.PAUSED] | None = None
    strategy_lots_multiplier: int | None = Field(default=None, ge=1, le=1000)
    leg_overrides: dict[str, LegOverride] | None = None



class CalculatedTotals(DomainModel):
    total_lots_per_execution: int = 0
    legs_enabled: int = 0


class Allocation(RecordMeta):
    """A stored allocation (PK user_id, SK ``ALLOCATION#{strategy_id}#{client_id}``; GSI1 by
    strategy and priority)."""

    user_id: str
    strategy_id: str
    client_id: str
    priority: int = 1
    allocation_config: AllocationConfig
    risk_limits: RiskLimits = Field(default_factory=RiskLimits)
    execution_config: ExecutionConfig = Field(default_factory=ExecutionConfig)
    calculated_totals: CalculatedTotals = Field(default_factory=CalculatedTotals)
    status: EntityStatus = EntityStatus.ACTIVE
    last_used: str | None = None
    entity_type: Literal["ALLOCATION"] = "ALLOCATION"

    def lots_for_leg(self, leg_no: int, base_lots: int, leg_enabled: bool = True) -> int:
        """Lots of leg ``leg_no`` in this account (0 = not traded here). See module docstring."""
        if not leg_enabled or self.status is not EntityStatus.ACTIVE:
            return 0
        config = self.allocation_config
        if config.type is AllocationType.LEG_LEVEL:
            override = (config.leg_overrides or {}).get(str(leg_no))
            if override is None or not override.enabled:
                return 0
            return override.lots
        return base_lots * int(config.strategy_lots_multiplier or 1)

    def totals(self, legs: list[tuple[int, int, bool]]) -> CalculatedTotals:
        """Totals over ``legs`` given as (leg_no, base lots, enabled)."""
        per_leg = [self.lots_for_leg(no, lots, enabled) for no, lots, enabled in legs]
        return CalculatedTotals(
            total_lots_per_execution=sum(per_leg), legs_enabled=sum(1 for lots in per_leg if lots)
        )
