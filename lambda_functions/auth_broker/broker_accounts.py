"""REST /broker-accounts: a trader's broker accounts (thin: parse -> service -> shape).

POST   /broker-accounts                       add (PAPER; credentials to Secrets Manager)
GET    /broker-accounts                       list (no credentials; ``credential_fields`` empty)
GET    /broker-accounts/{client_id}           one, with its session and ``credential_fields``
PUT    /broker-accounts/{client_id}           display name, trading mode, status, rotate credentials
DELETE /broker-accounts/{client_id}           409 while an ACTIVE strategy's ACTIVE allocation uses it
POST   /broker-accounts/{client_id}/login     TOTP brokers: log in now; Zerodha: the Kite login URL

The caller is the Cognito ``sub``; another user's client_id answers 404. No route returns or
logs a credential or token.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import Router

from lambda_functions.auth_broker.common import LOGIN_RESPONSES, account_service, build_auth_app, session_service
from lambda_functions.options_platform.common import ERROR_RESPONSES, OK_RESPONSES, created, logger, user_id_of
from shared_utils.accounts.models import (
    BrokerAccountCreate,
    BrokerAccountList,
    BrokerAccountUpdate,
    BrokerAccountView,
    LoginResult,
)
from shared_utils.accounts.mfa import MfaChecker, claims_of, mfa_responses
from shared_utils.models.api import Message
from shared_utils.models.enums import TradingMode

router = Router()
CREATED = {201: {"description": "Created"}, **ERROR_RESPONSES}


@router.post("/broker-accounts", responses=CREATED, summary="Add a broker account (starts in PAPER)")
def create_account(body: BrokerAccountCreate) -> BrokerAccountView:
    user_id = user_id_of(router)
    service = account_service()
    account = service.create(user_id, body)
    logger.info("broker account added", extra={"client_id": account.client_id, "broker": account.broker.value})
    return created(service.view(account))


@router.get("/broker-accounts", responses=OK_RESPONSES, summary="The trader's broker accounts with session status")
def list_accounts() -> BrokerAccountList:
    service = account_service()
    return BrokerAccountList(items=[service.view(a, with_credentials=False) for a in service.list(user_id_of(router))])


@router.get("/broker-accounts/<client_id>", responses=OK_RESPONSES,
            summary="One broker account: session (valid until, last login result) and which credentials are set")
def get_account(client_id: str) -> BrokerAccountView:
    service = account_service()
    return service.view(service.get(user_id_of(router), client_id))


@router.put("/broker-accounts/<client_id>", responses={**OK_RESPONSES, **mfa_responses()},
            summary="Rename, switch PAPER/LIVE (LIVE needs a successful login), pause, rotate credentials")
def update_account(client_id: str, body: BrokerAccountUpdate) -> BrokerAccountView:
    service = account_service()
    if body.trading_mode is TradingMode.LIVE:
        current = service.get(user_id_of(router), client_id)
        if current.trading_mode is not TradingMode.LIVE:
            MfaChecker().check(claims_of(router.current_event.raw_event), f"switching {client_id} to LIVE")
    account = service.update(user_id_of(router), client_id, body)
    if body.trading_mode is TradingMode.LIVE:
        _subscribe_to_login_reminders(user_id_of(router))
    logger.info("broker account updated", extra={"client_id": client_id, "trading_mode": account.trading_mode.value,
                                                  "credentials_rotated": body.credentials is not None})
    return service.view(account)


@router.delete("/broker-accounts/<client_id>", responses=OK_RESPONSES,
               summary="Remove a broker account and its secret")
def delete_account(client_id: str) -> Message:
    account_service().delete(user_id_of(router), client_id)
    logger.info("broker account removed", extra={"client_id": client_id})
    return Message(message=f"broker account {client_id} deleted")


@router.post("/broker-accounts/<client_id>/login", responses=LOGIN_RESPONSES,
             summary="Daily login: TOTP brokers log in now; Zerodha answers the Kite login URL")
def login(client_id: str) -> LoginResult:
    user_id = user_id_of(router)
    accounts = account_service()
    # a PAPER account may have been created without credentials: say which are missing (409)
    accounts.require_credentials(accounts.get(user_id, client_id), "log in")
    result = session_service().login(user_id, client_id)
    logger.info("broker login", extra={"client_id": client_id, "action": result.action})
    return result


def _subscribe_to_login_reminders(user_id: str) -> None:
    """A LIVE account's trader gets the daily login reminders by email (best effort: a failure
    is logged, the switch stands)."""
    import os

    import boto3

    from shared_utils.accounts.sessions import ensure_reminder_subscription

    topic = os.environ.get("LOGIN_REMINDERS_TOPIC_ARN")
    if not topic:
        return
    try:
        email = MfaChecker().email_of(claims_of(router.current_event.raw_event))
        if email:
            result = ensure_reminder_subscription(boto3.client("sns", region_name=topic.split(":")[3]), topic, user_id, email)
            logger.info("login reminders subscription", extra={"result": result})
    except Exception as exc:  # noqa: BLE001 - reminders are a convenience, never block LIVE
        logger.warning("login reminders subscription failed", extra={"error": type(exc).__name__})


app = build_auth_app(router)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
