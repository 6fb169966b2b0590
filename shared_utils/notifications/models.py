"""Notification events, channels, a trader's preferences and the queued message.

Shapes:
- :class:`NotificationPreferences` (GET /options/notifications/preferences): channels, events,
  the email subscription's state, whether a Telegram token is stored (never the token).
- :class:`PreferencesUpdate` (PUT body): all fields optional; ``telegram_bot_token`` is
  write-only (stored KMS-sealed, like broker credentials), ``""`` removes it.
- :class:`Notification` (SQS message body ``{"notification": {...}}``): one event for one trader.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class NotificationEvent(str, Enum):
    """What a trader can be told about (issue 18 "Notifications")."""

    ORDER_REJECTED = "ORDER_REJECTED"        # the broker (or the platform) refused an order
    PARTIAL_FILL = "PARTIAL_FILL"            # an entry filled in part (the partial-fill policy acted)
    STOP_HIT = "STOP_HIT"                    # a leg's stop (or target) filled, or the strategy's MTM stop
    EXECUTION_PARTIAL = "EXECUTION_PARTIAL"  # an execution ended PARTIAL
    EXECUTION_FAILED = "EXECUTION_FAILED"    # an execution ended FAILED
    SESSION_MISSING = "SESSION_MISSING"      # before the open: an account the day needs has no session
    KILL_SWITCH = "KILL_SWITCH"              # a kill switch was set or cleared
    POSITION_MISMATCH = "POSITION_MISMATCH"  # books and broker disagree
    ENGINE_ALERT = "ENGINE_ALERT"            # any other engine alert (exit retries, stop not placed, ...)
    TEST = "TEST"                            # POST /options/notifications/test (always delivered)


#: what a trader gets before choosing (every trading event; ENGINE_ALERT too: nothing silent)
DEFAULT_EVENTS = [e for e in NotificationEvent if e is not NotificationEvent.TEST]


class Channel(str, Enum):
    EMAIL = "EMAIL"
    TELEGRAM = "TELEGRAM"


#: Telegram bot tokens look like ``123456789:AA...`` (BotFather; core.telegram.org/bots/api
#: "Authorizing your bot"): the bot id, a colon, 35 url-safe characters (we accept 30-64)
BOT_TOKEN = re.compile(r"^\d{3,15}:[A-Za-z0-9_-]{30,64}$")
#: an ASCII email address (RFC 5321 local part characters, dotted host labels); SNS email
#: endpoints are ASCII, and the address ends up in SNS's XML answers
EMAIL = (r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
         r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
#: a private chat or group id (integer, groups negative) or a public channel's @username
CHAT_ID = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")


class ChannelStatus(BaseModel):
    """One channel's state as the trader sees it."""

    enabled: bool = False
    #: EMAIL: the address; TELEGRAM: the chat id
    target: str | None = None
    #: EMAIL: PENDING_CONFIRMATION | CONFIRMED | NONE (SNS email subscriptions need the address's
    #: confirmation click); TELEGRAM: TOKEN_STORED | NO_TOKEN
    state: str = "NONE"
    #: the last permanent delivery error (e.g. Telegram 401 Unauthorized), with its UTC time
    last_error: str | None = None
    last_error_at: str | None = None


class NotificationPreferences(BaseModel):
    """GET /options/notifications/preferences."""

    email: ChannelStatus = Field(default_factory=ChannelStatus)
    telegram: ChannelStatus = Field(default_factory=ChannelStatus)
    events: list[NotificationEvent] = Field(default_factory=lambda: list(DEFAULT_EVENTS))
    updated_at: str | None = None


class PreferencesUpdate(BaseModel):
    """PUT /options/notifications/preferences: only the given fields change."""

    model_config = ConfigDict(extra="forbid")

    channels: list[Channel] | None = Field(default=None, description="enabled channels; others are disabled")
    events: list[NotificationEvent] | None = Field(default=None, description="events to be told about")
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL,
                              description="address for EMAIL (SNS asks it to confirm)")
    telegram_chat_id: str | None = Field(default=None, max_length=40,
                                         description="chat id (the trader's chat with the bot) or @channel")
    telegram_bot_token: SecretStr | None = Field(default=None, description="bot token from BotFather; write-only; "
                                                 "\"\" removes it")

    @field_validator("telegram_chat_id")
    @classmethod
    def _chat(cls, value: str | None) -> str | None:
        if value is not None and not CHAT_ID.match(value):
            raise ValueError("a chat id is an integer (e.g. 123456789, -1001234567890) or @channelname")
        return value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value() and not BOT_TOKEN.match(value.get_secret_value()):
            raise ValueError("not a Telegram bot token (BotFather gives '<bot id>:<35 characters>')")
        return value

    @field_validator("events", "channels")
    @classmethod
    def _unique(cls, value: list | None) -> list | None:
        return list(dict.fromkeys(value)) if value is not None else None


class Notification(BaseModel):
    """One event for one trader, as queued.

    ``notification_id`` is deterministic for an engine alert (its source event id and index) so a
    redelivered message is not sent twice per channel (see :mod:`.store` delivery marks)."""

    notification_id: str = Field(min_length=1, max_length=200)
    user_id: str = Field(min_length=1, max_length=128)
    event: NotificationEvent
    #: one line: what happened (email subject, Telegram first line)
    title: str = Field(max_length=200)
    #: what happened, where (account, strategy, leg, order) and what the platform did
    text: str = Field(max_length=3500)
    where: dict[str, Any] = Field(default_factory=dict)
    #: when it happened (UTC ISO-8601)
    at: str | None = None
    #: also delivered to a trader who chose one of these events (e.g. an execution ending PARTIAL
    #: because of a rejection reaches a trader who chose ORDER_REJECTED only)
    also_for: list[NotificationEvent] = Field(default_factory=list)

    def wanted_by(self, events: list[NotificationEvent]) -> bool:
        return self.event is NotificationEvent.TEST or self.event in events or any(e in events for e in self.also_for)


class ChannelResult(BaseModel):
    """POST /options/notifications/test: one channel's answer."""

    channel: Channel
    delivered: bool
    detail: str


class NotificationTestResult(BaseModel):
    """POST /options/notifications/test: every enabled channel's answer (not named Test*: pytest
    would try to collect it from any test module importing it)."""

    results: list[ChannelResult]
