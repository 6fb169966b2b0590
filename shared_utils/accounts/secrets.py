"""Per-account broker secrets in Secrets Manager: credentials and the day's session tokens.

Layout (one secret per broker account; the CDK grants the Lambdas exactly this name prefix)::

    name:  ql-algo-trading-{env}/broker/{user_id}/{client_id}
           (``EnvironmentConfig.prefix`` + ``/broker/``; user_id is the Cognito sub)
    value: JSON
    {
      "schema": 1,
      "broker": "angel",                       # BrokerName value
      "credentials": {"api_key": ..., "api_secret": ..., "password": ..., "totp_secret": ...,
                      "client_code": ..., "user_id": ..., "vendor_code": ..., "imei": ...},
                                               # only the fields the account has (None omitted)
      "session": null | {"access_token": ..., "refresh_token": ..., "feed_token": ...,
                         "broker_user_id": ..., "obtained_at": "<ISO-8601 UTC>",
                         "valid_until": "<ISO-8601 UTC>"},
      "oauth_nonce": null | "<nonce of the last Zerodha login URL handed out>"
    }

Nothing read from a secret is ever logged or returned by a route: :class:`AccountSecret` keeps
every field out of ``repr`` and the services only expose *which* credential fields are set.
When ``BROKER_SECRETS_KMS_KEY_ARN`` is set (the deployed stacks), new secrets are encrypted
with that key.

botocore's own DEBUG logging of request params / response bodies would print ``SecretString``:
:func:`install_log_redaction` (run by every store) blanks those records.

Errors: :class:`SecretMissing` (LookupError) when the account's secret does not exist.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from shared_utils.brokers.base import BrokerCredentials, BrokerSession
from shared_utils.clock import parse_instant, to_utc
from shared_utils.config import EnvironmentConfig

SCHEMA_VERSION = 1
CREDENTIAL_FIELDS = tuple(f.name for f in fields(BrokerCredentials) if f.name != "request_token")


class _RedactSecretsManagerPayloads(logging.Filter):
    """botocore logs every request's params (``botocore.endpoint``) and every response body
    (``botocore.parsers``) at DEBUG, which includes ``SecretString``. Any such record is
    replaced by a placeholder, whatever level someone turns botocore logging up to."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # pragma: no cover - a broken record is dropped, never printed raw
            return False
        if "SecretString" in text:
            record.msg, record.args = "[redacted: Secrets Manager payload]", None
        return True


class _DropQueryStrings(logging.Filter):
    """urllib3 logs each request line at DEBUG with the full URL. Angel's SDK sends its
    ``getProfile`` call (made by every login) as a GET with the refresh token in the query
    string, so request lines lose their query string here."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(a.split("?", 1)[0] + "?[redacted]" if isinstance(a, str) and "?" in a else a
                                for a in record.args)
        return True


_REDACTOR = _RedactSecretsManagerPayloads()
_QUERY_DROPPER = _DropQueryStrings()
BOTOCORE_PAYLOAD_LOGGERS = ("botocore.endpoint", "botocore.parsers")


def install_log_redaction() -> None:
    """Put the redaction filters on botocore's payload loggers and urllib3's request-line
    logger (idempotent)."""
    for name in BOTOCORE_PAYLOAD_LOGGERS:
        target = logging.getLogger(name)
        if _REDACTOR not in target.filters:
            target.addFilter(_REDACTOR)
    pool = logging.getLogger("urllib3.connectionpool")
    if _QUERY_DROPPER not in pool.filters:
        pool.addFilter(_QUERY_DROPPER)


class SecretMissing(LookupError):
    """The broker account has no secret (deleted out of band, or never created)."""


@dataclass(frozen=True)
class StoredSession:
    """The day's broker session as kept in the secret. ``valid_until`` is an aware instant
    (06:00 IST next day for Kite / Angel, midnight IST for Noren). Tokens never in ``repr``."""

    access_token: str = field(repr=False)
    valid_until: datetime
    obtained_at: datetime
    refresh_token: str | None = field(default=None, repr=False)
    feed_token: str | None = field(default=None, repr=False)
    broker_user_id: str | None = None

    def broker_session(self) -> BrokerSession:
        return BrokerSession(access_token=self.access_token, refresh_token=self.refresh_token,
                             feed_token=self.feed_token, user_id=self.broker_user_id,
                             obtained_at=self.obtained_at)

    def valid_at(self, instant: datetime) -> bool:
        return self.valid_until > instant

    def to_json(self) -> dict[str, Any]:
        return {"access_token": self.access_token, "refresh_token": self.refresh_token,
                "feed_token": self.feed_token, "broker_user_id": self.broker_user_id,
                "obtained_at": to_utc(self.obtained_at).isoformat(),
                "valid_until": to_utc(self.valid_until).isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "StoredSession":
        return cls(access_token=data["access_token"], refresh_token=data.get("refresh_token"),
                   feed_token=data.get("feed_token"), broker_user_id=data.get("broker_user_id"),
                   obtained_at=parse_instant(data["obtained_at"]), valid_until=parse_instant(data["valid_until"]))


@dataclass(frozen=True)
class AccountSecret:
    """Decoded value of one account's secret (see module doc for the JSON)."""

    broker: str
    credentials: BrokerCredentials
    session: StoredSession | None = None
    oauth_nonce: str | None = field(default=None, repr=False)

    def credential_fields(self) -> list[str]:
        """Names (never values) of the credential fields that are set, sorted."""
        return sorted(name for name in CREDENTIAL_FIELDS if getattr(self.credentials, name))

    def with_session(self, session: StoredSession | None) -> "AccountSecret":
        return replace(self, session=session)

    def to_json(self) -> str:
        creds = {n: getattr(self.credentials, n) for n in CREDENTIAL_FIELDS if getattr(self.credentials, n)}
        return json.dumps({"schema": SCHEMA_VERSION, "broker": self.broker, "credentials": creds,
                           "session": self.session.to_json() if self.session else None,
                           "oauth_nonce": self.oauth_nonce})

    @classmethod
    def from_json(cls, text: str) -> "AccountSecret":
        data = json.loads(text)
        creds = {k: v for k, v in (data.get("credentials") or {}).items() if k in CREDENTIAL_FIELDS}
        session = data.get("session")
        return cls(broker=data["broker"], credentials=BrokerCredentials(**creds),
                   session=StoredSession.from_json(session) if session else None,
                   oauth_nonce=data.get("oauth_nonce"))


def secret_prefix(env: EnvironmentConfig) -> str:
    """``ql-algo-trading-{env}/broker/`` (the same prefix the CDK stack grants)."""
    return f"{env.prefix}/broker/"


def secret_name(env: EnvironmentConfig, user_id: str, client_id: str) -> str:
    """``ql-algo-trading-{env}/broker/{user_id}/{client_id}``."""
    return f"{secret_prefix(env)}{user_id}/{client_id}"


class BrokerSecretStore:
    """Reads and writes the per-account secrets. ``client`` defaults to a boto3 Secrets Manager
    client of the environment's region (moto in tests)."""

    def __init__(self, env: EnvironmentConfig, client: Any | None = None) -> None:
        install_log_redaction()
        self.env = env
        self.client = client or boto3.client("secretsmanager", region_name=os.environ.get("AWS_REGION") or env.region)
        self.kms_key_id = os.environ.get("BROKER_SECRETS_KMS_KEY_ARN") or None

    def name_for(self, user_id: str, client_id: str) -> str:
        return secret_name(self.env, user_id, client_id)

    def checksum_name_for(self, user_id: str, client_id: str) -> str:
        """The account's postback checksum secret (:mod:`shared_utils.accounts.checksum_secrets`)."""
        from shared_utils.accounts.checksum_secrets import checksum_secret_name

        return checksum_secret_name(self.env.prefix, user_id, client_id)

    def _checksum_name(self, name: str) -> str | None:
        prefix = secret_prefix(self.env)
        if not name.startswith(prefix) or name[len(prefix):].count("/") != 1:
            return None
        user_id, client_id = name[len(prefix):].split("/")
        return self.checksum_name_for(user_id, client_id)

    def _sync_checksum(self, name: str, secret: AccountSecret) -> None:
        """Keep the account's checksum secret (api_secret only) in step with its broker secret."""
        from shared_utils.accounts import checksum_secrets

        checksum = self._checksum_name(name)
        if checksum is not None:
            checksum_secrets.sync(self.client, checksum, secret.broker, secret.credentials.api_secret, self.kms_key_id)

    def create(self, name: str, secret: AccountSecret, tags: dict[str, str] | None = None) -> None:
        """Create the secret; if one with that name exists already (a retried create), its
        value is overwritten."""
        kwargs: dict[str, Any] = {"Name": name, "SecretString": secret.to_json(),
                                  "Description": "Broker credentials and daily session of one account",
                                  "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}
        if self.kms_key_id:
            kwargs["KmsKeyId"] = self.kms_key_id
        try:
            self.client.create_secret(**kwargs)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceExistsException":
                raise
            self.write(name, secret)
            return
        self._sync_checksum(name, secret)

    def read(self, name: str) -> AccountSecret:
        """Raises SecretMissing when the secret does not exist."""
        try:
            value = self.client.get_secret_value(SecretId=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                raise SecretMissing(f"broker secret {name} not found") from None
            raise
        return AccountSecret.from_json(value["SecretString"])

    def write(self, name: str, secret: AccountSecret) -> None:
        self.client.put_secret_value(SecretId=name, SecretString=secret.to_json())
        self._sync_checksum(name, secret)

    def delete(self, name: str) -> None:
        """Delete at once (no recovery window), so the same client_id can be added again."""
        try:
            self.client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        checksum = self._checksum_name(name)
        if checksum is not None:
            from shared_utils.accounts import checksum_secrets

            checksum_secrets.delete(self.client, checksum)
