"""Strict scalar types for request bodies: a quantity, price or money field takes a JSON number
only, and a flag a JSON boolean only.

Pydantic's lax mode would turn ``"lots": "3"`` into 3 and ``"lots": true`` into 1, and
``"force": "yes"`` into True: with real money behind a lot count, a wrongly typed value is a
client bug to report (422 naming the field), never a value to guess. Strings must not carry NUL
characters (they end C strings in broker SDKs, logs and terminals).

Applied by :class:`shared_utils.models.common.RequestModel` (every request body and its nested
parts) and by the request-side models that are plain ``BaseModel`` (``StrikeSelectionConfig``,
``ManualRequest``) through :func:`check_strict_scalar`. Stored entities (``DomainModel``) are
read back from DynamoDB with ``Decimal`` numbers and are never refused by it.
"""

from __future__ import annotations

import types
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

_NUMBERS = (int, float, Decimal)


def _kind(annotation: Any) -> str | None:
    """``"number"``, ``"bool"``, ``"number_list"`` or None (no strictness) for a field annotation
    (``int``, ``Decimal | None``, ``Annotated[int, ...]``, ``list[int]``...)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _kind(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds = {_kind(a) for a in get_args(annotation) if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    if origin in (list, tuple, set, frozenset):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        return "number_list" if args and all(_kind(a) == "number" for a in args) else None
    if origin is Literal or not isinstance(annotation, type):
        return None
    if issubclass(annotation, bool):
        return "bool"
    if issubclass(annotation, _NUMBERS):
        return "number"
    return None


@lru_cache(maxsize=None)
def _field_kind(model: type, field_name: str) -> str | None:
    field = model.model_fields.get(field_name)  # type: ignore[attr-defined]
    return _kind(field.annotation) if field is not None else None


def _refuse_number(value: Any) -> None:
    if isinstance(value, bool):
        raise ValueError(f"must be a JSON number, not {str(value).lower()}")
    if isinstance(value, str):
        raise ValueError(f"must be a JSON number, not a string ({value[:20]!r}): send it without quotes")


def _refuse_nul(value: Any) -> None:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    if isinstance(value, list):
        for item in value:
            _refuse_nul(item)


def check_strict_scalar(model: type, field_name: str, value: Any) -> Any:
    """Refuse ``value`` for ``model.field_name`` when its JSON type is wrong (see the module doc).

    Raises:
        ValueError: "must be a JSON number, not a string ('3'): ..." / "... not true" /
            "must be true or false, not ..." / "must not contain NUL ..." (pydantic reports it as
            a 422 naming the field).
    """
    kind = _field_kind(model, field_name)
    if kind == "number":
        _refuse_number(value)
    elif kind == "number_list" and isinstance(value, (list, tuple)):
        for item in value:
            _refuse_number(item)
    elif kind == "bool" and value is not None and not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r:.20}")
    _refuse_nul(value)
    return value
