"""AWS on this machine: a moto server on 127.0.0.1 with the platform's resources created from
the same definitions the CDK stacks use (``table_schema`` for the tables, ``identity`` for the
user pool), plus a state file so a restart keeps baskets, strategies and history.

Never imported by Lambda code.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

import logging

from shared_utils.config import EnvironmentConfig
from shared_utils.identity import CUSTOM_ATTRIBUTES, GROUPS, PASSWORD_POLICY
from shared_utils.persistence.table import deserialize, reset_clients, serialize
from shared_utils.persistence.table_schema import broker_accounts_create_table_kwargs, create_table_kwargs

logging.getLogger("werkzeug").setLevel(logging.WARNING)

REGION = "ap-south-1"
ACCOUNT = "123456789012"
LOCAL_PASSWORD = "Local-Passw0rd!"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Identity:
    """The local user pool: ids and the JWKS/issuer a token verifier needs."""

    endpoint: str
    user_pool_id: str
    client_id: str

    @property
    def jwks_url(self) -> str:
        return f"{self.endpoint}/{self.user_pool_id}/.well-known/jwks.json"

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.user_pool_id}"


class LocalAws:
    """A moto server in this process on 127.0.0.1 (``port=0`` picks a free one)."""

    def __init__(self, port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        from local.moto_threads import make_dynamodb_thread_safe

        make_dynamodb_thread_safe()  # the server answers each request on its own thread
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port or free_port(), verbose=False)
        self._server.start()
        host, bound = self._server.get_host_and_port()
        self.endpoint = f"http://127.0.0.1:{bound}"
        self.port = bound
        self._lock = threading.Lock()

    def configure_environment(self) -> None:
        """Point every boto3 client of this process at the moto server (no real AWS)."""
        os.environ.update({
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
        })
        os.environ.pop("AWS_PROFILE", None)
        reset_clients()

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="local", aws_secret_access_key="local")

    def stop(self) -> None:
        self._server.stop()

    # -- bootstrap ----------------------------------------------------------------------------------
    def create_tables(self, env: EnvironmentConfig) -> None:
        dynamodb = self.client("dynamodb")
        existing = set(dynamodb.list_tables()["TableNames"])
        if env.table_name not in existing:
            dynamodb.create_table(**create_table_kwargs(env.table_name))
        if env.broker_accounts_table_name not in existing:
            dynamodb.create_table(**broker_accounts_create_table_kwargs(env.broker_accounts_table_name))

    def create_identity(self, env: EnvironmentConfig) -> Identity:
        """The user pool (groups ADMIN, TRADER), and an app client allowing SRP, refresh and the
        admin password flow the local token command uses."""
        cognito = self.client("cognito-idp")
        name = env.resource_name("users")
        pools = [p for p in cognito.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == name]
        if pools:
            pool_id = pools[0]["Id"]
        else:
            pool_id = cognito.create_user_pool(
                PoolName=name, Policies={"PasswordPolicy": PASSWORD_POLICY},
                UsernameAttributes=["email"], AutoVerifiedAttributes=["email"],
                Schema=[{"Name": attr, "AttributeDataType": "String", "Mutable": True} for attr in CUSTOM_ATTRIBUTES],
            )["UserPool"]["Id"]
            for group in GROUPS:
                cognito.create_group(GroupName=group, UserPoolId=pool_id)
        clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
        if clients:
            client_id = clients[0]["ClientId"]
        else:
            client_id = cognito.create_user_pool_client(
                UserPoolId=pool_id, ClientName=env.resource_name("web"), GenerateSecret=False,
                ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
            )["UserPoolClient"]["ClientId"]
        os.environ["USER_POOL_ID"] = pool_id  # as the auth-broker stack sets it on its functions
        return Identity(self.endpoint, pool_id, client_id)

    def ensure_user(self, identity: Identity, email: str, group: str = "TRADER", name: str = "") -> str:
        """Create ``email`` in the pool if missing (permanent password), add it to ``group``;
        returns its ``sub`` (the platform's user_id)."""
        cognito = self.client("cognito-idp")
        try:
            user = cognito.admin_get_user(UserPoolId=identity.user_pool_id, Username=email)
        except cognito.exceptions.UserNotFoundException:
            attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
            if name:
                attributes.append({"Name": "name", "Value": name})
            cognito.admin_create_user(UserPoolId=identity.user_pool_id, Username=email, UserAttributes=attributes,
                                      MessageAction="SUPPRESS")
            cognito.admin_set_user_password(UserPoolId=identity.user_pool_id, Username=email, Password=LOCAL_PASSWORD,
                                            Permanent=True)
            cognito.admin_add_user_to_group(UserPoolId=identity.user_pool_id, Username=email, GroupName=group)
            user = cognito.admin_get_user(UserPoolId=identity.user_pool_id, Username=email)
        return next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")

    def id_token(self, identity: Identity, email: str) -> str:
        """A fresh Cognito ID token for ``email`` (created if needed)."""
        self.ensure_user(identity, email)
        result = self.client("cognito-idp").admin_initiate_auth(
            UserPoolId=identity.user_pool_id, ClientId=identity.client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": LOCAL_PASSWORD})
        return result["AuthenticationResult"]["IdToken"]

    # -- state file ---------------------------------------------------------------------------------
    def save_state(self, path: Path, env: EnvironmentConfig, identity: Identity,
                   extra: dict[str, Any] | None = None) -> None:
        """Write every item of the platform's tables and the pool's users (with their subs) to
        ``path`` (JSON), atomically; ``extra`` top-level keys go along (the local platform saves
        ``platform_clock``, where its clock was, so a restart resumes after it)."""
        with self._lock:
            dynamodb = self.client("dynamodb")
            tables: dict[str, list[dict[str, Any]]] = {}
            for table in (env.table_name, env.broker_accounts_table_name):
                items: list[dict[str, Any]] = []
                for page in dynamodb.get_paginator("scan").paginate(TableName=table):
                    # encrypted broker credentials (and notification bot tokens, issue 18) are not
                    # kept: moto's KMS key dies with the process
                    items.extend(i for i in page["Items"]
                                 if i.get("entity_type", {}).get("S") not in ("BROKER_CREDENTIALS",
                                                                              "NOTIFICATION_SECRET"))
                tables[table] = items
            users = []
            cognito = self.client("cognito-idp")
            for page in cognito.get_paginator("list_users").paginate(UserPoolId=identity.user_pool_id):
                for user in page["Users"]:
                    attrs = {a["Name"]: a["Value"] for a in user["Attributes"]}
                    groups = [g["GroupName"] for g in cognito.admin_list_groups_for_user(
                        UserPoolId=identity.user_pool_id, Username=user["Username"])["Groups"]]
                    users.append({"username": user["Username"], "attributes": attrs, "groups": groups})
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({**(extra or {}), "tables": tables, "users": users}, default=str))
            tmp.replace(path)

    def load_state(self, path: Path, identity: Identity) -> int:
        """Restore a state file written by :meth:`save_state`; users keep their ``sub`` (so
        their items stay theirs). Returns the number of items restored."""
        if not path.exists():
            return 0
        data = json.loads(path.read_text())
        dynamodb = self.client("dynamodb")
        count = 0
        for table, items in data.get("tables", {}).items():
            for start in range(0, len(items), 25):
                batch = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
                dynamodb.batch_write_item(RequestItems={table: batch})
                count += len(batch)
        for user in data.get("users", []):
            email = user["attributes"].get("email", user["username"])
            self.ensure_user(identity, email, (user.get("groups") or ["TRADER"])[0], user["attributes"].get("name", ""))
            _force_sub(identity.user_pool_id, email, user["attributes"]["sub"])
        return count


def _force_sub(pool_id: str, username: str, sub: str) -> None:
    """Give a re-created local user its old ``sub`` (moto assigns a random one): reaches into
    the in-process moto backend, which only the local platform does."""
    from moto.cognitoidp.models import cognitoidp_backends

    backend = cognitoidp_backends[ACCOUNT][REGION]
    pool = backend.user_pools[pool_id]
    user = pool.users.get(username) or next(u for u in pool.users.values()
                                            if any(a["Value"] == username for a in u.attributes))
    user.id = sub
    for attribute in user.attributes:
        if attribute["Name"] == "sub":
            attribute["Value"] = sub


__all__ = ["LocalAws", "Identity", "free_port", "serialize", "deserialize"]
