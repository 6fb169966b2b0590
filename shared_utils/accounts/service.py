"""Broker accounts of a trader: create, list, get, update (name, mode, credential rotation),
delete. The item lives in the broker accounts table (PK user_id, SK client_id); credentials and
session tokens live in the account's secret (``shared_utils.accounts.secrets``).

Rules (decided here, documented for the API):

- **Secrets never leave**: no method returns a credential or token; views carry
  ``credential_fields`` (names only). Nothing here logs a value read from a secret.
- **PAPER first**: every account starts in PAPER; creating one in LIVE is a 422
  (``body.trading_mode``).
- **PAPER needs no credentials**: a PAPER account of a real broker may be created without any
  (or with only some) credentials; what is sent is checked (TOTP seed) and stored. The broker's
  full set (``REQUIRED_CREDENTIALS``) is required only to log in or to go LIVE: both answer 409
  naming every missing field and how to add them (``PUT /broker-accounts/{client_id}``).
- **LIVE needs a proven login**: switching to LIVE is allowed only when a broker login has
  succeeded since the credentials were last set (``session.valid_until`` is set; a credential
  rotation clears it). Otherwise 409 with the reason. The session need not be valid at that
  moment (switching in the evening for tomorrow is fine: the 08:30 refresh / the trader's Kite
  login renews it). A ``paper`` broker account can never be LIVE (422).
- **Delete** answers 409 while an ACTIVE allocation of an ACTIVE strategy uses the account
  (reasons name the strategies); paused allocations do not block. The stored broker session
  is logged out at the broker first (best effort), then the credentials are deleted at once
  (the same client_id can be added again), then the item.

Errors: ``InvalidRequest`` (422, loc names the field), ``Conflict`` / ``AlreadyExists`` /
``VersionConflict`` (409), ``NotFound`` (404; another user's account is simply not found).
"""

from __future__ import annotations

import binascii
from dataclasses import replace
from datetime import datetime

import pyotp

from shared_utils.accounts.models import (
    OAUTH_BROKERS,
    REQUIRED_CREDENTIALS,
    TOTP_BROKERS,
    BrokerAccountCreate,
    BrokerAccountUpdate,
    BrokerAccountView,
    EgressView,
    SessionView,
)
from shared_utils.accounts.secrets import AccountSecret, BrokerSecretStore, SecretMissing
from shared_utils.brokers.base import BrokerCredentials
from shared_utils.clock import Clock, default_clock
from shared_utils.errors import Conflict, InvalidRequest
from shared_utils.models.broker_account import BrokerAccount, SessionStatus
from shared_utils.models.enums import BrokerName, EntityStatus, TradingMode
from shared_utils.persistence.repositories import AlreadyExists, NotFound, Repositories


def session_valid(session: SessionStatus, at: datetime) -> bool:
    """True when the last login succeeded and its tokens are still valid at ``at`` (aware)."""
    return session.status == "VALID" and session.valid_until is not None and session.valid_until > at


def session_view(session: SessionStatus, now: datetime) -> SessionView:
    """The stored status with VALID turned EXPIRED once ``valid_until`` has passed."""
    data = session.model_dump()
    valid = session_valid(session, now)
    if session.status == "VALID" and not valid:
        data["status"] = "EXPIRED"
    return SessionView(**data, valid_now=valid)


def login_method(broker: BrokerName) -> str:
    if broker in OAUTH_BROKERS:
        return "OAUTH"
    return "TOTP" if broker in TOTP_BROKERS else "NONE"


def egress_view(user_id: str) -> EgressView | None:
    """The trader's egress group as shown on the account (None: no per-trader egress here or no group)."""
    from shared_utils.egress import EgressConfig

    group = EgressConfig.from_env().group_of(user_id)
    return EgressView(**group.view()) if group else None


def account_view(account: BrokerAccount, now: datetime, secret: AccountSecret | None = None) -> BrokerAccountView:
    return BrokerAccountView(
        egress=egress_view(account.user_id),
        client_id=account.client_id, broker=account.broker, display_name=account.display_name,
        trading_mode=account.trading_mode, status=account.status, session=session_view(account.session, now),
        credential_fields=secret.credential_fields() if secret else [],
        login_method=login_method(account.broker), created_at=account.created_at, updated_at=account.updated_at,
        version=account.version,
    )


#: pyotp (2.12, ``OTP.__init__`` -> ``byte_secret``) refuses seeds that decode to fewer than
#: 112 bits ("Secrets must be at least 112 bits after decoding"): 23 base32 characters.
_TOTP_MIN_BITS = 112
_TOTP_MIN_CHARS = -(-_TOTP_MIN_BITS // 5)
_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def _check_totp(values: dict[str, str]) -> dict[str, str]:
    """Normalise a TOTP seed (spaces and ``=`` padding dropped, upper case) and prove pyotp can
    use it; the 422 says exactly what is wrong (a character outside base32, or too short).

    Raises:
        InvalidRequest: loc ``body.credentials.totp_secret``.
    """
    if "totp_secret" in values:
        seed = values["totp_secret"].replace(" ", "").replace("-", "").upper().rstrip("=")
        loc = ("body", "credentials", "totp_secret")
        bad = sorted(set(seed) - _BASE32)
        if bad:
            raise InvalidRequest.field(loc, "not a base32 TOTP secret: only the letters A-Z and digits 2-7 may "
                                            f"appear (found {' '.join(repr(c) for c in bad[:5])}); it is the key "
                                            "shown when the broker's 2FA was set up")
        if len(seed) < _TOTP_MIN_CHARS:
            raise InvalidRequest.field(loc, f"the TOTP secret is too short: {len(seed)} base32 characters "
                                            f"({len(seed) * 5} bits); at least {_TOTP_MIN_CHARS} characters "
                                            f"({_TOTP_MIN_BITS} bits) are required: send the full key shown when "
                                            "the broker's 2FA was set up")
        try:
            pyotp.TOTP(seed).now()
        except (binascii.Error, ValueError, TypeError) as exc:
            raise InvalidRequest.field(loc, f"the TOTP secret cannot generate codes ({exc}); send the full key "
                                            "shown when the broker's 2FA was set up") from None
        values = {**values, "totp_secret": seed}
    return values


def missing_credentials(broker: BrokerName, fields: list[str] | set[str]) -> list[str]:
    """The credential fields ``broker`` needs for a login / LIVE trading that ``fields`` lacks
    (``client_code`` and the Noren ``user_id`` default to the client_id and are never missing)."""
    have = set(fields)
    return [f for f in REQUIRED_CREDENTIALS[broker] if f not in have]


def _broker_credentials(broker: BrokerName, client_id: str, values: dict[str, str]) -> BrokerCredentials:
    """Map the API's credential fields onto the adapters' :class:`BrokerCredentials`.

    Angel's ``client_code`` and the Noren ``uid`` default to the account's client_id."""
    extra: dict[str, str] = {}
    if broker is BrokerName.ANGEL and not values.get("client_code"):
        extra["client_code"] = client_id
    if broker in (BrokerName.FINVASIA, BrokerName.ZEBU):
        extra["user_id"] = client_id
    return BrokerCredentials(**values, **extra)


class BrokerAccountService:
    """Use cases of ``/broker-accounts``. ``clock`` gives "now" for session views (aware UTC)."""

    def __init__(self, repos: Repositories, secrets: BrokerSecretStore, clock: Clock | None = None) -> None:
        self.repos = repos
        self.secrets = secrets
        self.clock = clock or default_clock()
        self.last_revoke_result: str | None = None

    # ---- queries ------------------------------------------------------------------------------
    def get(self, user_id: str, client_id: str) -> BrokerAccount:
        """Raises NotFound (also for another user's client_id)."""
        return self.repos.accounts.get(user_id, client_id)

    def list(self, user_id: str) -> list[BrokerAccount]:
        return self.repos.accounts.list(user_id)

    def secret_of(self, account: BrokerAccount) -> AccountSecret | None:
        """The account's decoded secret (None for a paper account). Never log the result."""
        if not account.secret_name:
            return None
        return self.secrets.read(account.secret_name)

    def stored_secret(self, account: BrokerAccount) -> AccountSecret | None:
        """:meth:`secret_of`, but None when the named secret is gone (the local platform keeps
        secrets only while it runs; a deleted secret in AWS): the account is still shown, with
        no ``credential_fields``, and login / LIVE name the credentials to add again."""
        try:
            return self.secret_of(account)
        except SecretMissing:
            return None

    def view(self, account: BrokerAccount, with_credentials: bool = True) -> BrokerAccountView:
        secret = self.stored_secret(account) if with_credentials else None
        return account_view(account, self.clock.now(), secret)

    # ---- commands -----------------------------------------------------------------------------
    def create(self, user_id: str, body: BrokerAccountCreate) -> BrokerAccount:
        """Store the account (PAPER) and, when credentials were sent, its secret. No credential
        is required here (a PAPER account never reaches the broker); the full set is required to
        log in or go LIVE (:meth:`require_credentials`).

        Raises:
            InvalidRequest: LIVE requested, credentials sent for a paper account, bad TOTP seed.
            AlreadyExists: the user has that client_id already (409).
        """
        if body.trading_mode is TradingMode.LIVE:
            raise InvalidRequest.field(("body", "trading_mode"),
                                       "a new account starts in PAPER; switch to LIVE after a successful broker login")
        values = _check_totp(body.credentials.provided() if body.credentials else {})
        if body.broker is BrokerName.PAPER:
            if values:
                raise InvalidRequest.field(("body", "credentials"), "a paper account takes no broker credentials")
        if self.repos.accounts.find(user_id, body.client_id) is not None:
            raise AlreadyExists(f"broker account {body.client_id} already exists")
        secret_name = None
        if body.broker is not BrokerName.PAPER and values:
            secret_name = self.secrets.name_for(user_id, body.client_id)
            secret = AccountSecret(broker=body.broker.value,
                                   credentials=_broker_credentials(body.broker, body.client_id, values))
            self.secrets.create(secret_name, secret, tags={"broker": body.broker.value, "client_id": body.client_id})
        account = BrokerAccount(user_id=user_id, client_id=body.client_id, broker=body.broker,
                                display_name=body.display_name, trading_mode=TradingMode.PAPER,
                                secret_name=secret_name)
        return self.repos.accounts.create(account)

    def update(self, user_id: str, client_id: str, body: BrokerAccountUpdate) -> BrokerAccount:
        """Apply a partial update (see the module doc for the LIVE rule).

        Raises:
            NotFound; InvalidRequest (credentials on a paper account, bad TOTP seed, LIVE on a
            paper broker); Conflict (LIVE without a successful login); VersionConflict.
        """
        account = self.repos.accounts.get(user_id, client_id)
        changes: dict = {}
        if body.display_name is not None:
            changes["display_name"] = body.display_name
        if body.status is not None:
            changes["status"] = body.status
        if body.credentials is not None:
            values = _check_totp(body.credentials.provided())
            if account.broker is BrokerName.PAPER:
                raise InvalidRequest.field(("body", "credentials"), "a paper account takes no broker credentials")
            secret = self.stored_secret(account) if values and account.secret_name else None
            if values and secret is None:
                # a PAPER account created without credentials (or whose secret is gone) gets its secret now
                secret_name = self.secrets.name_for(user_id, client_id)
                self.secrets.create(secret_name, AccountSecret(
                    broker=account.broker.value, credentials=_broker_credentials(account.broker, client_id, values)),
                    tags={"broker": account.broker.value, "client_id": client_id})
                changes["secret_name"] = secret_name
            elif values:
                merged = {**{f: getattr(secret.credentials, f) for f in secret.credential_fields()}, **values}
                merged.pop("user_id", None)
                creds = _broker_credentials(account.broker, client_id, merged)
                # the old tokens were issued to the old credentials: drop them, log in again
                self.secrets.write(account.secret_name, replace(secret, credentials=creds, session=None, oauth_nonce=None))
                changes["session"] = SessionStatus(status="NONE", last_login_at=account.session.last_login_at,
                                                   last_login_result="credentials changed: log in again")
                if account.trading_mode is TradingMode.LIVE:
                    # LIVE stays only with a proven login of the new credentials
                    changes["trading_mode"] = TradingMode.PAPER
        if body.trading_mode is not None and body.trading_mode is not account.trading_mode:
            if body.trading_mode is TradingMode.LIVE:
                if account.broker is BrokerName.PAPER:
                    raise InvalidRequest.field(("body", "trading_mode"), "a paper broker account cannot trade LIVE")
                self.require_credentials(account.model_copy(update=changes), "switch to LIVE")
                session = changes.get("session", account.session)
                if session.valid_until is None:
                    raise Conflict(f"broker account {client_id} cannot switch to LIVE yet",
                                   ["no successful broker login with the current credentials: "
                                    "POST /broker-accounts/{client_id}/login first"])
            changes["trading_mode"] = body.trading_mode
        if not changes:
            return account
        return self.repos.accounts.save(account.model_copy(update=changes), expected_version=account.version)

    def credential_fields(self, account: BrokerAccount) -> list[str]:
        """Names of the credentials stored for ``account`` (empty without a secret)."""
        secret = self.stored_secret(account)
        return secret.credential_fields() if secret else []

    def require_credentials(self, account: BrokerAccount, action: str) -> None:
        """Raise ``Conflict`` (409) naming every credential ``account`` lacks for ``action``
        (``"log in"``, ``"switch to LIVE"``); a paper broker account needs none.

        Raises:
            Conflict: reasons ``["missing credentials: api_key, api_secret", "add them with ..."]``.
        """
        if account.broker is BrokerName.PAPER:
            return
        missing = missing_credentials(account.broker, self.credential_fields(account))
        if missing:
            raise Conflict(f"broker account {account.client_id} cannot {action}: "
                           f"missing {account.broker.value} credentials {', '.join(missing)}",
                           [f"missing credentials: {', '.join(missing)}",
                            f"add them with PUT /broker-accounts/{account.client_id} "
                            '{"credentials": {' + ", ".join(f'"{f}": "..."' for f in missing) + "}}"])

    def blocking_strategies(self, user_id: str, client_id: str) -> list[str]:
        """Ids of ACTIVE strategies with an ACTIVE allocation to ``client_id``."""
        blocking = []
        for allocation in self.repos.allocations.list_for_user(user_id):
            if allocation.client_id != client_id or allocation.status is not EntityStatus.ACTIVE:
                continue
            try:
                strategy = self.repos.strategies.get(user_id, allocation.strategy_id)
            except NotFound:
                continue
            if strategy.status is EntityStatus.ACTIVE:
                blocking.append(strategy.strategy_id)
        return sorted(set(blocking))

    def delete(self, user_id: str, client_id: str) -> None:
        """Raises NotFound; Conflict (409) while an ACTIVE strategy's ACTIVE allocation uses it."""
        account = self.repos.accounts.get(user_id, client_id)
        blocking = self.blocking_strategies(user_id, client_id)
        if blocking:
            raise Conflict(f"broker account {client_id} is used by active strategies",
                           [f"strategy {s} has an ACTIVE allocation to {client_id}: pause or remove it first"
                            for s in blocking])
        if account.secret_name:
            self.revoke_broker_session(account)
            self.secrets.delete(account.secret_name)
        self.repos.accounts.delete(account)

    def revoke_broker_session(self, account: BrokerAccount) -> str:
        """Before the credentials are deleted: log the stored session out at the broker (Kite
        ``invalidate_access_token``, Angel logout, Noren Logout). Best effort: the result
        (``LOGGED_OUT`` / ``NO_SESSION`` / ``FAILED: ...``) never blocks the removal."""
        from shared_utils.accounts.sessions import SessionService

        try:
            secret = self.secrets.read(account.secret_name)
        except LookupError:
            return "NO_SESSION"
        result = SessionService(self.repos, self.secrets, self.clock).revoke(account, secret)
        self.last_revoke_result = result
        return result
