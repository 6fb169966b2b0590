"""Leg: one option contract rule of a strategy (seed 002 "Leg Entity", seed 001 stop-loss config).

Units: ``lots`` are lots (quantity = lots x the contract's lot size from the instrument master
of the trade date, never a hard-coded table); slippages are percent of LTP
(``entry_slippage`` 5 = a LIMIT price 5% through the LTP, rounded to the tick);
``stop_loss`` is percent of the entry fill price when ``stop_loss_type`` is PERCENTAGE (the
seed's ``"stop_loss": 50``) or rupees of premium when POINTS.

Stop-loss orders default to SL (stop-loss limit) with the leg's exit slippage as the limit
buffer: Zerodha blocks SL-M orders on index options (Kite support: "SL-M orders are blocked for
F&O options" since 2021, to avoid freak trades in illiquid contracts).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from shared_utils.models.common import RecordMeta, RequestModel, UpdateRequest, no_repeats
from shared_utils.models.enums import (
    EntryBy,
    ExpiryType,
    LegCategory,
    LegType,
    OrderType,
    StopLossType,
    TransactionType,
)
from shared_utils.models.strike_selection import StrikeSelectionConfig, normalise_entry_by

_LEG_TYPE_ALIASES = {"CE": "CALL", "PE": "PUT", "C": "CALL", "P": "PUT"}

Percent = Field(ge=0, le=100)


class PositionSizing(RequestModel):
    max_lots: int = Field(default=100, ge=1)
    min_lots: int = Field(default=1, ge=1)
    lot_increment: int = Field(default=1, ge=1)


class TrailingStop(RequestModel):
    """Trail the stop once the leg is ``activate_after`` in profit, by ``trail_by``; both in the
    leg's stop_loss_type units (percent of entry or rupees)."""

    activate_after: Decimal = Field(gt=0)
    trail_by: Decimal = Field(gt=0)


class LegFields(RequestModel):
    """The leg's configuration as the seed's request sends it (journey 1, step 3, verbatim)."""

    lots: int = Field(ge=1, le=10000)
    transaction_type: TransactionType
    leg_type: LegType
    underlying: str = Field(min_length=1, max_length=30)
    entry_by: EntryBy
    stop_loss: Decimal | None = Field(default=None, gt=0)
    stop_loss_type: StopLossType = StopLossType.PERCENTAGE
    stop_loss_order_type: Literal[OrderType.SL, OrderType.SL_M] = OrderType.SL
    target: Decimal | None = Field(default=None, gt=0)
    target_type: StopLossType = StopLossType.PERCENTAGE
    trailing_stop: TrailingStop | None = None
    expiry_type: ExpiryType
    expiry_offset: int = Field(default=0, ge=0, le=12)
    category: LegCategory | None = None
    order_type: Literal[OrderType.MARKET, OrderType.LIMIT] = OrderType.LIMIT
    entry_slippage: Decimal = Field(default=Decimal(0), ge=0, le=100)
    exit_slippage: Decimal = Field(default=Decimal(0), ge=0, le=100)
    entry_max_slippage: Decimal = Field(default=Decimal(0), ge=0, le=100)
    exit_max_slippage: Decimal = Field(default=Decimal(0), ge=0, le=100)
    strike_selection_config: StrikeSelectionConfig | None = None
    position_sizing: PositionSizing | None = None
    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            leg_type = data.get("leg_type")
            if isinstance(leg_type, str):
                data["leg_type"] = _LEG_TYPE_ALIASES.get(leg_type.strip().upper(), leg_type.strip().upper())
            if "entry_by" in data:
                data["entry_by"] = normalise_entry_by(data["entry_by"])
            if isinstance(data.get("underlying"), str):
                data["underlying"] = data["underlying"].strip().upper()
            for key in ("transaction_type", "expiry_type", "order_type", "category"):
                if isinstance(data.get(key), str):
                    data[key] = data[key].strip().upper()
        return data

    @model_validator(mode="after")
    def _selection(self) -> "LegFields":
        config = self.strike_selection_config
        if config is None:
            self.strike_selection_config = StrikeSelectionConfig(method=self.entry_by)
        elif config.method is not self.entry_by:
            raise ValueError(
                f"strike_selection_config.method: {config.method.value} differs from entry_by {self.entry_by.value}"
            )
        if self.entry_max_slippage and self.entry_max_slippage < self.entry_slippage:
            raise ValueError("entry_max_slippage: must be >= entry_slippage")
        if self.exit_max_slippage and self.exit_max_slippage < self.exit_slippage:
            raise ValueError("exit_max_slippage: must be >= exit_slippage")
        return self

    def missing_values(self) -> list[str]:
        """What keeps this leg from being resolved to a strike (empty when executable)."""
        assert self.strike_selection_config is not None
        return [f"strike_selection_config.{name}" for name in self.strike_selection_config.missing_values()]


class LegCreate(LegFields):
    """One element of POST /options/strategies/{id}/legs ``legs`` (and the merged leg of a PUT).

    Refuses ``stop_loss_order_type`` SL-M: every leg is an index option, and SL-M is not allowed
    on NSE index options (exchange error 16052, since 27 Sep 2021) and is discontinued on BSE
    (shared/reference/indian-markets.md "2026 changes"). Stored legs that still say SL-M load
    unchanged; the broker adapters send their stops as SL (``shared_utils.brokers.protection``).
    """

    leg_no: int = Field(ge=1, le=99)

    @model_validator(mode="after")
    def _no_stop_market_on_index_options(self) -> "LegCreate":
        if self.stop_loss_order_type is OrderType.SL_M:
            raise ValueError(
                "stop_loss_order_type: SL-M is not allowed on index options (NSE error 16052; BSE has "
                "discontinued SL-M); use SL (stop-limit; exit_slippage sets the limit beyond the trigger)")
        return self


class LegsCreate(RequestModel):
    """POST /options/strategies/{id}/legs (bulk)."""

    legs: list[LegCreate] = Field(min_length=1, max_length=99)

    @field_validator("legs")
    @classmethod
    def _unique(cls, legs: list[LegCreate]) -> list[LegCreate]:
        return no_repeats(legs, "leg_no")


class LegUpdate(UpdateRequest):
    """PUT /options/strategies/{id}/legs/{leg_no}: any subset of the leg's fields; merged with
    the stored leg and validated again as a whole."""

    model_config = {"extra": "forbid"}

    lots: Any = None
    transaction_type: Any = None
    leg_type: Any = None
    underlying: Any = None
    entry_by: Any = None
    stop_loss: Any = None
    stop_loss_type: Any = None
    stop_loss_order_type: Any = None
    target: Any = None
    target_type: Any = None
    trailing_stop: Any = None
    expiry_type: Any = None
    expiry_offset: Any = None
    category: Any = None
    order_type: Any = None
    entry_slippage: Any = None
    exit_slippage: Any = None
    entry_max_slippage: Any = None
    exit_max_slippage: Any = None
    strike_selection_config: Any = None
    position_sizing: Any = None
    enabled: Any = None



class Leg(RecordMeta, LegFields):
    """A stored leg (PK user_id, SK ``LEG#{strategy_id}#{leg_no:02d}``)."""

    model_config = {"extra": "ignore"}

    user_id: str
    strategy_id: str
    leg_no: int = Field(ge=1, le=99)
    entity_type: Literal["LEG"] = "LEG"

    def fields(self) -> dict[str, Any]:
        """The editable fields (LegFields) as a dict."""
        return {name: getattr(self, name) for name in LegFields.model_fields}


# ResolvedLeg lives with the execution records (it is part of an Execution); re-exported here
from shared_utils.models.execution import ResolvedLeg  # noqa: E402,F401
