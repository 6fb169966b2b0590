"""MFA for live trading: actions that can put real money at risk need a Cognito user with TOTP
(software token) MFA enabled.

Gated actions (issue 16; PAPER stays open):

- switching a broker account to LIVE (``PUT /broker-accounts/{client_id}`` with
  ``trading_mode: LIVE``);
- raising size on a LIVE account: creating an allocation to a LIVE account, or changing an
  allocation of a LIVE account in any way other than pausing it (``allocation_config``,
  ``strategy_lots_multiplier``, ``leg_overrides``, ``risk_limits``, ``execution_config``,
  re-activating it). Any of those can raise the quantity sent, so all are gated;
- a manual ENTRY of a strategy with an ACTIVE allocation to a LIVE account (a manual EXIT only
  reduces risk and stays open);
- on a strategy with an ACTIVE allocation to a LIVE account: adding legs, changing a leg's
  ``lots``, activating it (pausing, deleting legs stay open).

How the API knows. The REST API's Cognito authorizer validates the **ID token**, whose claims
carry no MFA state (no ``amr``; the access token's ``amr`` is not forwarded by a
``COGNITO_USER_POOLS`` authorizer either). So each gated request asks Cognito:
``AdminGetUser(UserPoolId=$USER_POOL_ID, Username=<cognito:username claim, else sub>)`` and
requires ``"SOFTWARE_TOKEN_MFA"`` in ``UserMFASettingList`` (set once the user has run
AssociateSoftwareToken -> VerifySoftwareToken -> SetUserMFAPreference(SoftwareTokenMfaSettings=
{"Enabled": True})). With the pool's MFA OPTIONAL and software tokens enabled
(cdk_stacks/auth_broker_stack.py), a user with TOTP enabled is challenged for the code at
every sign-in, so "TOTP enabled" means "this session passed a TOTP challenge". One AdminGetUser
per gated request (not cached: disabling MFA takes effect at once); Cognito's AdminGetUser
quota (per-account "UserRead" category) is far above the rate of these rare actions.

Fail closed: no ``USER_POOL_ID`` or Cognito unreachable -> 403 with the reason.

Local stand-in: moto 5.2.5's cognito-idp implements AssociateSoftwareToken,
VerifySoftwareToken (the code is checked only when ``MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP`` is
set; the secret is moto's fixed ``COGNITO_TOTP_MFA_SECRET``), SetUserMFAPreference and
AdminGetUser's ``UserMFASettingList``: the same calls as in AWS, so the code path is identical;
:func:`enable_software_token_mfa` runs that flow (tests, ``python -m local.platform --mfa``).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools.event_handler.exceptions import ServiceError

SOFTWARE_TOKEN_MFA = "SOFTWARE_TOKEN_MFA"


def mfa_responses() -> dict[int, dict[str, Any]]:
    """OpenAPI entry of the 403 the gated routes answer."""
    from shared_utils.models.api import ErrorBody

    return {403: {"description": "LIVE action without TOTP MFA on the caller's login (the message says how)",
                  "content": {"application/json": {"model": ErrorBody}}}}


class MfaRequired(ServiceError):
    """403: the action needs TOTP MFA on the caller's Cognito user (message says which and how)."""

    def __init__(self, action: str, why: str) -> None:
        super().__init__(403, f"{action} requires TOTP MFA on your login: {why}. Set up an authenticator app "
                              "(Cognito software token) in your profile, sign in again with the code, then retry.")
        self.action = action
        self.why = why


def claims_of(event: dict[str, Any]) -> dict[str, Any]:
    """The authorizer's claims of an API Gateway REST event ({} when absent)."""
    context = event.get("requestContext") or {}
    return dict((context.get("authorizer") or {}).get("claims") or {})


class MfaChecker:
    """``check(claims, action)`` raises :class:`MfaRequired` unless the caller has TOTP MFA.

    Args:
        user_pool_id: the pool (default ``$USER_POOL_ID``).
        client: a boto3 cognito-idp client (default: one for ``$AWS_REGION``).
    """

    def __init__(self, user_pool_id: str | None = None, client: Any | None = None) -> None:
        self.user_pool_id = user_pool_id if user_pool_id is not None else os.environ.get("USER_POOL_ID", "")
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("cognito-idp", region_name=os.environ.get("AWS_REGION") or "ap-south-1")
        return self._client

    def mfa_methods(self, username: str) -> list[str]:
        """The user's enabled MFA methods (``UserMFASettingList``). Raises LookupError (no user)."""
        try:
            user = self.client.admin_get_user(UserPoolId=self.user_pool_id, Username=username)
        except self.client.exceptions.UserNotFoundException:
            raise LookupError(f"user {username} not found in the pool") from None
        return list(user.get("UserMFASettingList") or [])

    def email_of(self, claims: dict[str, Any]) -> str | None:
        """The caller's email (the ``email`` claim, else the Cognito user's attribute)."""
        if claims.get("email"):
            return str(claims["email"])
        username = claims.get("cognito:username") or claims.get("sub")
        if not (username and self.user_pool_id):
            return None
        user = self.client.admin_get_user(UserPoolId=self.user_pool_id, Username=str(username))
        return next((a["Value"] for a in user.get("UserAttributes", []) if a["Name"] == "email"), None)

    def check(self, claims: dict[str, Any], action: str) -> None:
        username = claims.get("cognito:username") or claims.get("sub")
        if not username:
            raise MfaRequired(action, "the request carries no authenticated user")
        if not self.user_pool_id:
            raise MfaRequired(action, "MFA cannot be verified (no user pool configured: USER_POOL_ID)")
        try:
            methods = self.mfa_methods(str(username))
        except LookupError:
            raise MfaRequired(action, "your user was not found in the user pool") from None
        except Exception as exc:  # Cognito unreachable / throttled: fail closed
            raise MfaRequired(action, f"MFA could not be verified ({type(exc).__name__}); try again") from None
        if SOFTWARE_TOKEN_MFA not in methods:
            raise MfaRequired(action, "TOTP MFA is not enabled for your user")


def totp_code(secret: str, at: float | None = None) -> str:
    """RFC 6238 code (30 s step, 6 digits, SHA-1) of a base32 ``secret``, as an authenticator app
    shows it. (pyotp refuses secrets under 112 bits, such as moto's fixed one.)"""
    import base64
    import hashlib
    import hmac
    import struct
    import time

    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def enable_software_token_mfa(client: Any, user_pool_id: str, app_client_id: str, username: str,
                              password: str) -> str:
    """Run Cognito's software-token MFA setup for ``username`` (admin password sign-in ->
    AssociateSoftwareToken -> VerifySoftwareToken with the TOTP code -> SetUserMFAPreference).
    Returns the TOTP secret (base32). Works against AWS and moto alike (the app client must
    allow ADMIN_USER_PASSWORD_AUTH)."""
    auth = client.admin_initiate_auth(UserPoolId=user_pool_id, ClientId=app_client_id,
                                      AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": username, "PASSWORD": password})
    access_token = auth["AuthenticationResult"]["AccessToken"]
    secret = client.associate_software_token(AccessToken=access_token)["SecretCode"]
    client.verify_software_token(AccessToken=access_token, UserCode=totp_code(secret),
                                 FriendlyDeviceName="authenticator")
    client.set_user_mfa_preference(AccessToken=access_token,
                                   SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return secret


def _is_live(repos: Any, user_id: str, client_id: str) -> bool:
    from shared_utils.models.enums import TradingMode

    account = repos.accounts.find(user_id, client_id)
    return account is not None and account.trading_mode is TradingMode.LIVE


def allocation_change_needs_mfa(repos: Any, user_id: str, client_id: str, update: Any | None = None) -> bool:
    """True when creating (``update`` None) or changing an allocation of ``client_id`` needs MFA:
    the account is LIVE and the change is not only a pause / priority change."""
    if not _is_live(repos, user_id, client_id):
        return False
    if update is None:
        return True
    sent = update.model_dump(exclude_unset=True, exclude_none=True)
    harmless = {k: v for k, v in sent.items() if k == "priority" or (k == "status" and str(v).endswith("PAUSED"))}
    return bool(set(sent) - set(harmless))


def manual_entry_live_accounts(repos: Any, user_id: str, strategy_id: str) -> list[str]:
    """Client ids of the LIVE accounts with an ACTIVE allocation of ``strategy_id`` (a manual
    ENTRY of it needs MFA when this is not empty)."""
    from shared_utils.models.enums import EntityStatus

    ids = {a.client_id for a in repos.allocations.list_for_user(user_id)
           if a.strategy_id == strategy_id and a.status is EntityStatus.ACTIVE}
    return sorted(c for c in ids if _is_live(repos, user_id, c))
