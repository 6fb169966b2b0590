"""Delivery channels: email through SNS, Telegram through the Bot API.

Email: one SNS topic per environment (``NOTIFICATIONS_TOPIC_ARN``); each trader's address is an
``email`` subscription with the filter policy ``{"user_id": ["<sub>"]}`` and every message
carries the message attribute ``user_id``, so an address receives only its trader's messages
(SNS message filtering; the login-reminders topic works the same way). SNS asks the address to
confirm once; until then SNS drops the trader's messages (GET preferences says
PENDING_CONFIRMATION).

Telegram: ``POST {TELEGRAM_API_URL or https://api.telegram.org}/bot<token>/sendMessage`` with
JSON ``{"chat_id", "text"}`` (core.telegram.org/bots/api#sendmessage; text <= 4096 characters).
Answers: ``{"ok": true, "result": {"message_id", ...}}``, or ``{"ok": false, "error_code",
"description"}`` (401 "Unauthorized": bad token; 400 "Bad Request: chat not found"; 403
"Forbidden: bot was blocked by the user"; 429 with ``parameters.retry_after``).

Outcomes: :class:`Delivered`, or :class:`PermanentFailure` (retrying cannot help: a bad token,
an unknown chat) or :class:`TransientFailure` (throttled, 5xx, network: the queue retries).
The bot token never appears in an error text or log line.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from typing import Any

from shared_utils.notifications.models import Notification

TELEGRAM_URL_VAR = "TELEGRAM_API_URL"
TOPIC_ARN_VAR = "NOTIFICATIONS_TOPIC_ARN"
TELEGRAM_MAX = 4096
FOOTER = "\n\n(ql-algo-trading notifications: change them under Settings > Notifications)"


@dataclass
class Delivered:
    detail: str


class DeliveryFailure(Exception):
    pass


class PermanentFailure(DeliveryFailure):
    """Retrying cannot help (bad token, unknown chat, address missing)."""


class TransientFailure(DeliveryFailure):
    """Throttled, a server error or the network: retried by the queue."""


def _ascii_subject(title: str) -> str:
    """SNS subjects: ASCII, no line breaks, < 100 characters."""
    text = title.encode("ascii", "replace").decode().replace("\n", " ").replace("\r", " ").strip()
    return (text or "Notification")[:99]


# ---- email (SNS) ------------------------------------------------------------------------------------
def _sns(region: str | None = None) -> Any:
    import boto3

    return boto3.client("sns", region_name=region)


def topic_arn() -> str | None:
    return os.environ.get(TOPIC_ARN_VAR) or None


def send_email(notification: Notification, sns: Any | None = None, arn: str | None = None) -> Delivered:
    """Publish to the notifications topic with ``user_id`` as a message attribute."""
    from botocore.exceptions import BotoCoreError, ClientError

    arn = arn or topic_arn()
    if not arn:
        raise PermanentFailure("email is not configured on this platform (no notifications topic)")
    sns = sns or _sns(arn.split(":")[3])
    try:
        answer = sns.publish(TopicArn=arn, Subject=_ascii_subject(notification.title),
                             Message=f"{notification.title}\n\n{notification.text}{FOOTER}",
                             MessageAttributes={"user_id": {"DataType": "String", "StringValue": notification.user_id},
                                                "event": {"DataType": "String", "StringValue": notification.event.value}})
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise TransientFailure(f"SNS refused the message ({code})") from None
    except BotoCoreError as exc:
        raise TransientFailure(f"SNS unreachable ({type(exc).__name__})") from None
    return Delivered(f"SNS message {answer.get('MessageId')}")


def subscription_state(user_id: str, subscription_arn: str | None, sns: Any | None = None,
                       arn: str | None = None) -> str:
    """NONE | PENDING_CONFIRMATION | CONFIRMED | UNKNOWN of the trader's stored subscription
    (one GetSubscriptionAttributes; CONFIRMED only with the trader's own filter policy)."""
    from botocore.exceptions import BotoCoreError, ClientError

    arn = arn or topic_arn()
    if not subscription_arn:
        return "NONE"
    if not arn:
        return "UNKNOWN"
    try:
        sns = sns or _sns(arn.split(":")[3])
        attrs = sns.get_subscription_attributes(SubscriptionArn=subscription_arn).get("Attributes", {})
    except ClientError as exc:
        return "NONE" if exc.response.get("Error", {}).get("Code") == "NotFound" else "UNKNOWN"
    except BotoCoreError:
        return "UNKNOWN"
    if attrs.get("PendingConfirmation") == "true":
        return "PENDING_CONFIRMATION"
    return "CONFIRMED" if json.loads(attrs.get("FilterPolicy") or "{}") == {"user_id": [user_id]} else "NONE"


def subscribe_email(user_id: str, email: str, previous_subscription_arn: str | None, sns: Any | None = None,
                    arn: str | None = None) -> tuple[str, str]:
    """Subscribe ``email`` with the trader's filter policy ``{"user_id": [sub]}`` and remove the
    trader's previous subscription (a pending one cannot be removed: SNS lets it expire after 3
    days, and it never receives anything unconfirmed). SNS answers the existing subscription for
    an address already subscribed with the same attributes. Returns (state, subscription ARN).
    Raises PermanentFailure (no topic) or botocore ClientError (e.g. InvalidParameter)."""
    from botocore.exceptions import ClientError

    arn = arn or topic_arn()
    if not arn:
        raise PermanentFailure("email is not configured on this platform (no notifications topic)")
    sns = sns or _sns(arn.split(":")[3])
    answer = sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=email, ReturnSubscriptionArn=True,
                           Attributes={"FilterPolicy": json.dumps({"user_id": [user_id]})})
    subscription_arn = answer["SubscriptionArn"]
    if previous_subscription_arn and previous_subscription_arn != subscription_arn:
        try:
            sns.unsubscribe(SubscriptionArn=previous_subscription_arn)
        except ClientError as exc:  # a pending subscription cannot be removed (it expires in 3 days) or is gone
            logging.getLogger(__name__).warning("could not unsubscribe %s: %s", previous_subscription_arn,
                                                exc.response.get("Error", {}).get("Code"))
    return subscription_state(user_id, subscription_arn, sns, arn), subscription_arn


# ---- Telegram ---------------------------------------------------------------------------------------
_BOT_PATH = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")


class _RedactBotTokens(logging.Filter):
    """urllib3 logs each request line at DEBUG (``"POST /bot<token>/sendMessage HTTP/1.1"``): the
    token is part of the path, so every such record is rewritten with ``/bot<token>``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001
            return True
        if "/bot" in text:
            record.msg, record.args = _BOT_PATH.sub("/bot<token>", text), None
        return True


_REDACTION = _RedactBotTokens()


def install_token_redaction() -> None:
    for name in ("urllib3.connectionpool", "urllib3.util.retry", "requests"):
        target = logging.getLogger(name)
        if _REDACTION not in target.filters:
            target.addFilter(_REDACTION)


def telegram_text(notification: Notification) -> str:
    text = f"{notification.title}\n\n{notification.text}"
    return text if len(text) <= TELEGRAM_MAX else text[:TELEGRAM_MAX - 1] + "…"


def send_telegram(notification: Notification, token: str, chat_id: str, session: Any | None = None,
                  base_url: str | None = None) -> Delivered:
    """One sendMessage call (connect 3 s, read 10 s)."""
    import requests

    install_token_redaction()
    base = (base_url or os.environ.get(TELEGRAM_URL_VAR) or "").rstrip("/")
    if not base:
        from shared_utils.config import current_environment

        if current_environment().name == "local":  # the local platform and tests never reach Telegram
            raise PermanentFailure("no Telegram stand-in configured (TELEGRAM_API_URL) on the local platform")
        base = "https://api.telegram.org"
    http = session or requests
    try:
        response = http.post(f"{base}/bot{token}/sendMessage", timeout=(3, 10),
                             json={"chat_id": chat_id, "text": telegram_text(notification),
                                   "disable_web_page_preview": True})
    except requests.RequestException as exc:
        raise TransientFailure(f"Telegram unreachable ({type(exc).__name__})") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 200 and body.get("ok"):
        return Delivered(f"Telegram message {body.get('result', {}).get('message_id')}")
    code = body.get("error_code") or response.status_code
    description = str(body.get("description") or response.reason or "no description").replace(token, "<token>")
    text = f"Telegram answered {code}: {description}"
    if code == 429 or (isinstance(code, int) and code >= 500):
        raise TransientFailure(text)
    raise PermanentFailure(text)
