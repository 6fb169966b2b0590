"""Strategy and its execution schedule (seed 002 "Strategy Entity"; seed 001 DayConfig, DTE).

Time rules enforced here (IST, ``Asia/Kolkata``):

- ``entry_time`` and ``exit_time`` lie inside the normal session: 09:15 <= t <= 15:29 (an order
  at 15:30:00 would arrive after the close; NSE/BSE normal market 09:15-15:30,
  reference/indian-markets.md "Sessions").
- An intraday (MIS) strategy exits after it enters, on the same day: exit_time > entry_time, and
  its exit days are its entry days.
- ``is_intra_day`` is derived from ``product`` (MIS = intraday); a contradicting value is an error.

``entry_days`` accepts a list of weekday names (``MON`` or ``MONDAY``, stored ``MONDAY``) or seed
001's DayConfig object ``{"type": "WEEKDAYS", "weekdays": [...]}`` /
``{"type": "DTE_BASED", "dte_range": {"min_dte": 0, "max_dte": 3}}``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from shared_utils.models.basket import RecordMeta
from shared_utils.models.common import HHMM, DomainModel, RequestModel, UpdateRequest, WeekdayList
from shared_utils.models.enums import EntityStatus, PartialFillPolicy, Product, Weekday

SESSION_FIRST_SLOT = "09:15"
SESSION_LAST_SLOT = "15:29"
STRATEGY_CATEGORIES = ("CONSERVATIVE", "AGGRESSIVE", "HEDGED", "INCOME", "MOMENTUM")


class DteWindow(RequestModel):
    """Enter only when the days to expiry (calendar days, IST) of the strategy's nearest leg
    expiry lie in [min_dte, max_dte]."""

    min_dte: int = Field(ge=0, le=400)
    max_dte: int = Field(ge=0, le=400)

    @model_validator(mode="after")
    def _ordered(self) -> "DteWindow":
        if self.max_dte < self.min_dte:
            raise ValueError("max_dte must be >= min_dte")
        return self


def _day_config(value: Any) -> Any:
    """Seed 001 DayConfig -> a list of weekdays (the DTE part is lifted by the model)."""
    if isinstance(value, dict):
        kind = str(value.get("type", "WEEKDAYS")).upper()
        if kind == "WEEKDAYS":
            return value.get("weekdays", [])
        if kind == "DTE_BASED":
            return []
        raise ValueError(f"type {kind!r}: use WEEKDAYS or DTE_BASED")
    return value


def _check_session_time(value: str, field: str) -> str:
    if not SESSION_FIRST_SLOT <= value <= SESSION_LAST_SLOT:
        raise ValueError(
            f"{field}: {value} IST is outside the trading session; use {SESSION_FIRST_SLOT}-{SESSION_LAST_SLOT}"
        )
    return value


class StrategyRisk(RequestModel):
    """Strategy-level MTM limits across all legs and accounts of one execution, in rupees
    (positive numbers: ``mtm_stop_loss`` 5000 exits when MTM <= -5000)."""

    mtm_stop_loss: Decimal | None = Field(default=None, gt=0)
    mtm_target: Decimal | None = Field(default=None, gt=0)


class StrategySpec(RequestModel):
    """The editable content of a strategy: the body of POST /options/baskets/{id}/strategies and
    POST /options/strategies (seed journey 1, step 2, accepted verbatim)."""

    strategy_name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    entry_time: HHMM
    exit_time: HHMM
    entry_days: WeekdayList = Field(default_factory=list)
    exit_days: WeekdayList = Field(default_factory=list)
    entry_dte: DteWindow | None = None
    product: Product
    underlying: str = Field(min_length=1, max_length=30, pattern=r"^[A-Z0-9&_-]+$")
    is_intra_day: bool | None = None
    category: Literal["CONSERVATIVE", "AGGRESSIVE", "HEDGED", "INCOME", "MOMENTUM"] | None = None
    partial_fill_policy: PartialFillPolicy = PartialFillPolicy.LEAVE
    risk: StrategyRisk = Field(default_factory=StrategyRisk)
    #: an entry order is refused (NOT_SENT "late by N ms") when it would leave later than this
    #: after its target instant (invariant I6); exits always go out, their lateness recorded
    max_entry_delay_ms: int = Field(default=5000, ge=0, le=60000, description="milliseconds")
    #: SELL entry legs wait at most this long for the account's BUY hedges to be confirmed
    #: FILLED; otherwise they are held back (NOT_SENT) and the trader is alerted (invariant I3)
    hedge_fill_timeout_ms: int = Field(default=3000, ge=0, le=30000, description="milliseconds")
    status: Literal[EntityStatus.ACTIVE, EntityStatus.PAUSED] = EntityStatus.ACTIVE

    @model_validator(mode="before")
    @classmethod
    def _lift_day_config(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if isinstance(data.get("underlying"), str):
                data["underlying"] = data["underlying"].strip().upper()
            entry = data.get("entry_days")
            if isinstance(entry, dict) and str(entry.get("type", "")).upper() == "DTE_BASED":
                if "dte_range" not in entry:
                    raise ValueError("entry_days.dte_range: required when type is DTE_BASED")
                data.setdefault("entry_dte", entry["dte_range"])
            for key in ("entry_days", "exit_days"):
                if key in data:
                    data[key] = _day_config(data[key])
        return data

    @field_validator("entry_time")
    @classmethod
    def _entry_in_session(cls, value: str) -> str:
        return _check_session_time(value, "entry_time")

    @field_validator("exit_time")
    @classmethod
    def _exit_in_session(cls, value: str) -> str:
        return _check_session_time(value, "exit_time")

    @model_validator(mode="after")
    def _consistent(self) -> "StrategySpec":
        intraday = self.product is Product.MIS
        if self.is_intra_day is not None and self.is_intra_day != intraday:
            raise ValueError(
                f"is_intra_day: {self.is_intra_day} contradicts product {self.product.value} "
                "(MIS is intraday, NRML is not)"
            )
        self.is_intra_day = intraday
        if not self.entry_days and self.entry_dte is None:
            raise ValueError("entry_days: name at least one weekday (or give entry_dte)")
        if intraday:
            if self.exit_time <= self.entry_time:
                raise ValueError(
                    f"exit_time: an intraday (MIS) strategy must exit after it enters ({self.exit_time} <= {self.entry_time})"
                )
            if self.exit_days and self.entry_days and self.exit_days != self.entry_days:
                raise ValueError("exit_days: an intraday (MIS) strategy exits on its entry days")
            if not self.exit_days:
                self.exit_days = list(self.entry_days)
        elif not self.exit_days:
            raise ValueError("exit_days: name at least one weekday on which the NRML position is closed")
        return self


class StrategyUpdate(UpdateRequest):
    """PUT /options/strategies/{id}: any subset of StrategySpec's fields (merged, then the whole
    strategy is validated again). ``status`` changes go through activate/pause."""

    strategy_name: str | None = None
    description: str | None = None
    entry_time: str | None = None
    exit_time: str | None = None
    entry_days: Any = None
    exit_days: Any = None
    entry_dte: Any = None
    product: Product | None = None
    underlying: str | None = None
    is_intra_day: bool | None = None
    category: str | None = None
    partial_fill_policy: PartialFillPolicy | None = None
    risk: Any = None
    max_entry_delay_ms: int | None = None
    hedge_fill_timeout_ms: int | None = None
    basket_id: str | None = None



class ExecutionSchedule(DomainModel):
    """Seed 002's ``execution_schedule``, derived from the strategy's times and days."""

    entry_time: str
    exit_time: str
    entry_days: list[Weekday]
    exit_days: list[Weekday]
    entry_dte: DteWindow | None = None
    timezone: Literal["Asia/Kolkata"] = "Asia/Kolkata"


class StrategyPerformance(DomainModel):
    total_executions: int = 0
    successful_executions: int = 0
    total_pnl: Decimal = Decimal(0)


class Strategy(RecordMeta):
    """A stored strategy (PK user_id, SK ``STRATEGY#{strategy_id}``)."""

    strategy_id: str
    user_id: str
    basket_id: str | None = None
    strategy_name: str
    description: str = ""
    entry_time: str
    exit_time: str
    entry_days: list[Weekday]
    exit_days: list[Weekday]
    entry_dte: DteWindow | None = None
    product: Product
    underlying: str
    is_intra_day: bool
    category: str | None = None
    partial_fill_policy: PartialFillPolicy = PartialFillPolicy.LEAVE
    risk: StrategyRisk = Field(default_factory=StrategyRisk)
    max_entry_delay_ms: int = 5000
    hedge_fill_timeout_ms: int = 3000
    created_by_type: Literal["USER"] = "USER"
    status: EntityStatus = EntityStatus.ACTIVE
    performance_metrics: StrategyPerformance = Field(default_factory=StrategyPerformance)
    entity_type: Literal["STRATEGY"] = "STRATEGY"

    @property
    def execution_schedule(self) -> ExecutionSchedule:
        return ExecutionSchedule(
            entry_time=self.entry_time,
            exit_time=self.exit_time,
            entry_days=self.entry_days,
            exit_days=self.exit_days,
            entry_dte=self.entry_dte,
        )

    def spec(self) -> dict[str, Any]:
        """The editable fields as a dict, for merging an update and validating again."""
        return {name: getattr(self, name) for name in StrategySpec.model_fields if name != "status"}
