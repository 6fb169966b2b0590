"""Per-account postback checksum secrets: the Kite ``api_secret`` alone, apart from the rest.

Zerodha signs each postback with ``sha256(order_id + order_timestamp + api_secret)``; verifying
it needs the account's api_secret and nothing else. The account's broker secret
(:mod:`shared_utils.accounts.secrets`) also holds the API key, password, TOTP seed and the day's
access token, so the public postback function must not read it. Each Zerodha account with an
api_secret therefore gets a second secret holding only that value::

    name:  ql-algo-trading-{env}/postback-checksum/{user_id}/{client_id}
    value: {"schema": 1, "api_secret": "..."}

kept in step by :class:`~shared_utils.accounts.secrets.BrokerSecretStore` (created/updated with
the broker secret, deleted with it). The postbacks function may read only this prefix (CDK:
``checksum_secret_arn_pattern``) and reads only the secret of the account that owns the order
(found by the order's tag). Same KMS key as the broker secrets.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

SCHEMA_VERSION = 1
CHECKSUM_BROKERS = ("zerodha",)


def checksum_secret_prefix(env_prefix: str) -> str:
    """``ql-algo-trading-{env}/postback-checksum/`` for ``env_prefix`` = ``ql-algo-trading-{env}``."""
    return f"{env_prefix}/postback-checksum/"


def checksum_secret_name(env_prefix: str, user_id: str, client_id: str) -> str:
    """``ql-algo-trading-{env}/postback-checksum/{user_id}/{client_id}``."""
    return f"{checksum_secret_prefix(env_prefix)}{user_id}/{client_id}"


def sync(client: Any, name: str, broker: str, api_secret: str | None, kms_key_id: str | None = None) -> bool:
    """Create or update the checksum secret ``name`` when ``broker`` signs postbacks and has an
    ``api_secret`` (a Zerodha account without one loses it). Returns True when a secret was
    written."""
    if broker not in CHECKSUM_BROKERS:
        return False  # unsigned postbacks are refused: no checksum secret, no call
    if not api_secret:
        delete(client, name)
        return False
    value = json.dumps({"schema": SCHEMA_VERSION, "api_secret": api_secret})
    try:
        client.put_secret_value(SecretId=name, SecretString=value)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        kwargs: dict[str, Any] = {"Name": name, "SecretString": value,
                                  "Description": "Kite api_secret of one account, for postback checksums only"}
        if kms_key_id:
            kwargs["KmsKeyId"] = kms_key_id
        client.create_secret(**kwargs)
    return True


def read(client: Any, name: str) -> str | None:
    """The api_secret in ``name``, or None when the secret does not exist."""
    try:
        value = client.get_secret_value(SecretId=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise
    return json.loads(value["SecretString"]).get("api_secret") or None


def delete(client: Any, name: str) -> None:
    """Delete at once (no recovery window); a missing secret is fine."""
    try:
        client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
