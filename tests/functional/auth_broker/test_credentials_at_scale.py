"""Issue 16: credentials at scale. No Secrets Manager secret per account: the values are KMS
envelope-encrypted in the broker accounts table (nothing readable at rest, an item cannot be
swapped onto another account), legacy secrets migrate behind the same interface, and removal
deletes the value.

The one exception (issue 14 finding 8, merged after): a Zerodha account with an api_secret has a
postback-checksum secret holding that value alone, so the public postback function never
decrypts the full credentials (shared_utils.accounts.checksum_secrets)."""

from __future__ import annotations

import json

import boto3
import pytest

from shared_utils.accounts.secrets import AccountSecret, BrokerSecretStore, SecretMissing
from shared_utils.brokers.base import BrokerCredentials
from tests.functional.auth_broker.conftest import ANGEL, KITE, angel_body, zerodha_body


def raw_items(env_config):
    client = boto3.client("dynamodb", region_name="ap-south-1")
    return client.scan(TableName=env_config.broker_accounts_table_name)["Items"]


def secret_names(sm) -> tuple[list[str], list[str]]:
    """(broker secrets, postback-checksum secrets) in Secrets Manager, by name."""
    names = sorted(s["Name"] for s in sm.list_secrets()["SecretList"])
    checksum = [n for n in names if n.startswith(CHECKSUM_PREFIX)]
    return [n for n in names if n not in checksum], checksum


CHECKSUM_PREFIX = "ql-algo-trading-local/postback-checksum/"


def test_nothing_readable_at_rest_and_no_secret_per_account(api, sm, env_config):
    for n in range(3):
        assert api("POST", "/broker-accounts", zerodha_body(f"ZX{n}"))[0] == 201
    assert api("POST", "/broker-accounts", angel_body())[0] == 201
    broker, checksum = secret_names(sm)
    assert broker == []
    # only the Zerodha accounts' checksum secrets, each holding the api_secret alone
    assert checksum == [f"{CHECKSUM_PREFIX}user-a/ZX{n}" for n in range(3)]
    for name in checksum:
        assert set(json.loads(sm.get_secret_value(SecretId=name)["SecretString"])) == {"schema", "api_secret"}
    dump = json.dumps(raw_items(env_config), default=str)
    for value in (KITE["api_key"], KITE["api_secret"], ANGEL["totp_secret"], ANGEL["api_key"]):
        assert value not in dump
    # the traders' partitions still list only accounts
    assert sorted(a["client_id"] for a in api("GET", "/broker-accounts")[1]["items"]) == ["A123", "ZX0", "ZX1", "ZX2"]


def test_an_item_copied_onto_another_account_does_not_decrypt(api, env_config):
    api("POST", "/broker-accounts", zerodha_body("ZX1"))
    api("POST", "/broker-accounts", zerodha_body("ZX2"))
    client = boto3.client("dynamodb", region_name="ap-south-1")
    items = {i["client_id"]["S"]: i for i in raw_items(env_config) if i["client_id"]["S"].startswith("CRED#")}
    stolen = {**items["CRED#ZX1"], "client_id": {"S": "CRED#ZX2"}}
    client.put_item(TableName=env_config.broker_accounts_table_name, Item=stolen)
    store = BrokerSecretStore(env_config)
    from shared_utils.accounts.secrets import SecretUnreadable

    with pytest.raises(SecretUnreadable):
        store.read(store.name_for("user-a", "ZX2"))
    # through the API: the same answer as a missing secret (add the credentials again), never another's value
    status, body = api("POST", "/broker-accounts/ZX2/login")
    assert status == 409 and "missing zerodha credentials" in body["message"], body
    assert body["reasons"][1].startswith("add them with PUT /broker-accounts/ZX2"), body


def test_legacy_secrets_manager_secret_migrates_on_read(api, sm, env_config):
    store = BrokerSecretStore(env_config)
    name = store.name_for("user-a", "OLD1")
    legacy = AccountSecret(broker="zerodha", credentials=BrokerCredentials(api_key="oldkey", api_secret="oldsecret"))
    sm.create_secret(Name=name, SecretString=legacy.to_json())
    assert store.read(name).credentials.api_secret == "oldsecret"
    # moved, the $0.40/month broker secret deleted (the api_secret alone stays, for postback checksums)
    assert secret_names(sm) == ([], [f"{CHECKSUM_PREFIX}user-a/OLD1"])
    assert store.names() == [name]
    assert store.read(name).credentials.api_key == "oldkey"  # now from the table

    sm.create_secret(Name=store.name_for("user-b", "OLD2"), SecretString=legacy.to_json())
    assert store.migrate_all() == 1
    assert secret_names(sm) == ([], [f"{CHECKSUM_PREFIX}user-a/OLD1", f"{CHECKSUM_PREFIX}user-b/OLD2"])


def test_removal_deletes_the_value(api, env_config):
    api("POST", "/broker-accounts", zerodha_body())
    assert api("DELETE", "/broker-accounts/ZX1234")[0] == 200
    store = BrokerSecretStore(env_config)
    with pytest.raises(SecretMissing):
        store.read(store.name_for("user-a", "ZX1234"))
    assert not [i for i in raw_items(env_config) if i["client_id"]["S"].startswith("CRED#")]
