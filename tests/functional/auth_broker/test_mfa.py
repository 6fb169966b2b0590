"""Issue 16: MFA for live trading. Switching to LIVE, raising size on a LIVE account and a
manual LIVE entry need a Cognito user with TOTP MFA (moto's software-token flow, the same calls
as AWS); 403 with the reason otherwise; PAPER stays open."""

from __future__ import annotations

from datetime import datetime

import pytest

from shared_utils.clock import IST
from shared_utils.models.enums import TradingMode
from tests.functional.auth_broker.conftest import MFA_PASSWORD, allocate, angel_body, strategy


def make_live(api, client_id, user):
    """Flip an account to LIVE in the table (as an MFA user did earlier)."""
    account = api.repos.accounts.get(user, client_id)
    api.repos.accounts.save(account.model_copy(update={"trading_mode": TradingMode.LIVE}), account.version)


def test_switch_to_live_needs_totp_mfa_and_works_once_enabled(api, angel):
    import boto3

    from shared_utils.accounts.mfa import enable_software_token_mfa

    assert api("POST", "/broker-accounts", angel_body(), user="user-nomfa")[0] == 201
    assert api("POST", "/broker-accounts/A123/login", user="user-nomfa")[0] == 200
    status, body = api("PUT", "/broker-accounts/A123", {"trading_mode": "LIVE"}, user="user-nomfa")
    assert status == 403, body
    assert "switching A123 to LIVE requires TOTP MFA" in body["message"]
    assert "not enabled" in body["message"]
    assert api("GET", "/broker-accounts/A123", user="user-nomfa")[1]["trading_mode"] == "PAPER"
    # renaming (no LIVE) stays open
    assert api("PUT", "/broker-accounts/A123", {"display_name": "x"}, user="user-nomfa")[0] == 200

    # the user sets up an authenticator app (Cognito software token): the same request passes
    import os

    idp = boto3.client("cognito-idp", region_name="ap-south-1")
    pool = os.environ["USER_POOL_ID"]
    app = idp.list_user_pool_clients(UserPoolId=pool, MaxResults=5)["UserPoolClients"][0]["ClientId"]
    enable_software_token_mfa(idp, pool, app, "user-nomfa", MFA_PASSWORD)
    assert "SOFTWARE_TOKEN_MFA" in idp.admin_get_user(UserPoolId=pool, Username="user-nomfa")["UserMFASettingList"]
    status, body = api("PUT", "/broker-accounts/A123", {"trading_mode": "LIVE"}, user="user-nomfa")
    assert status == 200 and body["trading_mode"] == "LIVE", body

    # disabling MFA takes effect at once (no cache)
    idp.admin_set_user_mfa_preference(UserPoolId=pool, Username="user-nomfa",
                                      SoftwareTokenMfaSettings={"Enabled": False})
    # back to PAPER is always open
    assert api("PUT", "/broker-accounts/A123", {"trading_mode": "PAPER"}, user="user-nomfa")[0] == 200
    assert api("PUT", "/broker-accounts/A123", {"trading_mode": "LIVE"}, user="user-nomfa")[0] == 403


def test_raising_size_on_a_live_account_needs_mfa_paper_stays_open(api):
    for user in ("user-nomfa", "user-a"):
        api("POST", "/broker-accounts", angel_body(), user=user)
        api("POST", "/broker-accounts", {"broker": "paper", "client_id": "P1"}, user=user)
    # PAPER: open without MFA
    sid = strategy(api, user="user-nomfa")
    allocate(api, sid, "P1", user="user-nomfa")
    make_live(api, "A123", "user-nomfa")
    body = {"client_id": "A123", "allocation_config": {"type": "STRATEGY_LEVEL", "strategy_lots_multiplier": 5}}
    status, answer = api("POST", f"/options/strategies/{sid}/allocations", body, "user-nomfa")
    assert status == 403 and "LIVE account A123" in answer["message"], answer
    status, answer = api("POST", f"/options/strategies/{sid}/allocations/advanced", {"allocations": [body]}, "user-nomfa")
    assert status == 403, answer
    # a PAUSED allocation raises nothing; re-activating it or raising its multiplier does
    allocate(api, sid, "A123", user="user-nomfa", status="PAUSED")
    url = f"/options/strategies/{sid}/allocations/A123"
    assert api("PUT", url, {"status": "ACTIVE"}, "user-nomfa")[0] == 403
    assert api("PUT", url, {"strategy_lots_multiplier": 9}, "user-nomfa")[0] == 403
    assert api("PUT", url, {"priority": 2}, "user-nomfa")[0] == 200
    assert api("PUT", url, {"status": "PAUSED"}, "user-nomfa")[0] == 200

    # the MFA user: 2xx
    sid_a = strategy(api, user="user-a")
    make_live(api, "A123", "user-a")
    assert api("POST", f"/options/strategies/{sid_a}/allocations", body, "user-a")[0] == 201
    assert api("PUT", f"/options/strategies/{sid_a}/allocations/A123", {"strategy_lots_multiplier": 9}, "user-a")[0] == 200


@pytest.fixture
def bus():
    from shared_utils.execution.events import InMemoryPublisher, set_default_publisher

    publisher = InMemoryPublisher()
    set_default_publisher(publisher)
    yield publisher
    set_default_publisher(None)


def test_manual_live_entry_needs_mfa_exit_and_paper_do_not(api, bus, clock):
    from tests.conftest import seed_request
    from tests.functional.api.journey import complete_legs

    # a manual run is refused at the call outside the session or without executable legs (409):
    # in the session, with the seed's legs and their selection values (added while the account is PAPER: adding legs to a LIVE
    # strategy needs MFA too)
    clock.set(datetime(2026, 8, 17, 10, 0, tzinfo=IST))
    legs = seed_request("03_add_legs.json")["body"]["legs"]

    def ready_strategy(user):
        sid = strategy(api, user=user)
        assert api("POST", f"/options/strategies/{sid}/legs", {"legs": legs}, user)[0] == 201
        complete_legs(api, sid, user)
        allocate(api, sid, "A123", user=user)
        return sid

    for user in ("user-nomfa", "user-a"):
        api("POST", "/broker-accounts", angel_body(), user=user)
    sid = ready_strategy("user-nomfa")
    # PAPER account: manual entry open
    status, body = api("POST", "/options/executions/manual", {"strategy_id": sid, "execution_type": "ENTRY"}, "user-nomfa")
    assert status == 202, body
    sid2 = ready_strategy("user-nomfa")
    make_live(api, "A123", "user-nomfa")
    status, body = api("POST", "/options/executions/manual", {"strategy_id": sid2, "execution_type": "ENTRY"}, "user-nomfa")
    assert status == 403 and "manual LIVE entry (accounts A123)" in body["message"], body
    assert len(bus.published) == 1  # nothing announced for the refused entry
    status, body = api("POST", "/options/executions/manual", {"strategy_id": sid2, "execution_type": "EXIT"}, "user-nomfa")
    assert status == 202, body

    sid_a = ready_strategy("user-a")
    make_live(api, "A123", "user-a")
    status, body = api("POST", "/options/executions/manual", {"strategy_id": sid_a, "execution_type": "ENTRY"}, "user-a")
    assert status == 202, body


def test_fails_closed_without_a_user_pool(api, angel, monkeypatch):
    api("POST", "/broker-accounts", angel_body())
    api("POST", "/broker-accounts/A123/login")
    monkeypatch.delenv("USER_POOL_ID")
    status, body = api("PUT", "/broker-accounts/A123", {"trading_mode": "LIVE"})
    assert status == 403 and "USER_POOL_ID" in body["message"]


def test_raising_lots_adding_legs_or_activating_a_live_strategy_needs_mfa(api):
    from tests.conftest import seed_request

    legs = seed_request("03_add_legs.json")["body"]["legs"]
    for user in ("user-nomfa", "user-a"):
        api("POST", "/broker-accounts", angel_body(), user=user)
    sid = strategy(api, user="user-nomfa")
    assert api("POST", f"/options/strategies/{sid}/legs", {"legs": legs[:2]}, "user-nomfa")[0] == 201  # PAPER: open
    allocate(api, sid, "A123", user="user-nomfa")
    assert api("PUT", f"/options/strategies/{sid}/legs/1", {"lots": 3}, "user-nomfa")[0] == 200  # still PAPER
    make_live(api, "A123", "user-nomfa")
    status, body = api("PUT", f"/options/strategies/{sid}/legs/1", {"lots": 9}, "user-nomfa")
    assert status == 403 and "LIVE accounts A123" in body["message"], body
    assert api("POST", f"/options/strategies/{sid}/legs", {"legs": [legs[2]]}, "user-nomfa")[0] == 403
    assert api("POST", f"/options/strategies/{sid}/pause", None, "user-nomfa")[0] == 200  # reducing: open
    assert api("POST", f"/options/strategies/{sid}/activate", None, "user-nomfa")[0] == 403

    sid_a = strategy(api, user="user-a")
    api("POST", f"/options/strategies/{sid_a}/legs", {"legs": legs[:2]}, "user-a")
    allocate(api, sid_a, "A123", user="user-a")
    make_live(api, "A123", "user-a")
    assert api("PUT", f"/options/strategies/{sid_a}/legs/1", {"lots": 9}, "user-a")[0] == 200
