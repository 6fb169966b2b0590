"""The routes' and the notifier's logic.

- :meth:`NotificationService.view` / :meth:`update` / :meth:`test`: GET/PUT
  /options/notifications/preferences and POST /options/notifications/test.
- :meth:`NotificationService.deliver`: one queued notification to the trader's chosen channels.
  A channel already marked delivered for this notification is skipped (queue redelivery); a
  permanent failure (bad bot token, unknown chat) is recorded on the preferences, shown by GET,
  and not retried; a transient failure (throttled, network) raises :class:`TransientFailure` after
  the other channels were tried, so the queue retries only what is left (then its DLQ).
- :func:`notifications_of`: an SQS message body -> notifications.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

from botocore.exceptions import ClientError

from shared_utils.clock import Clock, default_clock, utc_iso_ms
from shared_utils.errors import InvalidRequest
from shared_utils.notifications import channels, messages
from shared_utils.notifications.channels import Delivered, PermanentFailure, TransientFailure
from shared_utils.notifications.models import (
    Channel,
    ChannelResult,
    Notification,
    NotificationEvent,
    NotificationPreferences,
    PreferencesUpdate,
    NotificationTestResult,
)
from shared_utils.notifications.store import NotificationStore, TokenUnreadable

logger = logging.getLogger(__name__)


def notifications_of(body: str | dict[str, Any],
                     strategy_name: Callable[[str, str], str | None] | None = None) -> list[Notification]:
    """A queue message: ``{"notification": {...}}`` (:mod:`.publish`) or an EventBridge event
    (the bus rule). Raises ValueError for anything else (it ends in the DLQ)."""
    data = json.loads(body) if isinstance(body, str) else body
    if isinstance(data, dict) and "notification" in data:
        return [Notification.model_validate(data["notification"])]
    if isinstance(data, dict) and "detail-type" in data:
        return messages.from_bus_event(data, strategy_name)
    raise ValueError("not a notification nor a bus event")


class NotificationService:
    def __init__(self, store: NotificationStore | None = None, clock: Clock | None = None, *,
                 sns: Any | None = None, http: Any | None = None) -> None:
        self.clock = clock or default_clock()
        self.store = store or NotificationStore(clock=self.clock)
        self.sns = sns
        self.http = http

    # ---- routes ---------------------------------------------------------------------------------
    def view(self, user_id: str) -> NotificationPreferences:
        raw = self.store.raw(user_id)
        return self.store.preferences(user_id, channels.subscription_state(
            user_id, raw.get("email_subscription_arn"), self.sns) if raw.get("email") else None)

    def update(self, user_id: str, body: PreferencesUpdate) -> NotificationPreferences:
        """Raises InvalidRequest when an enabled channel lacks what it needs."""
        raw = self.store.raw(user_id)
        token = body.telegram_bot_token.get_secret_value() if body.telegram_bot_token is not None else None
        wanted = body.channels if body.channels is not None else (
            [Channel.EMAIL] * bool(raw.get("email_enabled")) + [Channel.TELEGRAM] * bool(raw.get("telegram_enabled")))
        email = body.email or raw.get("email")
        chat = body.telegram_chat_id or raw.get("telegram_chat_id")
        has_token = bool(token) if token is not None else bool(raw.get("telegram_token_set"))
        errors = []
        if Channel.EMAIL in wanted and not email:
            errors.append((("body", "email"), "EMAIL needs an address"))
        if Channel.TELEGRAM in wanted and not chat:
            errors.append((("body", "telegram_chat_id"), "TELEGRAM needs the chat id of your chat with the bot"))
        if Channel.TELEGRAM in wanted and not has_token:
            errors.append((("body", "telegram_bot_token"), "TELEGRAM needs your bot's token"))
        if errors:
            raise InvalidRequest(errors)
        subscription_arn = None
        if body.email is not None and body.email != raw.get("email"):
            try:
                _, subscription_arn = channels.subscribe_email(user_id, body.email, raw.get("email_subscription_arn"),
                                                               self.sns)
            except PermanentFailure as exc:
                raise InvalidRequest.field(("body", "email"), str(exc)) from None
            except ClientError as exc:  # e.g. InvalidParameter: SNS refuses the address
                raise InvalidRequest.field(("body", "email"), f"SNS refused the address "
                                           f"({exc.response.get('Error', {}).get('Code')})") from None
        if token:
            self.store.put_token(user_id, token)
        elif token == "":
            self.store.delete_token(user_id)
        clear = tuple(name for name, changed in (("email", body.email is not None),
                                                  ("telegram", body.telegram_chat_id is not None or token is not None))
                      if changed)
        self.store.save(user_id, channels=body.channels, events=body.events, email=body.email,
                        chat_id=body.telegram_chat_id, token_set=bool(token) if token is not None else None,
                        clear_errors=clear, subscription_arn=subscription_arn)
        return self.view(user_id)

    def test(self, user_id: str) -> NotificationTestResult:
        """Send a TEST message on every enabled channel now; each channel's answer."""
        prefs = self.store.preferences(user_id)
        note = Notification(notification_id=f"test-{utc_iso_ms(self.clock.now())}", user_id=user_id,
                            event=NotificationEvent.TEST, title="Test notification",
                            text=messages.compose("you asked for a test message.", {},
                                                  "sent it on each channel you enabled."),
                            at=utc_iso_ms(self.clock.now()))
        results = []
        for channel in self._enabled(prefs):
            try:
                delivered = self._send(channel, note, prefs)
                if channel is Channel.EMAIL and channels.subscription_state(
                        user_id, self.store.raw(user_id).get("email_subscription_arn"), self.sns) == "PENDING_CONFIRMATION":
                    results.append(ChannelResult(channel=channel, delivered=False, detail=(
                        f"{delivered.detail} accepted, but {prefs.email.target} has not confirmed the subscription "
                        "yet (the link in SNS's email): SNS drops messages until it does")))
                    continue
                results.append(ChannelResult(channel=channel, delivered=True, detail=delivered.detail))
                self.store.save(user_id, clear_errors=(channel.value.lower(),))
            except (PermanentFailure, TransientFailure) as exc:
                if isinstance(exc, PermanentFailure):
                    self.store.record_error(user_id, channel, str(exc))
                results.append(ChannelResult(channel=channel, delivered=False, detail=str(exc)))
        if not results:
            raise InvalidRequest.field(("body",), "no channel is enabled: PUT /options/notifications/preferences first")
        return NotificationTestResult(results=results)

    # ---- the notifier ---------------------------------------------------------------------------
    def strategy_name(self, user_id: str, strategy_id: str) -> str | None:
        """The strategy's name (one GetItem), for the messages."""
        from shared_utils.persistence.repositories import Repositories

        if getattr(self, "_repos", None) is None:
            self._repos = Repositories.for_environment(self.store.env)
        return self._repos.strategies.get(user_id, strategy_id).strategy_name

    @staticmethod
    def _enabled(prefs: NotificationPreferences) -> list[Channel]:
        return [c for c, s in ((Channel.EMAIL, prefs.email), (Channel.TELEGRAM, prefs.telegram)) if s.enabled]

    def _send(self, channel: Channel, note: Notification, prefs: NotificationPreferences) -> Delivered:
        if channel is Channel.EMAIL:
            return channels.send_email(note, self.sns)
        try:
            token = self.store.token(note.user_id)
        except TokenUnreadable as exc:
            raise PermanentFailure(str(exc)) from None
        if not token or not prefs.telegram.target:
            raise PermanentFailure("no Telegram bot token or chat id stored")
        return channels.send_telegram(note, token, prefs.telegram.target, self.http)

    def deliver(self, note: Notification) -> dict[str, str]:
        """Deliver on the trader's channels; returns {channel: outcome}. Raises
        TransientFailure when a channel should be retried (others are marked delivered)."""
        prefs = self.store.preferences(note.user_id)
        if not note.wanted_by(prefs.events):
            return {"skipped": f"{note.event.value} not chosen"}
        outcome: dict[str, str] = {}
        retry: list[str] = []
        for channel in self._enabled(prefs):
            if self.store.delivered(note.user_id, note.notification_id, channel):
                outcome[channel.value] = "already delivered"
                continue
            try:
                delivered = self._send(channel, note, prefs)
            except PermanentFailure as exc:
                outcome[channel.value] = f"failed: {exc}"
                self.store.record_error(note.user_id, channel, str(exc))
                logger.warning("notification %s: %s failed permanently: %s", note.notification_id, channel.value, exc)
                continue
            except TransientFailure as exc:
                outcome[channel.value] = f"retry: {exc}"
                retry.append(f"{channel.value}: {exc}")
                continue
            self.store.mark_delivered(note.user_id, note.notification_id, channel, delivered.detail)
            outcome[channel.value] = delivered.detail
        if retry:
            raise TransientFailure("; ".join(retry))
        return outcome or {"skipped": "no channel enabled"}
