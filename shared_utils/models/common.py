"""Shared building blocks of the domain models: weekday parsing, HH:MM times, record metadata.

Conventions (ARCHITECTURE.md "The single table"): money and prices are ``Decimal`` rupees;
instants are timezone-aware and stored as ISO-8601 with offset (UTC); schedule times are IST
wall clock ``HH:MM``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo,
                      field_validator, model_validator)

from shared_utils.clock import UTC
from shared_utils.models.enums import Weekday
from shared_utils.models.strict import check_strict_scalar

_SHORT_DAYS = {d.value[:3]: d for d in Weekday}


#: the accepted spellings, as the 422 lists them
WEEKDAY_FORMS = "MON, TUE, WED, THU, FRI, SAT, SUN or MONDAY..SUNDAY (any case)"


def parse_weekday(value: Any) -> Any:
    """Accept ``MON``/``MONDAY``/``monday`` (any case, surrounding spaces) -> Weekday.MONDAY.

    Raises:
        ValueError: anything else, listing every accepted form (pydantic reports it as a 422
            naming the field, e.g. ``body.entry_days.0``).
    """
    if isinstance(value, Weekday):
        return value
    if isinstance(value, str):
        key = value.strip().upper()
        if key in _SHORT_DAYS:
            return _SHORT_DAYS[key]
        if key in Weekday.__members__:
            return Weekday[key]
        raise ValueError(f"{value.strip()[:20]!r} is not a day: use {WEEKDAY_FORMS}")
    raise ValueError(f"a day must be a string: {WEEKDAY_FORMS}")


def no_repeats(items: list[Any], field: str) -> list[Any]:
    """``items`` unchanged when no two share ``field``'s value. Raises ValueError "<field> <value>
    appears twice" (pydantic reports it at the list's location: a 422 naming the field)."""
    seen: set[Any] = set()
    for item in items:
        value = getattr(item, field)
        if value in seen:
            raise ValueError(f"{field} {value} appears twice")
        seen.add(value)
    return items


def _unique_days(days: list[Weekday]) -> list[Weekday]:
    """Drop repeats and store the days in calendar order (MONDAY..SUNDAY)."""
    return sorted(set(days), key=lambda d: d.iso_index)


WeekdayName = Annotated[Weekday, BeforeValidator(parse_weekday)]
WeekdayList = Annotated[list[WeekdayName], AfterValidator(_unique_days)]


def _check_hhmm(value: str) -> str:
    hours, minutes = value.split(":")
    if not (0 <= int(hours) <= 23 and 0 <= int(minutes) <= 59):
        raise ValueError("must be a 24-hour time HH:MM")
    return value


def _pad_hhmm(value: Any) -> Any:
    # "9:30" -> "09:30"; anything else is left for the pattern to reject
    if isinstance(value, str) and len(value.strip()) == 4 and value.strip()[1] == ":":
        return "0" + value.strip()
    return value.strip() if isinstance(value, str) else value


HHMM = Annotated[
    str,
    BeforeValidator(_pad_hhmm),
    Field(pattern=r"^\d{2}:\d{2}$", description="IST wall-clock time HH:MM"),
    AfterValidator(_check_hhmm),
]


def utc_now() -> datetime:
    """Now (UTC) from the process clock, so records made under the local platform's ``--at``
    clock carry that clock's times."""
    from shared_utils.clock import default_clock

    return default_clock().now().astimezone(UTC)


class RequestModel(BaseModel):
    """Base of request bodies: unknown fields are errors (a mistyped ``stop_los`` must not be
    silently dropped when real money depends on it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        """Numbers must be JSON numbers, flags JSON booleans, strings free of NUL
        (``shared_utils.models.strict``). Stored entities inheriting request fields (a ``Leg``)
        are read back from the table, not from a client: they are not checked here."""
        if issubclass(cls, DomainModel) or info.field_name is None:
            return value
        return check_strict_scalar(cls, info.field_name, value)


class UpdateRequest(RequestModel):
    """Base of PUT bodies: every field optional, and an empty body is an error (a PUT that
    changes nothing is almost always a client bug)."""

    @model_validator(mode="after")
    def _not_empty(self):
        if not self.model_fields_set:
            raise ValueError("body: name at least one field to change")
        return self


class DomainModel(BaseModel):
    """Base of stored entities. Unknown attributes from older item versions are ignored."""

    model_config = ConfigDict(extra="ignore", validate_assignment=False)


class RecordMeta(DomainModel):
    """Metadata every item carries: ``version`` drives optimistic locking (a write must name the
    version it read; see persistence.repositories)."""

    created_at: AwareDatetime = Field(default_factory=utc_now)
    updated_at: AwareDatetime = Field(default_factory=utc_now)
    version: int = Field(default=1, ge=1)
