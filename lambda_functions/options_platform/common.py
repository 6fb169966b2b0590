"""What every options-platform handler shares: the resolver factory with error mapping, the
caller's identity, and the service wired to this environment's tables.

Error mapping (ARCHITECTURE.md "REST API"): validation -> 422 with each field and reason;
``NotFound`` (including another user's ids) -> 404; conflicts -> 409; a missing identity -> 401.
"""

from __future__ import annotations

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
from shared_utils.errors import Conflict, InvalidRequest
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


def build_app(*routers: Router) -> APIGatewayRestResolver:
    """A validating resolver holding ``routers`` and the error mapping."""
    app = APIGatewayRestResolver(enable_validation=True)
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
