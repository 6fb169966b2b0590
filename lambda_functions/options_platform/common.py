"""What every options-platform handler shares: the resolver factory with error mapping, the
caller's identity, and the service wired to this environment's tables.

Error mapping (ARCHITECTURE.md "REST API"): validation -> 422 with each field and reason;
``NotFound`` (including another user's ids) -> 404; conflicts -> 409; a missing identity -> 401.

Request bodies are parsed by :func:`strict_json_loads` (strict JSON): a duplicate key, an
integer longer than ``MAX_INT_DIGITS`` digits, a number that is not finite (``1e999``, ``NaN``),
nesting deeper than ``MAX_JSON_DEPTH`` or a NUL character answer 422 naming what is wrong,
before any handler runs (so nothing is stored).
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import UnauthorizedError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.router import Router

from shared_utils.clock import default_clock
from shared_utils.config import current_environment
from shared_utils.errors import Conflict, Forbidden, InvalidRequest
from shared_utils.models.api import ErrorBody
from shared_utils.persistence.keys import KeyError_
from shared_utils.persistence.repositories import AlreadyExists, NotFound, Repositories, VersionConflict
from shared_utils.persistence.table import TransactionCancelled
from shared_utils.services.options import OptionsService

logger = Logger()

def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": ErrorBody}}}


ERROR_RESPONSES: dict[int, dict[str, Any]] = {
    401: _error("Missing or invalid token"),
    404: _error("Not found (or not yours)"),
    409: _error("Conflict with the current state"),
    422: _error("Validation error: each entry names the field (loc) and the reason (msg)"),
}
OK_RESPONSES: dict[int, dict[str, Any]] = {200: {"description": "OK"}, **ERROR_RESPONSES}


#: deeper than any body of this API (a strategy with legs and selection configs is ~5 levels)
MAX_JSON_DEPTH = 32
#: longer than any quantity or amount (money is <= 1e12 rupees with 2 decimals)
MAX_INT_DIGITS = 30
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def _invalid_body(msg: str, loc: tuple[Any, ...] = ("body",), kind: str = "json_invalid") -> RequestValidationError:
    return RequestValidationError([{"type": kind, "loc": loc, "msg": msg, "input": {}, "ctx": {}}])


def _depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text (brackets inside strings ignored)."""
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRINGS.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _invalid_body(f"duplicate key '{key}' in the JSON body: send each field once",
                                ("body", key), "duplicate_key")
        seen[key] = value
    return seen


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _invalid_body(f"a number with {len(text.lstrip('-'))} digits is out of range "
                            f"(at most {MAX_INT_DIGITS} digits)", kind="number_too_large")
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or len(text) > 64:
        raise _invalid_body(f"the number {text[:20]}{'...' if len(text) > 20 else ''} is out of range",
                            kind="number_too_large")
    return value


def _constant(text: str) -> Any:
    raise _invalid_body(f"{text} is not a JSON number", kind="json_invalid")


def _no_nul(value: Any, loc: tuple[Any, ...]) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise _invalid_body("must not contain NUL (\\u0000) characters", loc, "string_nul")
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                raise _invalid_body("a key must not contain NUL (\\u0000) characters", loc, "string_nul")
            _no_nul(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_nul(item, (*loc, index))


def strict_json_loads(text: str | bytes) -> Any:
    """Parse a request body as strict JSON (see the module doc).

    Raises:
        RequestValidationError: 422 with ``loc`` ``["body", <key>...]`` for a duplicate key or a
            NUL character, ``["body"]`` for size/depth/number problems;
        json.JSONDecodeError: malformed JSON (powertools answers it as a 422 too).
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if _depth(text) > MAX_JSON_DEPTH:
        raise _invalid_body(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels", kind="json_too_deep")
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_int=_int, parse_float=_float,
                           parse_constant=_constant)
    except RecursionError:  # defensive: _depth already bounds it
        raise _invalid_body("the JSON body is nested too deeply", kind="json_too_deep") from None
    _no_nul(value, ("body",))
    return value


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _clean_loc(loc: Any) -> list[Any]:
    return [part for part in loc if part not in ("function-after[_consistent(), StrategySpec]",)]


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    """Install the platform's error mapping on ``app``."""

    @app.exception_handler(RequestValidationError)
    def _validation(exc: RequestValidationError) -> Response:
        detail = []
        for error in exc.errors():
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
            if error.get("type") == "json_invalid" and (error.get("ctx") or {}).get("error"):
                # powertools' "JSON decode error": say what and where
                message = f"the body is not valid JSON: {error['ctx']['error']} at character {error['loc'][-1]}"
            detail.append({"loc": _clean_loc(error.get("loc", [])), "msg": message, "type": error.get("type")})
        return _json(422, {"statusCode": 422, "message": "validation failed", "detail": detail})

    @app.exception_handler(InvalidRequest)
    def _invalid(exc: InvalidRequest) -> Response:
        detail = [{"loc": list(loc), "msg": msg, "type": "value_error"} for loc, msg in exc.errors]
        return _json(422, {"statusCode": 422, "message": "validation failed", "detail": detail})

    @app.exception_handler(NotFound)
    def _not_found(exc: NotFound) -> Response:
        return _json(404, {"statusCode": 404, "message": str(exc)})

    @app.exception_handler(KeyError_)
    def _bad_id(exc: KeyError_) -> Response:
        # an id that cannot be a key cannot name an existing item
        return _json(404, {"statusCode": 404, "message": f"not found ({exc})"})

    @app.exception_handler([Conflict, AlreadyExists, VersionConflict])
    def _conflict(exc: Exception) -> Response:
        body: dict[str, Any] = {"statusCode": 409, "message": str(exc)}
        if isinstance(exc, Conflict) and exc.reasons:
            body["reasons"] = exc.reasons
        return _json(409, body)

    @app.exception_handler(TransactionCancelled)
    def _cancelled(exc: TransactionCancelled) -> Response:
        return _json(409, {"statusCode": 409, "message": "the data changed while it was being written; retry"})

    @app.exception_handler(UnauthorizedError)
    def _unauthorized(exc: UnauthorizedError) -> Response:
        return _json(401, {"statusCode": 401, "message": str(exc.msg if hasattr(exc, "msg") else exc)})

    @app.exception_handler(Forbidden)
    def _forbidden(exc: Forbidden) -> Response:
        return _json(403, {"statusCode": 403, "message": str(exc)})


def build_app(*routers: Router) -> APIGatewayRestResolver:
    """A validating resolver holding ``routers`` and the error mapping."""
    app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=strict_json_loads)
    for router in routers:
        app.include_router(router)
    register_error_handlers(app)
    return app


def user_id_of(router: Router | APIGatewayRestResolver) -> str:
    """The caller's Cognito ``sub`` from the authorizer's claims (never from the body or path).

    Raises:
        UnauthorizedError: no authorizer claims on the event (401).
    """
    context = router.current_event.raw_event.get("requestContext") or {}
    claims = (context.get("authorizer") or {}).get("claims") or {}
    sub = claims.get("sub")
    if not sub:
        raise UnauthorizedError("no authenticated user on this request")
    return str(sub)


@lru_cache(maxsize=1)
def repositories() -> Repositories:
    return Repositories.for_environment(current_environment())


def options_service() -> OptionsService:
    """The service over this environment's tables, with the process clock."""
    return OptionsService(repositories(), current_environment(), default_clock())


def created(body: Any) -> tuple[Any, int]:
    return body, HTTPStatus.CREATED.value
