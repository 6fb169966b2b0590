"""What the auth-broker handlers share: the services wired to this environment, and the
mapping of the login errors to HTTP answers (on top of ``options_platform.common``'s mapping:
422 / 404 / 409 / 401).

=======================  ====  =================================================================
error                    HTTP  when
=======================  ====  =================================================================
InvalidLoginState        403   Zerodha callback: forged / expired / used ``state``
LoginFailed              400   the broker refused the credentials or the request_token
                         502   the broker could not be reached
SecretMissing            409   the account's secret is gone (re-add the account)
=======================  ====  =================================================================
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.router import Router

from lambda_functions.options_platform.common import ERROR_RESPONSES, build_app, repositories
from shared_utils.accounts import BrokerAccountService, BrokerSecretStore, SessionService
from shared_utils.accounts.secrets import SecretMissing
from shared_utils.accounts.sessions import InvalidLoginState, LoginFailed
from shared_utils.clock import default_clock
from shared_utils.config import current_environment
from shared_utils.models.api import ErrorBody

LOGIN_RESPONSES: dict[int, dict[str, Any]] = {
    200: {"description": "OK"},
    400: {"description": "The broker refused the login", "content": {"application/json": {"model": ErrorBody}}},
    502: {"description": "The broker could not be reached", "content": {"application/json": {"model": ErrorBody}}},
    **ERROR_RESPONSES,
}


def _json(status: int, message: str) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body={"statusCode": status, "message": message})


def build_auth_app(*routers: Router) -> APIGatewayRestResolver:
    """``options_platform.common.build_app`` plus the login error mapping."""
    app = build_app(*routers)

    @app.exception_handler(InvalidLoginState)
    def _state(exc: InvalidLoginState) -> Response:
        return _json(403, str(exc))

    @app.exception_handler(LoginFailed)
    def _login(exc: LoginFailed) -> Response:
        return _json(exc.http_status, str(exc))

    @app.exception_handler(SecretMissing)
    def _secret(exc: SecretMissing) -> Response:
        return _json(409, "the account's broker credentials are missing: add them with "
                          "PUT /broker-accounts/{client_id} {\"credentials\": {...}}")

    return app


@lru_cache(maxsize=1)
def secret_store() -> BrokerSecretStore:
    return BrokerSecretStore(current_environment())


def account_service() -> BrokerAccountService:
    return BrokerAccountService(repositories(), secret_store(), default_clock())


def session_service() -> SessionService:
    return SessionService(repositories(), secret_store(), default_clock())


def reset_caches() -> None:
    """Forget cached clients (tests: a new moto mock per test)."""
    secret_store.cache_clear()
    repositories.cache_clear()
