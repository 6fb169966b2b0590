"""The brokers' OAuth redirects (PUBLIC routes: no Cognito authorizer; the broker sends the
trader's browser here after the login):

- ``GET /broker-sessions/zerodha/callback?request_token=...&state=...`` (Kite Connect);
- ``GET /broker-sessions/finvasia/callback?code=...&state=...`` (Shoonya) and
  ``GET /broker-sessions/zebu/callback?code=...&state=...`` (Zebu): the Noren OAuth login of
  2026 (authorize -> ``code`` -> GenAcsTok; broker-samples/noren/oauth_flow.json).

The handler trusts nothing in the request: the ``state`` is verified (HMAC with the account's
api_secret, single-use nonce, 15-minute expiry, the account's broker must match the route)
before the token/code is exchanged (``shared_utils.accounts.sessions``). Answers 200 with the
session status; 403 for a forged, expired or used state; 400 when the broker refuses the token
(nothing stored); 422 when a parameter is missing.
"""

from __future__ import annotations

import logging
from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import Router

from shared_utils.models.api import ErrorBody
from lambda_functions.auth_broker.common import LOGIN_RESPONSES, build_auth_app, session_service
from lambda_functions.options_platform.common import logger
from shared_utils.accounts.models import LoginResult
from shared_utils.accounts.service import session_view
from shared_utils.models.enums import BrokerName

router = Router()


class _RedactRouteArguments(logging.Filter):
    """Powertools logs each route's arguments at DEBUG ("Calling API Route Handler: {...}"),
    which here would include the Kite request_token or the Noren authorization code: such
    records are blanked."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg) + " ".join(str(a) for a in (record.args or ()))
        if "request_token" in text or "'code'" in text or '"code"' in text:
            record.msg, record.args = "Calling API Route Handler: [arguments redacted]", None
        return True


_route_logger = logging.getLogger("aws_lambda_powertools.event_handler.api_gateway")
if not any(isinstance(f, _RedactRouteArguments) for f in _route_logger.filters):
    _route_logger.addFilter(_RedactRouteArguments())
CALLBACK_RESPONSES = {**LOGIN_RESPONSES, 403: {"description": "The login state is forged, expired or used",
                                              "content": {"application/json": {"model": ErrorBody}}}}


@router.get("/broker-sessions/zerodha/callback", responses=CALLBACK_RESPONSES,
            summary="Kite Connect login redirect (public): exchanges the request_token for the day's access token")
def zerodha_callback(
    request_token: Annotated[str, Query(min_length=1, max_length=128)],
    state: Annotated[str, Query(min_length=1, max_length=1024)],
    status: Annotated[str | None, Query(max_length=32)] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
) -> LoginResult:
    if status is not None and status != "success":
        from shared_utils.accounts.sessions import LoginFailed

        raise LoginFailed(f"Kite reported the login as {status!r}", 400)
    account, now = session_service().zerodha_callback(request_token, state)
    logger.info("zerodha login completed", extra={"client_id": account.client_id})
    return LoginResult(client_id=account.client_id, broker=account.broker, action="LOGGED_IN",
                       session=session_view(account.session, now))


def _noren_callback(broker: BrokerName, code: str, state: str) -> LoginResult:
    account, now = session_service().oauth_callback(broker, code, state)
    logger.info(f"{broker.value} login completed", extra={"client_id": account.client_id})
    return LoginResult(client_id=account.client_id, broker=account.broker, action="LOGGED_IN",
                       session=session_view(account.session, now))


@router.get("/broker-sessions/finvasia/callback", responses=CALLBACK_RESPONSES,
            summary="Shoonya OAuth redirect (public): exchanges the authorization code at GenAcsTok for the day's token")
def finvasia_callback(
    code: Annotated[str, Query(min_length=1, max_length=256)],
    state: Annotated[str, Query(min_length=1, max_length=1024)],
) -> LoginResult:
    return _noren_callback(BrokerName.FINVASIA, code, state)


@router.get("/broker-sessions/zebu/callback", responses=CALLBACK_RESPONSES,
            summary="Zebu OAuth redirect (public): exchanges the authorization code at GenAcsTok for the day's token")
def zebu_callback(
    code: Annotated[str, Query(min_length=1, max_length=256)],
    state: Annotated[str, Query(min_length=1, max_length=1024)],
) -> LoginResult:
    return _noren_callback(BrokerName.ZEBU, code, state)


app = build_auth_app(router)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
