"""Notification preferences (issue 18).

GET /options/notifications/preferences: the caller's channels (EMAIL: address and SNS
subscription state; TELEGRAM: chat id and whether a bot token is stored, never the token),
chosen events and each channel's last permanent delivery error.
PUT /options/notifications/preferences: change any of them; a bot token is stored KMS-sealed
(``""`` removes it); enabling a channel without what it needs answers 422.
POST /options/notifications/test: send a test message now on every enabled channel; answers
each channel's result (e.g. Telegram 401 Unauthorized for a bad token).
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import Router

from lambda_functions.options_platform.common import OK_RESPONSES, build_app, logger, user_id_of
from shared_utils.notifications.models import NotificationPreferences, PreferencesUpdate, NotificationTestResult
from shared_utils.notifications.service import NotificationService

router = Router()
_service: NotificationService | None = None


def service() -> NotificationService:
    global _service
    if _service is None:
        _service = NotificationService()
    return _service


@router.get("/options/notifications/preferences", responses=OK_RESPONSES,
            summary="Your notification channels (email, Telegram) and the events you are told about")
def get_preferences() -> NotificationPreferences:
    return service().view(user_id_of(router))


@router.put("/options/notifications/preferences", responses=OK_RESPONSES,
            summary="Choose channels and events; give the email address or the Telegram chat id and bot token")
def put_preferences(body: PreferencesUpdate) -> NotificationPreferences:
    return service().update(user_id_of(router), body)


@router.post("/options/notifications/test", responses=OK_RESPONSES,
             summary="Send a test message now on each enabled channel; each channel's answer")
def test_send() -> NotificationTestResult:
    return service().test(user_id_of(router))


app = build_app(router)


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    return app.resolve(event, context)
