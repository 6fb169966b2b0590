"""A leg's strike rule: ``strike_selection_config`` (seed 002 "Leg Entity", extended).

Sign convention for every distance: POSITIVE means out of the money for the leg's option type
(a higher strike for a CE, a lower strike for a PE), negative means in the money, 0 is ATM.

Which value each method needs (``required_value_fields``):

=====================  ==========================================================
method                 values
=====================  ==========================================================
ATM_OFFSET             ``atm_offset`` (int, listed strikes from ATM)
STRIKE_DISTANCE        ``strike_distance`` (index points from ATM)
ATM_PERCENT            ``atm_percent`` (percent of spot from ATM)
STRIKE                 ``strike`` (absolute strike)
CLOSEST_PREMIUM        ``premium`` (rupees per unit)
PREMIUM_GTE            ``premium``
PREMIUM_LTE            ``premium``
PREMIUM_RANGE          ``premium_min`` and ``premium_max``
DELTA                  ``delta_value`` (absolute delta, 0 < d < 1, e.g. 0.20)
STRADDLE_WIDTH         ``straddle_width_multiplier`` (x ATM straddle premium, points)
ATM_STRADDLE_PERCENT   ``straddle_percent`` (percent of ATM straddle premium)
=====================  ==========================================================

A config that lacks its method's value is storable (the seed's own legs say ``DELTA`` with no
delta) but not executable: :meth:`StrikeSelectionConfig.missing_values` names what is missing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared_utils.models.enums import EntryBy

#: entry_by synonyms found in the seeds, stored under the canonical method
ENTRY_BY_ALIASES = {"ATM_DISTANCE": EntryBy.STRIKE_DISTANCE, "STRIKE_OFFSET": EntryBy.ATM_OFFSET}

REQUIRED_VALUE_FIELDS: dict[EntryBy, tuple[str, ...]] = {
    EntryBy.ATM_OFFSET: ("atm_offset",),
    EntryBy.STRIKE_DISTANCE: ("strike_distance",),
    EntryBy.ATM_PERCENT: ("atm_percent",),
    EntryBy.STRIKE: ("strike",),
    EntryBy.CLOSEST_PREMIUM: ("premium",),
    EntryBy.PREMIUM_GTE: ("premium",),
    EntryBy.PREMIUM_LTE: ("premium",),
    EntryBy.PREMIUM_RANGE: ("premium_min", "premium_max"),
    EntryBy.DELTA: ("delta_value",),
    EntryBy.STRADDLE_WIDTH: ("straddle_width_multiplier",),
    EntryBy.ATM_STRADDLE_PERCENT: ("straddle_percent",),
}

Money = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]


def normalise_entry_by(value: object) -> object:
    """Upper-case a method name and map the seed's synonyms (ATM_DISTANCE) to the canonical one."""
    if isinstance(value, str):
        key = value.strip().upper()
        return ENTRY_BY_ALIASES.get(key, key)
    return value


class StrikeSelectionConfig(BaseModel):
    """How to choose the strike of one leg at entry. See the module docstring for units."""

    model_config = ConfigDict(extra="forbid")

    method: EntryBy
    atm_offset: int | None = Field(default=None, ge=-50, le=50)
    strike_distance: Decimal | None = Field(default=None, ge=-100000, le=100000)
    atm_percent: Decimal | None = Field(default=None, ge=-50, le=50)
    strike: Decimal | None = Field(default=None, gt=0)
    premium: Money | None = None
    premium_min: Decimal | None = Field(default=None, ge=0)
    premium_max: Decimal | None = Field(default=None, gt=0)
    delta_value: Decimal | None = Field(default=None, gt=0, lt=1)
    straddle_width_multiplier: Decimal | None = Field(default=None, ge=-5, le=5)
    straddle_percent: Decimal | None = Field(default=None, gt=0, le=500)

    @field_validator("method", mode="before")
    @classmethod
    def _alias(cls, value: object) -> object:
        return normalise_entry_by(value)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: object, info) -> object:
        """Numbers only as JSON numbers (``shared_utils.models.strict``)."""
        from shared_utils.models.strict import check_strict_scalar

        return check_strict_scalar(cls, info.field_name, value) if info.field_name else value

    @field_validator("premium_max")
    @classmethod
    def _range(cls, value: Decimal | None, info) -> Decimal | None:
        low = info.data.get("premium_min")
        if value is not None and low is not None and value < low:
            raise ValueError("premium_max must be >= premium_min")
        return value

    def missing_values(self) -> list[str]:
        """Names of the fields this method needs that are not set (empty when executable)."""
        return [name for name in REQUIRED_VALUE_FIELDS[self.method] if getattr(self, name) is None]
