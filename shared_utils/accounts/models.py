"""Request and response bodies of the broker accounts API (``/broker-accounts``).

Credentials arrive in ``credentials`` (:class:`CredentialsIn`, every value a ``SecretStr`` so a
stray ``repr``/log line prints ``**********``) and go straight to Secrets Manager; responses
(:class:`BrokerAccountView`) carry only the NAMES of the fields that are set
(``credential_fields``). Which fields each broker needs (checked by the service, 422 naming
``body.credentials.<field>``), from reference/broker-apis.md and the adapters:

=================  ==========================================================================
broker             required credentials (optional)
=================  ==========================================================================
zerodha            api_key, api_secret (the daily login is Kite's OAuth redirect: no password
                   or TOTP is stored for it)
angel              api_key (X-PrivateKey), password (MPIN), totp_secret (client_code defaults
                   to client_id)
finvasia, zebu     api_key (the OAuth app's client_id), api_secret (its secret key): the daily
                   login is OAuth since Mar-Apr 2026 (authorize in the browser -> code ->
                   GenAcsTok; broker-samples/noren/oauth_flow.json); the Noren uid is the
                   client_id. No password or TOTP is stored (QuickAuth is retired).
paper              none (a paper account has no secret)
=================  ==========================================================================
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, SecretStr

from shared_utils.models.broker_account import SessionStatus
from shared_utils.models.common import RequestModel
from shared_utils.models.enums import BrokerName, EntityStatus, TradingMode

#: Secrets Manager names allow letters, digits and /_+=.@- ; a client_id becomes part of one.
CLIENT_ID_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"

REQUIRED_CREDENTIALS: dict[BrokerName, tuple[str, ...]] = {
    BrokerName.ZERODHA: ("api_key", "api_secret"),
    BrokerName.ANGEL: ("api_key", "password", "totp_secret"),
    BrokerName.FINVASIA: ("api_key", "api_secret"),
    BrokerName.ZEBU: ("api_key", "api_secret"),
    BrokerName.PAPER: (),
}

#: Brokers whose daily login the platform can do alone (TOTP). Zerodha and, since Mar-Apr 2026,
#: the Noren brokers (Shoonya, Zebu) need the trader's OAuth step in the browser.
TOTP_BROKERS = frozenset({BrokerName.ANGEL})
OAUTH_BROKERS = frozenset({BrokerName.ZERODHA, BrokerName.FINVASIA, BrokerName.ZEBU})


def _secret(description: str) -> object:
    return Field(default=None, min_length=1, max_length=512, description=description)


class CredentialsIn(RequestModel):
    """Long-lived broker credentials (write-only: never returned)."""

    api_key: SecretStr | None = _secret("Kite api_key / Angel SmartAPI key (X-PrivateKey) / Noren OAuth client_id")
    api_secret: SecretStr | None = _secret("Kite api_secret / Noren OAuth secret key (GenAcsTok checksum)")
    password: SecretStr | None = _secret("Angel 4-digit MPIN")
    totp_secret: SecretStr | None = _secret("Base32 TOTP seed of the broker's 2FA (pyotp)")
    client_code: SecretStr | None = _secret("Angel client code (default: client_id)")
    vendor_code: SecretStr | None = _secret("Noren vendor code (vc)")
    imei: SecretStr | None = _secret("Noren imei / device id (optional)")

    def provided(self) -> dict[str, str]:
        """The fields that were sent, as plain strings (for the secret only)."""
        return {name: value.get_secret_value() for name, value in self if value is not None}


class BrokerAccountCreate(RequestModel):
    """POST /broker-accounts. A new account starts in PAPER (LIVE needs a successful login)."""

    broker: BrokerName
    client_id: str = Field(pattern=CLIENT_ID_PATTERN, description="The broker's client id (e.g. Kite user id)")
    display_name: str = Field(default="", max_length=100)
    trading_mode: TradingMode = TradingMode.PAPER
    credentials: CredentialsIn | None = None


class BrokerAccountUpdate(RequestModel):
    """PUT /broker-accounts/{client_id}: every field optional. ``credentials`` rotates the given
    fields (others kept) and clears the session: the next login uses the new credentials."""

    display_name: str | None = Field(default=None, max_length=100)
    trading_mode: TradingMode | None = None
    credentials: CredentialsIn | None = None
    status: Literal[EntityStatus.ACTIVE, EntityStatus.PAUSED] | None = None


class SessionView(SessionStatus):
    """The account's session as the API shows it; ``valid_now`` is judged at the request time."""

    valid_now: bool = False


class EgressView(BaseModel):
    """The static IP this account's broker calls leave from (register it with the broker for the
    account's API key) and the first date it may change (SEBI: at most once a week)."""

    group: str
    ip: str | None = None
    ip_since: str | None = None
    next_change: str | None = None


class BrokerAccountView(BaseModel):
    """A broker account without any secret: ``credential_fields`` names what is stored.
    ``session`` shows the session's state and expiry (``status``, ``valid_until``);
    ``egress`` the trader's group IP (None when the deployment has no per-trader egress)."""

    client_id: str
    broker: BrokerName
    display_name: str
    trading_mode: TradingMode
    status: EntityStatus
    session: SessionView
    credential_fields: list[str] = Field(default_factory=list)
    login_method: Literal["OAUTH", "TOTP", "NONE"]
    egress: EgressView | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    version: int


class BrokerAccountList(BaseModel):
    items: list[BrokerAccountView]


class LoginResult(BaseModel):
    """POST /broker-accounts/{client_id}/login: a TOTP broker logs in now (``session`` set);
    Zerodha answers ``login_url`` to open in the browser (valid ``state_expires_at``)."""

    client_id: str
    broker: BrokerName
    action: Literal["LOGGED_IN", "OPEN_LOGIN_URL"]
    session: SessionView | None = None
    login_url: str | None = None
    state_expires_at: datetime | None = None


class MissingSession(BaseModel):
    """One line of the pre-open health check: an account a due strategy needs, without a
    session valid at the open."""

    user_id: str
    client_id: str
    broker: str | None
    reason: str
    strategy_ids: list[str]
