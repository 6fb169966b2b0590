"""Daily broker logins against the fakes: Zerodha OAuth callback (good / forged request_token /
forged state), Angel One and Finvasia TOTP logins, and the BrokerClientProvider."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from shared_utils.clock import IST
from tests.functional.auth_broker.conftest import ANGEL, KITE, NOREN, angel_body, noren_body, noren_oauth_login, zerodha_body

CALLBACK = "/broker-sessions/zerodha/callback"


def secret(vault, client_id, user="user-a"):
    """The account's decrypted secret (KMS envelope in the table)."""
    return vault.read(client_id, user)


def login_state(api):
    status, body = api("POST", "/broker-accounts/ZX1234/login")
    assert status == 200 and body["action"] == "OPEN_LOGIN_URL", body
    url = urlsplit(body["login_url"])
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://kite.zerodha.com/connect/login"
    assert query["v"] == ["3"] and query["api_key"] == [KITE["api_key"]]
    assert KITE["api_secret"] not in body["login_url"]
    return parse_qs(query["redirect_params"][0])["state"][0]


def callback(api, request_token, state):
    return api("GET", CALLBACK, user=None, query={"request_token": request_token, "state": state,
                                                   "action": "login", "status": "success"})


def test_zerodha_oauth_callback_stores_the_access_token_until_0600_ist(api, kite, vault):
    api("POST", "/broker-accounts", zerodha_body())
    state = login_state(api)
    status, body = callback(api, KITE["request_token"], state)
    assert status == 200, body
    assert body["action"] == "LOGGED_IN" and body["session"]["status"] == "VALID"
    assert datetime.fromisoformat(body["session"]["valid_until"]) == datetime(2026, 8, 18, 6, 0, tzinfo=IST)
    assert kite.access_token not in json.dumps(body)
    stored = secret(vault, "ZX1234")
    assert stored["session"]["access_token"] == kite.access_token and stored["oauth_nonce"] is None
    # a state works once
    status, _ = callback(api, KITE["request_token"], state)
    assert status == 403
    # the account can now go LIVE and the engine gets a working client
    assert api("PUT", "/broker-accounts/ZX1234", {"trading_mode": "LIVE"})[0] == 200
    from lambda_functions.auth_broker.common import secret_store
    from shared_utils.accounts import BrokerClientProvider

    account = api.repos.accounts.get("user-a", "ZX1234")
    client = BrokerClientProvider(secret_store(), api.clock).client_for(account)
    assert client.order_book() == []


def test_zerodha_forged_request_token_is_400_and_stores_nothing(api, kite, vault):
    api("POST", "/broker-accounts", zerodha_body())
    state = login_state(api)
    status, body = callback(api, "forged-request-token", state)
    assert status == 400 and "zerodha refused the login" in body["message"]
    stored = secret(vault, "ZX1234")
    assert stored["session"] is None
    status, account = api("GET", "/broker-accounts/ZX1234")
    assert account["session"]["status"] == "FAILED" and account["session"]["valid_until"] is None
    assert account["session"]["last_login_result"].startswith("FAILED")


def _forge(state, **changes):
    payload, sig = state.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{forged}.{sig}"


def test_zerodha_forged_or_expired_state_is_403_and_stores_nothing(api, kite, vault):
    api("POST", "/broker-accounts", zerodha_body())
    api("POST", "/broker-accounts", zerodha_body(), user="user-b")
    state = login_state(api)
    before = secret(vault, "ZX1234")
    forged = [
        _forge(state, u="user-b"),                       # someone else's account
        _forge(state, e=int(api.clock.now().timestamp()) + 86400),  # extended expiry
        state.split(".")[0] + ".AAAA",                   # signature replaced
        "not-a-state",
        "",
    ]
    for bad in forged:
        status, body = callback(api, KITE["request_token"], bad)
        assert status in (403, 422), (bad, body)
    api.clock.advance(timedelta(minutes=16))
    status, body = callback(api, KITE["request_token"], state)
    assert status == 403 and "expired" in body["message"]
    assert secret(vault, "ZX1234") == before
    assert secret(vault, "ZX1234", user="user-b")["session"] is None
    assert api("GET", "/broker-accounts/ZX1234")[1]["session"]["status"] == "NONE"


def test_a_newer_login_url_replaces_the_older_one(api, kite):
    api("POST", "/broker-accounts", zerodha_body())
    old = login_state(api)
    new = login_state(api)
    assert callback(api, KITE["request_token"], old)[0] == 403
    assert callback(api, KITE["request_token"], new)[0] == 200


def test_angel_totp_login(api, angel, vault):
    api("POST", "/broker-accounts", angel_body())
    status, body = api("POST", "/broker-accounts/A123/login")
    assert status == 200, body
    assert body["action"] == "LOGGED_IN" and body["session"]["valid_now"] is True
    assert datetime.fromisoformat(body["session"]["valid_until"]) == datetime(2026, 8, 18, 6, 0, tzinfo=IST)
    stored = secret(vault, "A123")["session"]
    assert stored["access_token"] == angel.jwt and stored["refresh_token"] == angel.refresh_token
    assert stored["feed_token"]
    assert angel.jwt not in json.dumps(body)


def test_angel_wrong_totp_seed_is_400_and_recorded(api, angel, vault):
    import pyotp

    api("POST", "/broker-accounts", angel_body(credentials={"api_key": "angelkeyP9", "password": ANGEL["password"],
                                                            "totp_secret": pyotp.random_base32()}))
    status, body = api("POST", "/broker-accounts/A123/login")
    assert status == 400 and "Invalid totp" in body["message"]
    assert secret(vault, "A123")["session"] is None
    assert api("GET", "/broker-accounts/A123")[1]["session"]["status"] == "FAILED"


def test_noren_oauth_login_end_to_end_valid_to_midnight_ist_and_provider(api, noren, vault):
    """Issue 15: Shoonya's QuickAuth/TOTP login was retired in 2026. Through the API: POST login
    answers the broker's authorize URL with our signed state; the broker redirects the browser
    to our public callback with ``code``; the code is exchanged at GenAcsTok; the stored token
    is the one the fake accepts as Bearer."""
    assert api("POST", "/broker-accounts", noren_body())[0] == 201
    assert api("GET", "/broker-accounts/FA1234")[1]["login_method"] == "OAUTH"
    status, login = api("POST", "/broker-accounts/FA1234/login")
    assert login["action"] == "OPEN_LOGIN_URL" and login["login_url"].startswith(noren.url + "/OAuthlogin/authorize/oauth?")
    assert f"client_id={NOREN['client_id']}" in login["login_url"] and "state=" in login["login_url"]
    status, body = noren_oauth_login(api)
    assert status == 200, body
    assert body["action"] == "LOGGED_IN" and body["broker"] == "finvasia"
    assert datetime.fromisoformat(body["session"]["valid_until"]) == datetime(2026, 8, 18, 0, 0, tzinfo=IST)
    assert secret(vault, "FA1234")["session"]["access_token"] == noren.access_token
    assert api("PUT", "/broker-accounts/FA1234", {"trading_mode": "LIVE"})[0] == 200

    from lambda_functions.auth_broker.common import secret_store
    from shared_utils.accounts import BrokerClientProvider
    from shared_utils.brokers import SessionExpired

    provider = BrokerClientProvider(secret_store(), api.clock)
    account = api.repos.accounts.get("user-a", "FA1234")
    assert provider.client_for(account).positions() == []
    api.clock.set(datetime(2026, 8, 18, 0, 1, tzinfo=IST))
    with pytest.raises(SessionExpired) as err:
        provider.client_for(account)
    assert err.value.code == "EXPIRED" and NOREN["api_secret"] not in str(err.value)


def test_noren_callback_refuses_reused_forged_and_wrong_broker_states(api, noren, vault):
    api("POST", "/broker-accounts", noren_body())
    status, _ = noren_oauth_login(api, code_filter=lambda q: {**q, "code": "not-a-code"})
    assert status == 400  # GenAcsTok refused the code; nothing stored
    assert secret(vault, "FA1234")["session"] is None
    kept = {}
    status, _ = noren_oauth_login(api, code_filter=lambda q: kept.update(q) or q)
    assert status == 200
    again = api("GET", "/broker-sessions/finvasia/callback", user=None, query=kept)
    assert again[0] == 403  # a state works once
    status, _ = noren_oauth_login(api, broker="zebu")  # a Shoonya state on the Zebu route
    assert status == 403
    assert api("GET", "/broker-sessions/finvasia/callback", user=None, query={"code": "x", "state": "forged.sig"})[0] == 403
    assert api("GET", "/broker-sessions/finvasia/callback", user=None, query={"code": "x"})[0] == 422


def test_provider_refuses_paper_and_sessionless_accounts(api):
    from lambda_functions.auth_broker.common import secret_store
    from shared_utils.accounts import BrokerClientProvider, PaperAccount
    from shared_utils.brokers import SessionExpired

    api("POST", "/broker-accounts", zerodha_body())
    provider = BrokerClientProvider(secret_store(), api.clock)
    account = api.repos.accounts.get("user-a", "ZX1234")
    with pytest.raises(PaperAccount):
        provider.client_for(account)
    from shared_utils.models.enums import TradingMode

    live = account.model_copy(update={"trading_mode": TradingMode.LIVE})
    with pytest.raises(SessionExpired) as err:
        provider.client_for(live)
    assert err.value.code == "NO_SESSION" and "log in to Kite" in str(err.value)


def test_login_of_a_paper_account_is_422(api):
    api("POST", "/broker-accounts", {"broker": "paper", "client_id": "P1"})
    status, body = api("POST", "/broker-accounts/P1/login")
    assert status == 422 and body["detail"][0]["loc"] == ["path", "client_id"]
