"""Fixtures of the auth-broker tests: moto (DynamoDB, Secrets Manager, SNS/SQS, Cognito), the
broker fakes on 127.0.0.1 with their hosts in ``QL_BROKER_ROOT_*``, a frozen clock (Mon 17 Aug
2026 08:40 IST), and ``api(...)`` calling the real handlers through ``local.apigw``."""

from __future__ import annotations

import json
import socket
from datetime import datetime

import pyotp
import pytest

from shared_utils.clock import IST, FixedClock, default_clock, set_default_clock

INSTRUMENTS = [("NFO", "NIFTY2681825000CE", "43650", 65, "0.05"), ("NFO", "NIFTY2681825000PE", "43651", 65, "0.05")]
MONDAY_0840 = datetime(2026, 8, 17, 8, 40, tzinfo=IST)

# credentials of the fakes: distinctive strings so a leak into a log or answer is easy to find
KITE = {"api_key": "kitekey7Q2", "api_secret": "kitesecretXYZ987", "request_token": "kiteRTgood123"}
ANGEL = {"api_key": "angelkeyP9", "client_code": "A123", "password": "8642", "totp_secret": pyotp.random_base32()}  # 4-digit MPIN
# Noren OAuth app (2026): client_id (stored as api_key) and secret key (stored as api_secret)
NOREN = {"uid": "FA1234", "client_id": "FA1234_Uclient", "api_secret": "norenapisecretK3"}


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Any connection to a host other than 127.0.0.1 fails the test."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"test tried to reach {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def clock():
    previous = default_clock()
    fixed = FixedClock(MONDAY_0840)
    set_default_clock(fixed)
    yield fixed
    set_default_clock(previous)


@pytest.fixture
def kite(monkeypatch):
    from local.fakes.kite import FakeKiteServer

    with FakeKiteServer(INSTRUMENTS, api_key=KITE["api_key"], api_secret=KITE["api_secret"],
                        request_token=KITE["request_token"]) as server:
        monkeypatch.setenv("QL_BROKER_ROOT_ZERODHA", server.url)
        yield server


@pytest.fixture
def angel(monkeypatch):
    from local.fakes.smartapi import FakeSmartApiServer

    with FakeSmartApiServer(INSTRUMENTS, api_key=ANGEL["api_key"], client_code=ANGEL["client_code"],
                            password=ANGEL["password"], totp_secret=ANGEL["totp_secret"]) as server:
        monkeypatch.setenv("QL_BROKER_ROOT_ANGEL", server.url)
        yield server


@pytest.fixture
def noren(monkeypatch):
    from local.fakes.noren import FakeNorenServer

    with FakeNorenServer(INSTRUMENTS, uid=NOREN["uid"], client_id=NOREN["client_id"], secret_key=NOREN["api_secret"],
                         redirect_url="https://api.example.invalid/broker-sessions/finvasia/callback") as server:
        monkeypatch.setenv("QL_BROKER_ROOT_FINVASIA", server.url)
        monkeypatch.setenv("QL_BROKER_ROOT_ZEBU", server.url)
        yield server


def noren_oauth_login(api, client_id="FA1234", broker="finvasia", code_filter=None):
    """The trader's whole Noren login through the API: POST .../login -> the login URL -> the
    broker's authorize page (the fake; it redirects with code + state) -> our callback.
    Returns (status, body) of the callback."""
    import requests
    from urllib.parse import parse_qs, urlsplit

    status, login = api("POST", f"/broker-accounts/{client_id}/login")
    assert status == 200 and login["action"] == "OPEN_LOGIN_URL", login
    redirect = requests.get(login["login_url"], allow_redirects=False, timeout=3)
    assert redirect.status_code == 302, redirect.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect.headers["Location"]).query).items()}
    if code_filter:
        query = code_filter(query)
    return api("GET", f"/broker-sessions/{broker}/callback", user=None, query=query)


@pytest.fixture
def sm(aws):
    import boto3

    return boto3.client("secretsmanager", region_name="ap-south-1")


class Vault:
    """What the login / order functions see: ``read(client_id) -> dict`` decrypts the account's
    stored secret (KMS envelope in the broker accounts table) into its JSON; ``names()``."""

    def __init__(self, store) -> None:
        self.store = store

    def read(self, client_id: str, user: str = "user-a") -> dict:
        return json.loads(self.store.read(self.store.name_for(user, client_id)).to_json())

    def names(self) -> list[str]:
        return self.store.names()


@pytest.fixture
def vault(repos, env_config):
    from shared_utils.accounts.secrets import BrokerSecretStore

    return Vault(BrokerSecretStore(env_config))


MFA_PASSWORD = "Local-Passw0rd!"


def make_pool(monkeypatch, users_with_mfa=("user-a", "user-b"), users_without=("user-nomfa",)):
    """A moto user pool (``USER_POOL_ID`` set) whose users are named like the tests' subs;
    ``users_with_mfa`` ran the real software-token MFA setup. Returns (client, pool_id, app_client_id)."""
    import boto3

    from shared_utils.accounts.mfa import enable_software_token_mfa

    idp = boto3.client("cognito-idp", region_name="ap-south-1")
    pool_id = idp.create_user_pool(PoolName="ql-users")["UserPool"]["Id"]
    # as the CDK pool: MFA OPTIONAL, software tokens (TOTP) enabled, no SMS
    idp.set_user_pool_mfa_config(UserPoolId=pool_id, MfaConfiguration="OPTIONAL",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    app = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="web",
                                      ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    for name in (*users_with_mfa, *users_without):
        idp.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": f"{name}@example.in"}])
        idp.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=MFA_PASSWORD, Permanent=True)
    for name in users_with_mfa:
        enable_software_token_mfa(idp, pool_id, app, name, MFA_PASSWORD)
    monkeypatch.setenv("USER_POOL_ID", pool_id)
    return idp, pool_id, app


@pytest.fixture
def api(repos, clock, monkeypatch):
    """``api(method, path, body=None, user="user-a", query=None) -> (status, json)``; user=None
    sends no authorizer claims."""
    from lambda_functions.auth_broker import common
    from local.apigw import call

    monkeypatch.delenv("ALERTS_TOPIC_ARN", raising=False)
    common.reset_caches()
    make_pool(monkeypatch)  # user-a and user-b have TOTP MFA (LIVE switches need it)

    def _api(method, path, body=None, user="user-a", query=None):
        return call(method, path, body, user_id=user, query=query)

    _api.repos = repos
    _api.clock = clock
    yield _api
    common.reset_caches()


def zerodha_body(client_id="ZX1234", **over):
    body = {"broker": "zerodha", "client_id": client_id, "display_name": "Kite main",
            "credentials": {"api_key": KITE["api_key"], "api_secret": KITE["api_secret"]}}
    body.update(over)
    return body


def angel_body(client_id="A123", **over):
    body = {"broker": "angel", "client_id": client_id, "display_name": "Angel",
            "credentials": {"api_key": ANGEL["api_key"], "password": ANGEL["password"],
                            "totp_secret": ANGEL["totp_secret"]}}
    body.update(over)
    return body


def noren_body(client_id="FA1234", **over):
    body = {"broker": "finvasia", "client_id": client_id, "display_name": "Shoonya",
            "credentials": {"api_key": NOREN["client_id"], "api_secret": NOREN["api_secret"]}}
    body.update(over)
    return body


def strategy(api, days=("MONDAY",), user="user-a"):
    """A standalone ACTIVE strategy through the options API; returns its id."""
    status, body = api("POST", "/options/strategies", {
        "strategy_name": "IC", "entry_time": "09:30", "exit_time": "15:20", "entry_days": list(days),
        "exit_days": list(days), "product": "NRML", "underlying": "NIFTY", "is_intra_day": False}, user)
    assert status == 201, body
    return body["strategy_id"]


def allocate(api, strategy_id, client_id, user="user-a", status="ACTIVE"):
    code, body = api("POST", f"/options/strategies/{strategy_id}/allocations",
                     {"client_id": client_id, "status": status,
                      "allocation_config": {"type": "STRATEGY_LEVEL", "strategy_lots_multiplier": 1}}, user)
    assert code == 201, body
