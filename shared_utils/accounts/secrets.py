"""Per-account broker secrets (credentials and the day's session tokens), KMS envelope-encrypted
in the broker accounts table (issue 16: credentials at scale).

Why not one Secrets Manager secret per account (the previous layout): a secret costs $0.40 a
month, so 2,000 accounts cost $800/month, growing with every account. Options compared in
bench/cost.py (``credentials_cost``): one secret per trader (all their accounts in one JSON)
still costs $0.40 per trader-month and makes concurrent session writes of two accounts of
the same trader race (Secrets Manager has no conditional put); **KMS envelope encryption in
DynamoDB** costs one KMS key ($1/month) + $0.03 per 10,000 KMS requests (one GenerateDataKey
per write, one Decrypt per read) + DynamoDB requests already paid, flat in the number of
accounts. Only the functions holding ``kms:Decrypt`` on the key (log in, place orders,
refresh, postbacks) can read a value; the table alone reveals nothing.

Layout (one item per broker account, in the broker accounts table but outside the traders'
partitions: a Scan filtered on ``entity_type == BROKER_ACCOUNT`` and a Query of a user's
partition never see it)::

    user_id (PK):   "CREDENTIALS#{user_id}"
    client_id (SK): "CRED#{client_id}"
    entity_type:    "BROKER_CREDENTIALS"
    name:           ql-algo-trading-{env}/broker/{user_id}/{client_id}   (the reference kept on the account)
    key_id:         the KMS key ARN that wrapped the data key
    edk:            KMS CiphertextBlob of the AES-256 data key (EncryptionContext {"broker_secret": name})
    nonce, ct:      AES-256-GCM nonce and ciphertext of the JSON below (associated data: name)

Plaintext JSON::
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
The key is ``BROKER_SECRETS_KMS_KEY_ARN`` (the deployed stacks); unset (tests, ``deploy.sh -e
local``) the store uses ``alias/{prefix}/broker-secrets`` and creates it in moto when missing.

Migration: a name without an item but with a legacy Secrets Manager secret is moved on first
read (item written, secret deleted without recovery); :meth:`BrokerSecretStore.migrate_all`
moves every legacy secret of the environment at once.

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
    (``botocore.parsers``) at DEBUG, which includes ``SecretString`` and KMS's ``Plaintext``
    data keys. Any such record is
    replaced by a placeholder, whatever level someone turns botocore logging up to."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # pragma: no cover - a broken record is dropped, never printed raw
            return False
        if "SecretString" in text or "Plaintext" in text:  # Secrets Manager value / KMS data key
            record.msg, record.args = "[redacted: secret payload]", None
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


class SecretUnreadable(SecretMissing):
    """The stored value does not decrypt: copied onto another account, its KMS key gone (a
    restarted local platform), or tampered with. Treated like a missing secret (re-add the
    account's credentials)."""


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
    """``ql-algo-trading-{env}/broker/`` (the prefix of every reference; legacy secrets' names)."""
    return f"{env.prefix}/broker/"


def secret_name(env: EnvironmentConfig, user_id: str, client_id: str) -> str:
    """``ql-algo-trading-{env}/broker/{user_id}/{client_id}``."""
    return f"{secret_prefix(env)}{user_id}/{client_id}"


ENTITY_TYPE = "BROKER_CREDENTIALS"


class BrokerSecretStore:
    """Reads and writes the per-account secrets (KMS envelope encryption in the broker accounts
    table; see the module doc). Same interface as the former Secrets Manager store.

    Args:
        env: the environment (table name, prefix, region).
        client: legacy Secrets Manager client (migration only; default boto3's).
        dynamodb / kms: injectable clients (default: the process DynamoDB client, boto3 KMS).
    """

    def __init__(self, env: EnvironmentConfig, client: Any | None = None, *, dynamodb: Any | None = None,
                 kms: Any | None = None) -> None:
        install_log_redaction()
        self.env = env
        self._region = os.environ.get("AWS_REGION") or env.region
        self._sm = client
        self._ddb = dynamodb
        self._kms = kms
        self.kms_key_id = os.environ.get("BROKER_SECRETS_KMS_KEY_ARN") or None
        self.table_name = os.environ.get("BROKER_ACCOUNTS_TABLE_NAME") or env.broker_accounts_table_name

    # ---- clients ------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The legacy Secrets Manager client (migration)."""
        if self._sm is None:
            self._sm = boto3.client("secretsmanager", region_name=self._region)
        return self._sm

    @property
    def dynamodb(self) -> Any:
        if self._ddb is None:
            from shared_utils.persistence.table import dynamodb_client

            self._ddb = dynamodb_client()
        return self._ddb

    @property
    def kms(self) -> Any:
        if self._kms is None:
            self._kms = boto3.client("kms", region_name=self._region)
        return self._kms

    def _key(self) -> str:
        if self.kms_key_id:
            return self.kms_key_id
        alias = f"alias/{self.env.prefix}/broker-secrets"
        try:
            self.kms_key_id = self.kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NotFoundException" or self.env.name != "local":
                raise
            # local / test only (a deployed stack always sets BROKER_SECRETS_KMS_KEY_ARN)
            arn = self.kms.create_key(Description="local broker secrets key")["KeyMetadata"]["Arn"]
            self.kms.create_alias(AliasName=alias, TargetKeyId=arn)
            self.kms_key_id = arn
        return self.kms_key_id

    # ---- item layout ----------------------------------------------------------------------------
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

    def _item_key(self, name: str) -> dict[str, Any]:
        prefix = secret_prefix(self.env)
        if not name.startswith(prefix) or name.count("/") < prefix.count("/") + 1:
            raise ValueError(f"not a broker secret reference: {name!r}")
        user_id, client_id = name[len(prefix):].rsplit("/", 1)
        return {"user_id": {"S": f"CREDENTIALS#{user_id}"}, "client_id": {"S": f"CRED#{client_id}"}}

    def _seal(self, name: str, secret: AccountSecret) -> dict[str, Any]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        data_key = self.kms.generate_data_key(KeyId=self._key(), KeySpec="AES_256",
                                              EncryptionContext={"broker_secret": name})
        nonce = os.urandom(12)
        ct = AESGCM(data_key["Plaintext"]).encrypt(nonce, secret.to_json().encode(), name.encode())
        return {**self._item_key(name), "entity_type": {"S": ENTITY_TYPE}, "name": {"S": name},
                "key_id": {"S": data_key["KeyId"]}, "edk": {"B": data_key["CiphertextBlob"]},
                "nonce": {"B": nonce}, "ct": {"B": ct}, "schema": {"N": str(SCHEMA_VERSION)}}

    def _open(self, name: str, item: dict[str, Any]) -> AccountSecret:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            key = self.kms.decrypt(CiphertextBlob=item["edk"]["B"], EncryptionContext={"broker_secret": name})
            plain = AESGCM(key["Plaintext"]).decrypt(item["nonce"]["B"], item["ct"]["B"], name.encode())
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("InvalidCiphertextException", "NotFoundException",
                                                     "IncorrectKeyException", "KMSInvalidStateException"):
                raise
            raise SecretUnreadable(f"broker secret {name} cannot be decrypted ({exc.response['Error']['Code']})") from None
        except (InvalidTag, KeyError, ValueError):
            raise SecretUnreadable(f"broker secret {name} cannot be decrypted") from None
        return AccountSecret.from_json(plain.decode())

    # ---- interface ------------------------------------------------------------------------------
    def create(self, name: str, secret: AccountSecret, tags: dict[str, str] | None = None) -> None:
        """Store the account's secret (overwrites an existing one: a retried create).
        ``tags`` are accepted for interface compatibility (items carry none)."""
        self.write(name, secret)

    def read(self, name: str) -> AccountSecret:
        """One GetItem + one KMS Decrypt. Raises SecretMissing when there is no value (a legacy
        Secrets Manager secret of that name is migrated first)."""
        item = self.dynamodb.get_item(TableName=self.table_name, Key=self._item_key(name),
                                      ConsistentRead=True).get("Item")
        if item is None:
            legacy = self._read_legacy(name)
            if legacy is None:
                raise SecretMissing(f"broker secret {name} not found")
            self.write(name, legacy)
            self._delete_legacy(name)
            return legacy
        return self._open(name, item)

    def write(self, name: str, secret: AccountSecret) -> None:
        """One KMS GenerateDataKey + one PutItem (and the account's postback checksum secret kept
        in step: the webhook reads only that, issue 14 finding 8)."""
        self.dynamodb.put_item(TableName=self.table_name, Item=self._seal(name, secret))
        self._sync_checksum(name, secret)

    def delete(self, name: str) -> None:
        """Delete the item (and a legacy secret of that name), at once: the same client_id can
        be added again."""
        self.dynamodb.delete_item(TableName=self.table_name, Key=self._item_key(name))
        self._delete_legacy(name)
        checksum = self._checksum_name(name)
        if checksum is not None:
            from shared_utils.accounts import checksum_secrets

            checksum_secrets.delete(self.client, checksum)

    def names(self) -> list[str]:
        """Every stored reference of this environment (a filtered Scan; operators only)."""
        out: list[str] = []
        for page in self.dynamodb.get_paginator("scan").paginate(
                TableName=self.table_name, FilterExpression="entity_type = :t",
                ExpressionAttributeValues={":t": {"S": ENTITY_TYPE}}, ProjectionExpression="#n",
                ExpressionAttributeNames={"#n": "name"}):
            out.extend(i["name"]["S"] for i in page.get("Items", []))
        return sorted(out)

    # ---- legacy Secrets Manager layout ----------------------------------------------------------
    def _read_legacy(self, name: str) -> AccountSecret | None:
        try:
            value = self.client.get_secret_value(SecretId=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("ResourceNotFoundException", "AccessDeniedException"):
                return None
            raise
        return AccountSecret.from_json(value["SecretString"])

    def _delete_legacy(self, name: str) -> None:
        try:
            self.client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("ResourceNotFoundException", "AccessDeniedException"):
                raise

    def migrate_all(self) -> int:
        """Move every legacy per-account secret of this environment into the table; returns
        how many moved."""
        moved = 0
        paginator = self.client.get_paginator("list_secrets")
        for page in paginator.paginate(Filters=[{"Key": "name", "Values": [secret_prefix(self.env)]}]):
            for entry in page.get("SecretList", []):
                name = entry["Name"]
                legacy = self._read_legacy(name)
                if legacy is not None:
                    self.write(name, legacy)
                    self._delete_legacy(name)
                    moved += 1
        return moved
