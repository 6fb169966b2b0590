"""A trader's notification settings in the trading table, outside every entity the repositories
read (sort keys ``NOTIFY#...``; ``entity_type`` NOTIFICATION_*):

    user_id (PK)   sort_key (SK)                       what
    <sub>          NOTIFY#PREFERENCES                  channels, events, email (+ its SNS subscription ARN),
                                                       chat id, last errors
    <sub>          NOTIFY#TELEGRAM                     the bot token, KMS envelope-sealed
    <sub>          NOTIFY#SENT#<notification>#<chan>   delivery mark (TTL 7 days): a redelivered
                                                       queue message is not sent twice on a channel

The bot token is sealed exactly like broker credentials (:mod:`shared_utils.accounts.secrets`):
one KMS GenerateDataKey (AES-256) per write under the broker-secrets key, AES-256-GCM over the
token with the item's name as associated data, and the encryption context
``{"notification_secret": "<prefix>/notify/<sub>/telegram"}`` (so an IAM condition on that
context key lets the notifier decrypt these and never a broker credential). It is never logged,
returned or put on the queue.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from shared_utils.clock import Clock, default_clock, utc_iso_ms
from shared_utils.config import EnvironmentConfig, current_environment
from shared_utils.notifications.models import (
    DEFAULT_EVENTS,
    Channel,
    ChannelStatus,
    NotificationEvent,
    NotificationPreferences,
)

PREFS_SK = "NOTIFY#PREFERENCES"
TOKEN_SK = "NOTIFY#TELEGRAM"
SENT_PREFIX = "NOTIFY#SENT#"
CONTEXT_KEY = "notification_secret"
SENT_TTL = timedelta(days=7)


class TokenUnreadable(LookupError):
    """The stored bot token cannot be decrypted (key disabled, item damaged)."""


class NotificationStore:
    """Preferences, the sealed bot token and delivery marks of traders (one table)."""

    def __init__(self, env: EnvironmentConfig | None = None, clock: Clock | None = None, *,
                 dynamodb: Any | None = None, kms: Any | None = None) -> None:
        self.env = env or current_environment()
        self.clock = clock or default_clock()
        self.table_name = os.environ.get("TABLE_NAME") or self.env.table_name
        self._ddb = dynamodb
        self._kms = kms
        self._secrets: Any = None

    # ---- clients --------------------------------------------------------------------------------
    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            from shared_utils.persistence.table import dynamodb_client

            self._ddb = dynamodb_client()
        return self._ddb

    def _broker_store(self) -> Any:
        """The broker secret store: its KMS client and key (same key as broker credentials)."""
        if self._secrets is None:
            from shared_utils.accounts.secrets import BrokerSecretStore

            self._secrets = BrokerSecretStore(self.env, kms=self._kms)
        return self._secrets

    def _key(self, user_id: str, sk: str) -> dict[str, Any]:
        return {"user_id": {"S": user_id}, "sort_key": {"S": sk}}

    def _name(self, user_id: str) -> str:
        return f"{self.env.prefix}/notify/{user_id}/telegram"

    # ---- preferences ----------------------------------------------------------------------------
    def raw(self, user_id: str) -> dict[str, Any]:
        item = self.ddb.get_item(TableName=self.table_name, Key=self._key(user_id, PREFS_SK),
                                 ConsistentRead=True).get("Item") or {}
        out: dict[str, Any] = {}
        for name, value in item.items():
            if "S" in value:
                out[name] = value["S"]
            elif "BOOL" in value:
                out[name] = value["BOOL"]
            elif "L" in value:
                out[name] = [v["S"] for v in value["L"]]
        return out

    def preferences(self, user_id: str, email_state: str | None = None) -> NotificationPreferences:
        """The trader's preferences (defaults when never set: no channel, every event)."""
        raw = self.raw(user_id)
        has_token = bool(raw.get("telegram_token_set"))
        events = [NotificationEvent(e) for e in raw["events"]] if "events" in raw else list(DEFAULT_EVENTS)
        return NotificationPreferences(
            email=ChannelStatus(enabled=bool(raw.get("email_enabled")), target=raw.get("email"),
                                state=email_state or ("UNKNOWN" if raw.get("email") else "NONE"),
                                last_error=raw.get("email_error"), last_error_at=raw.get("email_error_at")),
            telegram=ChannelStatus(enabled=bool(raw.get("telegram_enabled")), target=raw.get("telegram_chat_id"),
                                   state="TOKEN_STORED" if has_token else "NO_TOKEN",
                                   last_error=raw.get("telegram_error"), last_error_at=raw.get("telegram_error_at")),
            events=events, updated_at=raw.get("updated_at"))

    def save(self, user_id: str, *, channels: list[Channel] | None = None, events: list[NotificationEvent] | None = None,
             email: str | None = None, chat_id: str | None = None, token_set: bool | None = None,
             clear_errors: tuple[str, ...] = (), subscription_arn: str | None = None) -> None:
        """Update only the given fields (one UpdateItem)."""
        values: dict[str, Any] = {":t": {"S": "NOTIFICATION_PREFERENCES"}, ":u": {"S": utc_iso_ms(self.clock.now())}}
        sets = ["entity_type = :t", "updated_at = :u"]
        removes: list[str] = []
        if channels is not None:
            sets += ["email_enabled = :ee", "telegram_enabled = :te"]
            values[":ee"] = {"BOOL": Channel.EMAIL in channels}
            values[":te"] = {"BOOL": Channel.TELEGRAM in channels}
        if events is not None:
            sets.append("events = :ev")
            values[":ev"] = {"L": [{"S": e.value} for e in events]}
        if email is not None:
            sets.append("email = :em")
            values[":em"] = {"S": email}
        if chat_id is not None:
            sets.append("telegram_chat_id = :ch")
            values[":ch"] = {"S": chat_id}
        if subscription_arn is not None:
            sets.append("email_subscription_arn = :sa")
            values[":sa"] = {"S": subscription_arn}
        if token_set is not None:
            sets.append("telegram_token_set = :ts")
            values[":ts"] = {"BOOL": token_set}
        for channel in clear_errors:
            removes += [f"{channel}_error", f"{channel}_error_at"]
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        self.ddb.update_item(TableName=self.table_name, Key=self._key(user_id, PREFS_SK), UpdateExpression=expression,
                             ExpressionAttributeValues=values)

    def record_error(self, user_id: str, channel: Channel, error: str) -> None:
        """A permanent delivery error (shown by GET preferences until the channel is changed)."""
        name = channel.value.lower()
        self.ddb.update_item(TableName=self.table_name, Key=self._key(user_id, PREFS_SK),
                             UpdateExpression=f"SET {name}_error = :e, {name}_error_at = :a",
                             ConditionExpression="attribute_exists(user_id)",
                             ExpressionAttributeValues={":e": {"S": error[:300]},
                                                        ":a": {"S": utc_iso_ms(self.clock.now())}})

    # ---- the bot token --------------------------------------------------------------------------
    def put_token(self, user_id: str, token: str) -> None:
        """Seal and store the bot token (one KMS GenerateDataKey + one PutItem)."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        store = self._broker_store()
        name = self._name(user_id)
        data_key = store.kms.generate_data_key(KeyId=store._key(), KeySpec="AES_256",
                                               EncryptionContext={CONTEXT_KEY: name})
        nonce = os.urandom(12)
        ct = AESGCM(data_key["Plaintext"]).encrypt(nonce, token.encode(), name.encode())
        self.ddb.put_item(TableName=self.table_name, Item={
            **self._key(user_id, TOKEN_SK), "entity_type": {"S": "NOTIFICATION_SECRET"},
            "key_id": {"S": data_key["KeyId"]}, "edk": {"B": data_key["CiphertextBlob"]},
            "nonce": {"B": nonce}, "ct": {"B": ct}})

    def delete_token(self, user_id: str) -> None:
        self.ddb.delete_item(TableName=self.table_name, Key=self._key(user_id, TOKEN_SK))

    def token(self, user_id: str) -> str | None:
        """The bot token (one GetItem + one KMS Decrypt), None when none is stored.
        Raises TokenUnreadable when it cannot be decrypted."""
        from botocore.exceptions import ClientError
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        item = self.ddb.get_item(TableName=self.table_name, Key=self._key(user_id, TOKEN_SK),
                                 ConsistentRead=True).get("Item")
        if item is None:
            return None
        name = self._name(user_id)
        try:
            key = self._broker_store().kms.decrypt(CiphertextBlob=item["edk"]["B"], EncryptionContext={CONTEXT_KEY: name})
            return AESGCM(key["Plaintext"]).decrypt(item["nonce"]["B"], item["ct"]["B"], name.encode()).decode()
        except ClientError as exc:
            raise TokenUnreadable(f"the Telegram token cannot be decrypted ({exc.response['Error']['Code']})") from None
        except (InvalidTag, KeyError, ValueError):
            raise TokenUnreadable("the Telegram token cannot be decrypted") from None

    # ---- delivery marks -------------------------------------------------------------------------
    def delivered(self, user_id: str, notification_id: str, channel: Channel) -> bool:
        sk = f"{SENT_PREFIX}{notification_id}#{channel.value}"
        return "Item" in self.ddb.get_item(TableName=self.table_name, Key=self._key(user_id, sk),
                                           ProjectionExpression="user_id")

    def mark_delivered(self, user_id: str, notification_id: str, channel: Channel, detail: str) -> None:
        now = self.clock.now()
        sk = f"{SENT_PREFIX}{notification_id}#{channel.value}"
        self.ddb.put_item(TableName=self.table_name, Item={
            **self._key(user_id, sk), "entity_type": {"S": "NOTIFICATION_DELIVERY"},
            "detail": {"S": detail[:300]}, "delivered_at": {"S": utc_iso_ms(now)},
            "expires_at": {"N": str(int((now + SENT_TTL).timestamp()))}})
