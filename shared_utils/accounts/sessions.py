"""Daily broker sessions: Zerodha and Noren OAuth, Angel's TOTP login, the pre-open refresh
and health check.

Broker facts (reference/broker-apis.md; kite.trade docs and forum; SDK sources):

- **Zerodha** (Kite Connect v3): the trader opens
  ``https://kite.zerodha.com/connect/login?v=3&api_key=...&redirect_params=<urlencoded>``; after
  login Kite redirects to the app's registered URL with ``?request_token=...&action=login&
  status=success`` plus the ``redirect_params`` pairs (we send ``state``). The request_token is
  exchanged once (``generate_session``: POST /session/token, checksum sha256(api_key +
  request_token + api_secret)). The access token dies at about 06:00 IST the next morning; it
  cannot be renewed without the human step, so :meth:`SessionService.refresh_sessions` only
  REPORTS Zerodha accounts.
- **Angel One**: loginByPassword {clientcode, password = 4-digit MPIN, totp}; JWT/refresh/feed
  tokens valid until 06:00 IST next day (same daily reset as Kite).
- **Noren** (Finvasia Shoonya, Zebu), OAuth since March-April 2026 (QuickAuth/TOTP retired;
  broker-samples/noren/oauth_flow.json): the trader opens
  ``<host>/OAuthlogin/authorize/oauth?client_id=<api_key>&state=<signed state>``; the broker
  redirects to the app's registered URL, our ``GET /broker-sessions/{finvasia|zebu}/callback``,
  with ``?code=...`` (and the ``state`` we sent: OAuth 2.0 returns it unchanged; the Zebu docs
  show only ``code``, so a broker that drops it fails the login with 403 "malformed state"
  rather than logging in the wrong account). The code is exchanged at GenAcsTok (checksum
  sha256(client_id + secret + code)) for the access token sent as ``Authorization: Bearer``.
  The token's lifetime is not documented: we treat it as valid until midnight IST (SEBI's
  algo framework requires a fresh login every trading day), and the 08:30 refresh lists Noren
  accounts for the trader's login like Zerodha's.

``valid_until`` rules (all aware; IST wall clock, stored as UTC): Kite/Angel = the first 06:00
IST strictly after the login instant; Noren = the first 00:00 IST after it.

The OAuth ``state`` (Kite and Noren alike): ``base64url(json{u: user_id, c: client_id, n: nonce,
e: expiry epoch s})`` + ``.`` + ``base64url(HMAC-SHA256(k, payload))`` where ``k =
HMAC-SHA256(api_secret, "ql-algo-trading kite oauth state v1")``: only a holder of the account's
api_secret (the platform) can sign it, so a forged or edited state (another user, another
account) fails. The nonce is kept in the account's secret and cleared on success: a state works
once, and only the latest login URL works. It expires after 15 minutes.

Errors: :class:`InvalidLoginState` (403: bad/forged/expired/used state), :class:`LoginFailed`
(``http_status`` 400 when the broker refused the credentials or request_token, 502 when the
broker could not be reached). A failed login never writes tokens; it records
``last_login_result`` on the account.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets as pysecrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import boto3

from shared_utils.accounts.models import OAUTH_BROKERS, TOTP_BROKERS, LoginResult, MissingSession
from shared_utils.accounts.provider import broker_root
from shared_utils.accounts.secrets import AccountSecret, BrokerSecretStore, StoredSession
from shared_utils.egress import EgressConfig, NoEgressGroup, apply_route
from shared_utils.accounts.service import session_valid, session_view
from shared_utils.brokers import BrokerClient, BrokerError, create_broker_client
from shared_utils.brokers.errors import BrokerUnavailable, OutcomeUnknown, RateLimited
from shared_utils.clock import IST, Clock, default_clock, to_ist
from shared_utils.errors import InvalidRequest
from shared_utils.models.broker_account import BrokerAccount, SessionStatus
from shared_utils.models.enums import BrokerName, EntityStatus, ExecutionType, TradingMode
from shared_utils.persistence.repositories import Repositories, VersionConflict
from shared_utils.persistence.table import deserialize

KITE_LOGIN_URL = "https://kite.zerodha.com/connect/login"
STATE_TTL = timedelta(minutes=15)
_STATE_KEY_INFO = b"ql-algo-trading kite oauth state v1"
DAILY_RESET_IST = time(6, 0)
_LOGIN_NAME = {BrokerName.ZERODHA: "Kite", BrokerName.FINVASIA: "Shoonya", BrokerName.ZEBU: "Zebu"}


class InvalidLoginState(Exception):
    """403: the OAuth ``state`` is missing, malformed, forged, expired or already used."""


class LoginFailed(Exception):
    """The broker refused the login (``http_status`` 400) or could not be reached (502).
    ``message`` is safe to show (the broker's own words, never a credential)."""

    def __init__(self, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.http_status = http_status


def session_valid_until(broker: BrokerName | str, logged_in_at: datetime) -> datetime:
    """When a session opened at ``logged_in_at`` (aware) dies, as an aware IST datetime."""
    local = to_ist(logged_in_at)
    if BrokerName(broker) in (BrokerName.FINVASIA, BrokerName.ZEBU):
        return datetime.combine(local.date() + timedelta(days=1), time(0, 0), tzinfo=IST)
    reset = datetime.combine(local.date(), DAILY_RESET_IST, tzinfo=IST)
    return reset if reset > local else reset + timedelta(days=1)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _state_signature(api_secret: str, payload: str) -> str:
    key = hmac.new(api_secret.encode(), _STATE_KEY_INFO, hashlib.sha256).digest()
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())


def sign_state(api_secret: str, user_id: str, client_id: str, nonce: str, expires_at: datetime) -> str:
    payload = _b64(json.dumps({"u": user_id, "c": client_id, "n": nonce, "e": int(expires_at.timestamp())},
                              separators=(",", ":")).encode())
    return f"{payload}.{_state_signature(api_secret, payload)}"


def read_state(state: str) -> dict[str, Any]:
    """The UNVERIFIED payload of a state (to find the account whose key verifies it).

    Raises InvalidLoginState when it is not of the form payload.signature with a JSON payload."""
    try:
        payload, _ = state.split(".", 1)
        data = json.loads(_unb64(payload))
        if not all(isinstance(data.get(k), str) for k in ("u", "c", "n")) or not isinstance(data.get("e"), int):
            raise ValueError
        return data
    except (ValueError, TypeError, AttributeError, binascii.Error):
        raise InvalidLoginState("the login state is malformed; start the login again") from None


def verify_state(state: str, api_secret: str) -> bool:
    payload, _, signature = state.partition(".")
    return hmac.compare_digest(signature, _state_signature(api_secret, payload))


@dataclass
class RefreshReport:
    """What :meth:`SessionService.refresh_sessions` did (client ids only, never tokens)."""

    trade_date: date
    skipped_reason: str | None = None
    refreshed: list[str] = field(default_factory=list)
    still_valid: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    needs_human_login: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"trade_date": self.trade_date.isoformat(), "skipped_reason": self.skipped_reason,
                "refreshed": self.refreshed, "still_valid": self.still_valid, "failed": self.failed,
                "needs_human_login": self.needs_human_login}


class SessionService:
    """Broker logins and their daily upkeep.

    Args:
        repos: repositories (broker accounts table + single table).
        secrets: the per-account secret store.
        clock: "now" (aware).
        calendar: trading calendar (``default_calendar()`` when None).
        roots: per-broker API host overrides (else ``QL_BROKER_ROOT_*``).
        factory: ``create_broker_client`` (injectable).
        sns: boto3 SNS client; ``alerts_topic_arn`` defaults to ``$ALERTS_TOPIC_ARN``.
    """

    def __init__(self, repos: Repositories, secrets: BrokerSecretStore, clock: Clock | None = None,
                 calendar: Any | None = None, roots: dict[str, str] | None = None,
                 factory: Callable[..., BrokerClient] = create_broker_client, sns: Any | None = None,
                 alerts_topic_arn: str | None = None, egress: EgressConfig | None = None) -> None:
        self.repos = repos
        self.egress = egress if egress is not None else EgressConfig.from_env()
        self.secrets = secrets
        self.clock = clock or default_clock()
        self._calendar = calendar
        self.roots = roots or {}
        self.factory = factory
        self._sns = sns
        self.alerts_topic_arn = alerts_topic_arn

    @property
    def calendar(self) -> Any:
        if self._calendar is None:
            from shared_utils.market.calendar import default_calendar

            self._calendar = default_calendar()
        return self._calendar

    # ---- account status bookkeeping -------------------------------------------------------------
    def _record(self, user_id: str, client_id: str, session: SessionStatus) -> BrokerAccount:
        """Write the account's session status (re-reading on a concurrent change, 3 tries)."""
        for attempt in range(3):
            account = self.repos.accounts.get(user_id, client_id)
            try:
                return self.repos.accounts.save(account.model_copy(update={"session": session}), account.version)
            except VersionConflict:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _failed(self, account: BrokerAccount, now: datetime, reason: str) -> None:
        """Record a failed attempt; a still-valid earlier session stays usable (status kept)."""
        current = account.session
        status = current.status if session_valid(current, now) else "FAILED"
        self._record(account.user_id, account.client_id, current.model_copy(
            update={"status": status, "last_login_at": now, "last_login_result": f"FAILED: {reason}"[:300]}))

    def _store_session(self, account: BrokerAccount, secret: AccountSecret, client_session: Any,
                       now: datetime) -> BrokerAccount:
        valid_until = session_valid_until(account.broker, now)
        stored = StoredSession(access_token=client_session.access_token, refresh_token=client_session.refresh_token,
                               feed_token=client_session.feed_token, broker_user_id=client_session.user_id,
                               obtained_at=now, valid_until=valid_until)
        self.secrets.write(account.secret_name, replace(secret, session=stored, oauth_nonce=None))
        return self._record(account.user_id, account.client_id, SessionStatus(
            status="VALID", valid_until=valid_until, last_login_at=now, last_login_result="OK"))

    def _client(self, account: BrokerAccount, credentials: Any, session: Any = None) -> BrokerClient:
        """A client of ``account`` routed through its trader's egress group. Raises
        LoginFailed (403) when per-trader egress is on and the trader has no group."""
        try:
            group = self.egress.route_for(account.user_id, account.client_id)
        except NoEgressGroup as exc:
            raise LoginFailed(str(exc), 403) from None
        client = self.factory(account.broker.value, credentials, session, root=broker_root(account.broker, self.roots),
                              account_id=account.client_id)
        return apply_route(client, group)

    @staticmethod
    def _broker_failure(exc: BrokerError, broker: str) -> LoginFailed:
        said = exc.broker_message or exc.code or type(exc).__name__
        if isinstance(exc, (BrokerUnavailable, OutcomeUnknown, RateLimited)):
            return LoginFailed(f"{broker} could not be reached for the login ({said}); try again", 502)
        return LoginFailed(f"{broker} refused the login: {said}", 400)

    # ---- login entry point ------------------------------------------------------------------------
    def login(self, user_id: str, client_id: str) -> LoginResult:
        """POST /broker-accounts/{client_id}/login: Angel (TOTP) logs in now; Zerodha, Shoonya
        and Zebu (OAuth) get the login URL to open in the browser. Raises NotFound,
        InvalidRequest (paper account), LoginFailed."""
        account = self.repos.accounts.get(user_id, client_id)
        if account.broker is BrokerName.PAPER:
            raise InvalidRequest.field(("path", "client_id"), "a paper account needs no broker login")
        if account.broker is BrokerName.ZERODHA:
            url, expires = self.zerodha_login_url(account)
            return LoginResult(client_id=client_id, broker=account.broker, action="OPEN_LOGIN_URL",
                               login_url=url, state_expires_at=expires)
        if account.broker in (BrokerName.FINVASIA, BrokerName.ZEBU):
            url, expires = self.noren_login_url(account)
            return LoginResult(client_id=client_id, broker=account.broker, action="OPEN_LOGIN_URL",
                               login_url=url, state_expires_at=expires)
        updated = self.totp_login(account)
        return LoginResult(client_id=client_id, broker=account.broker, action="LOGGED_IN",
                           session=session_view(updated.session, self.clock.now()))

    # ---- Zerodha OAuth ----------------------------------------------------------------------------
    def zerodha_login_url(self, account: BrokerAccount, ttl: timedelta = STATE_TTL) -> tuple[str, datetime]:
        """The Kite login URL carrying a signed ``state`` (valid 15 min) and when it expires.

        Writes the state's nonce to the account's secret (only the latest URL works)."""
        secret = self.secrets.read(account.secret_name)
        now = self.clock.now()
        expires = now + ttl
        nonce = pysecrets.token_urlsafe(16)
        state = sign_state(secret.credentials.api_secret, account.user_id, account.client_id, nonce, expires)
        self.secrets.write(account.secret_name, replace(secret, oauth_nonce=nonce))
        query = urlencode({"v": "3", "api_key": secret.credentials.api_key,
                           "redirect_params": urlencode({"state": state})})
        return f"{KITE_LOGIN_URL}?{query}", expires

    def zerodha_callback(self, request_token: str, state: str) -> tuple[BrokerAccount, datetime]:
        """Exchange Kite's ``request_token`` for the day's access token.

        Returns (updated account, now). Raises InvalidLoginState (403; nothing written),
        LoginFailed (Kite refused the token: 400, nothing stored but ``last_login_result``)."""
        return self.oauth_callback(BrokerName.ZERODHA, request_token, state)

    def noren_login_url(self, account: BrokerAccount, ttl: timedelta = STATE_TTL) -> tuple[str, datetime]:
        """The Noren authorize URL (Shoonya or Zebu; ``client_id`` = the account's api_key)
        carrying a signed ``state`` (valid 15 min; only the latest URL works)."""
        from shared_utils.brokers.noren import authorize_url

        secret = self.secrets.read(account.secret_name)
        if not (secret.credentials.api_key and secret.credentials.api_secret):
            raise LoginFailed(f"{account.broker.value}: the account needs api_key (OAuth client_id) and api_secret; "
                              "update its credentials", 400)
        now = self.clock.now()
        expires = now + ttl
        nonce = pysecrets.token_urlsafe(16)
        state = sign_state(secret.credentials.api_secret, account.user_id, account.client_id, nonce, expires)
        self.secrets.write(account.secret_name, replace(secret, oauth_nonce=nonce))
        url = authorize_url(account.broker.value, secret.credentials.api_key, state, broker_root(account.broker, self.roots))
        return url, expires

    def oauth_callback(self, broker: BrokerName, token: str, state: str) -> tuple[BrokerAccount, datetime]:
        """The browser came back from ``broker``'s login with ``token`` (Kite request_token,
        Noren authorization code) and our ``state``: verify the state, exchange the token for
        the day's session, store it.

        Returns (updated account, now). Raises InvalidLoginState (403; nothing written: state
        missing/forged/expired/used, or naming an account of another broker), LoginFailed (the
        broker refused the token: 400; unreachable: 502; only ``last_login_result`` stored)."""
        broker = BrokerName(broker)
        now = self.clock.now()
        data = read_state(state)
        if data["e"] < int(now.timestamp()):
            raise InvalidLoginState("the login link has expired; start the login again")
        account = self.repos.accounts.find(data["u"], data["c"])
        if account is None or account.broker is not broker or not account.secret_name:
            raise InvalidLoginState(f"the login state does not name a {broker.value} account")
        secret = self.secrets.read(account.secret_name)
        if not secret.credentials.api_secret or not verify_state(state, secret.credentials.api_secret):
            raise InvalidLoginState("the login state's signature is invalid")
        if not secret.oauth_nonce or not hmac.compare_digest(secret.oauth_nonce, data["n"]):
            raise InvalidLoginState("this login link was already used or replaced by a newer one")
        creds = replace(secret.credentials, request_token=token)
        try:
            client = self._client(account, creds)
            client_session = client.login()
        except BrokerError as exc:
            failure = self._broker_failure(exc, broker.value)
            self._failed(account, now, str(failure))
            raise failure from None
        except ValueError as exc:  # adapter: a credential is missing
            failure = LoginFailed(f"{broker.value}: {exc}", 400)
            self._failed(account, now, str(failure))
            raise failure from None
        return self._store_session(account, secret, client_session, now), now

    # ---- TOTP brokers -----------------------------------------------------------------------------
    def totp_login(self, account: BrokerAccount) -> BrokerAccount:
        """Log in to Angel One (MPIN + TOTP from the stored seed); store the tokens.

        Raises LoginFailed (400 refused, 502 unreachable); ValueError for a non-TOTP broker."""
        if account.broker not in TOTP_BROKERS:
            raise ValueError(f"{account.broker.value}: not a TOTP broker")
        secret = self.secrets.read(account.secret_name)
        now = self.clock.now()
        try:
            client = self._client(account, secret.credentials)
            client_session = client.login()
        except BrokerError as exc:
            failure = self._broker_failure(exc, account.broker.value)
            self._failed(account, now, str(failure))
            raise failure from None
        except ValueError as exc:  # adapter: a credential is missing
            failure = LoginFailed(f"{account.broker.value}: {exc}", 400)
            self._failed(account, now, str(failure))
            raise failure from None
        return self._store_session(account, secret, client_session, now)

    # ---- all accounts -----------------------------------------------------------------------------
    def all_accounts(self) -> Iterator[BrokerAccount]:
        """Every broker account of every user (a paginated Scan of the broker accounts table)."""
        table = self.repos.accounts_table
        for page in table.client.get_paginator("scan").paginate(TableName=table.name, ConsistentRead=True):
            for raw in page.get("Items", []):
                item = deserialize(raw)
                if item.get("entity_type", "BROKER_ACCOUNT") == "BROKER_ACCOUNT":
                    yield BrokerAccount.model_validate(item)

    def refresh_sessions(self, now: datetime | None = None) -> RefreshReport:
        """Before the open (08:30 IST): renew the session of every ACTIVE LIVE account whose
        session would not last to today's close. Angel (TOTP) logs in again; Zerodha, Shoonya
        and Zebu accounts are listed in ``needs_human_login`` (OAuth: the trader's browser step). PAPER accounts
        need no session and are left alone. Nothing is done on a non-trading day. Failures and
        Zerodha reminders are published to the alerts topic (when configured)."""
        now = now or self.clock.now()
        trade_date = to_ist(now).date()
        report = RefreshReport(trade_date)
        if not self.calendar.is_trading_day(trade_date):
            report.skipped_reason = f"{trade_date.isoformat()} is not a trading day"
            return report
        close = self.calendar.session(trade_date).close
        for account in self.all_accounts():
            if (account.trading_mode is not TradingMode.LIVE or account.status is not EntityStatus.ACTIVE
                    or account.broker is BrokerName.PAPER):
                continue
            if session_valid(account.session, close):
                report.still_valid.append(account.client_id)
            elif account.broker in OAUTH_BROKERS:
                report.needs_human_login.append({"user_id": account.user_id, "client_id": account.client_id})
            else:
                try:
                    self.totp_login(account)
                    report.refreshed.append(account.client_id)
                except LoginFailed as exc:
                    report.failed.append({"user_id": account.user_id, "client_id": account.client_id,
                                          "reason": str(exc)})
        if report.failed or report.needs_human_login:
            self._publish(f"Broker sessions need attention {trade_date.isoformat()}",
                          {"type": "BROKER_SESSION_REFRESH", **report.as_dict()})
        return report

    def health_check(self, trade_date: date) -> list[MissingSession]:
        """Pre-open check (08:45 IST) for ``trade_date`` (IST date).

        Lists every LIVE broker account that an ACTIVE allocation of a running strategy due that
        day (an active ENTRY or EXIT schedule entry whose days include the weekday; DTE-only
        entries count as due) needs, and that has no session valid at the day's open. A paused
        strategy (or one in a paused basket: its ENTRY entry is inactive) keeps its EXIT slot,
        and Prepare runs that exit only while positions are open, so such a strategy needs
        exactly the accounts holding its open positions. Missing accounts are listed too. The
        list is published to the alerts topic when not empty. On a non-trading day: nothing is
        checked or published; returns []."""
        if not self.calendar.is_trading_day(trade_date):
            return []
        open_at = self.calendar.session(trade_date).open
        users = sorted({a.user_id for a in self.all_accounts()})
        missing: list[MissingSession] = []
        for user_id in users:
            entries = self.repos.schedules.list_for_user(user_id)
            running = {e.strategy_id for e in entries if e.execution_type is ExecutionType.ENTRY and e.active}
            due = {e.strategy_id for e in entries if e.active and e.due_on_weekday(trade_date)}
            if not due:
                continue
            needs: dict[str, set[str]] = {}
            for allocation in self.repos.allocations.list_for_user(user_id):
                if (allocation.status is EntityStatus.ACTIVE and allocation.strategy_id in due
                        and allocation.strategy_id in running):
                    needs.setdefault(allocation.client_id, set()).add(allocation.strategy_id)
            for strategy_id in sorted(due - running):  # only the EXIT slot of a paused strategy
                for position in self.repos.positions.list(user_id, strategy_id):
                    if position.quantity:
                        needs.setdefault(position.client_id, set()).add(strategy_id)
            for client_id, strategy_ids in sorted(needs.items()):
                account = self.repos.accounts.find(user_id, client_id)
                if account is None:
                    reason, broker = "broker account not found", None
                elif account.trading_mode is not TradingMode.LIVE or account.broker is BrokerName.PAPER:
                    continue  # paper trading needs no broker session
                elif session_valid(account.session, open_at):
                    continue
                else:
                    broker = account.broker.value
                    reason = (f"no {_LOGIN_NAME[account.broker]} login today: the trader must log in (OAuth)"
                              if account.broker in OAUTH_BROKERS
                              else f"no valid session (last login: {account.session.last_login_result or 'never'})")
                missing.append(MissingSession(user_id=user_id, client_id=client_id, broker=broker, reason=reason,
                                              strategy_ids=sorted(strategy_ids)))
        if missing:
            self._publish(f"{len(missing)} broker account(s) without a session for {trade_date.isoformat()}",
                          {"type": "BROKER_SESSIONS_MISSING", "trade_date": trade_date.isoformat(),
                           "open_at": open_at.isoformat(), "accounts": [m.model_dump() for m in missing]})
            _notify_missing(missing, trade_date, open_at)  # notifications (issue 18): each trader, never raises
        return missing

    # ---- daily reminders and forced logout (issue 16) ---------------------------------------------
    def login_reminders(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Before the open: every ACTIVE LIVE account of a real broker without a session valid at
        today's open gets a reminder the trader can act on, published to the login-reminders
        topic (``$LOGIN_REMINDERS_TOPIC_ARN``, else the alerts topic) with the message
        attribute ``user_id`` = the trader's sub (each trader's email subscription filters on
        it). OAuth brokers (Kite, Shoonya, Zebu): the broker's login URL carrying our signed
        state, which comes back to our callback; valid until the close. TOTP (Angel): the
        automatic login failed, the reason and the route to retry. Non-trading day: nothing.
        Returns the reminders (client ids, brokers, links; never a credential)."""
        now = now or self.clock.now()
        trade_date = to_ist(now).date()
        if not self.calendar.is_trading_day(trade_date):
            return []
        day = self.calendar.session(trade_date)
        reminders: list[dict[str, Any]] = []
        for account in self.all_accounts():
            if (account.trading_mode is not TradingMode.LIVE or account.status is not EntityStatus.ACTIVE
                    or account.broker is BrokerName.PAPER or session_valid(account.session, day.open)):
                continue
            reminder: dict[str, Any] = {"type": "BROKER_LOGIN_REMINDER", "user_id": account.user_id,
                                        "client_id": account.client_id, "broker": account.broker.value,
                                        "trade_date": trade_date.isoformat(), "open_at": day.open.isoformat()}
            try:
                if account.broker is BrokerName.ZERODHA:
                    url, expires = self.zerodha_login_url(account, ttl=max(day.close - now, STATE_TTL))
                elif account.broker in (BrokerName.FINVASIA, BrokerName.ZEBU):
                    url, expires = self.noren_login_url(account, ttl=max(day.close - now, STATE_TTL))
                else:
                    url, expires = None, None
            except (LoginFailed, LookupError) as exc:
                url, expires, reminder["problem"] = None, None, str(exc)[:200]
            if url:
                reminder.update(login_url=url, link_expires_at=expires.isoformat(),
                                text=f"Log in to {_LOGIN_NAME[account.broker]} for {account.client_id} before "
                                     f"{to_ist(day.open):%H:%M} IST: open the link (it returns to the platform).")
            else:
                reminder["text"] = (f"{account.client_id} ({account.broker.value}) has no session for today "
                                    f"(last login: {account.session.last_login_result or 'never'}): log in from the "
                                    f"app (POST /broker-accounts/{account.client_id}/login) before the open.")
            reminders.append(reminder)
            self._notify_trader(account.user_id, f"Broker login needed: {account.client_id}", reminder)
        return reminders

    def logout_all(self, now: datetime | None = None) -> dict[str, Any]:
        """After the close (15:45 IST): log every stored broker session out at the broker
        (SEBI's daily forced logout; Kite ``invalidate_access_token``, Angel ``logout``, Noren
        ``Logout``), drop the tokens from the stored secret and mark the session
        ``LOGGED_OUT``. A broker error is reported and the tokens are still dropped (they are
        dead at the day's end anyway). Returns {"logged_out": [...], "failed": [...]}."""
        now = now or self.clock.now()
        report: dict[str, Any] = {"logged_out": [], "failed": [], "not_supported": []}
        for account in self.all_accounts():
            if account.broker is BrokerName.PAPER or not account.secret_name:
                continue
            try:
                secret = self.secrets.read(account.secret_name)
            except LookupError:
                continue
            if secret.session is None:
                continue
            result = self.revoke(account, secret)
            key = {"LOGGED_OUT": "logged_out", "NOT_SUPPORTED": "not_supported"}.get(result, "failed")
            report[key].append({"user_id": account.user_id, "client_id": account.client_id, "result": result})
            self.secrets.write(account.secret_name, replace(secret, session=None, oauth_nonce=None))
            self._record(account.user_id, account.client_id, account.session.model_copy(update={
                "status": "LOGGED_OUT", "valid_until": None, "last_login_result": f"logged out at the close: {result}"[:300]}))
        if report["failed"]:
            self._publish("Broker logout failures", {"type": "BROKER_LOGOUT", **report})
        return report

    def revoke(self, account: BrokerAccount, secret: AccountSecret) -> str:
        """Log ``account``'s stored session out at the broker. Returns ``LOGGED_OUT``,
        ``NO_SESSION``, ``NOT_SUPPORTED`` or ``FAILED: <reason>`` (never raises for a broker
        or routing error; never includes a token)."""
        if secret.session is None or account.broker is BrokerName.PAPER:
            return "NO_SESSION"
        try:
            client = self._client(account, secret.credentials, secret.session.broker_session())
            return "LOGGED_OUT" if client.logout() else "NOT_SUPPORTED"
        except (BrokerError, LoginFailed, ValueError) as exc:
            return f"FAILED: {getattr(exc, 'broker_message', None) or type(exc).__name__}"[:200]

    def _notify_trader(self, user_id: str, subject: str, message: dict[str, Any]) -> None:
        arn = os.environ.get("LOGIN_REMINDERS_TOPIC_ARN") or self.alerts_topic_arn or os.environ.get("ALERTS_TOPIC_ARN")
        if not arn:
            return
        sns = self._sns or boto3.client("sns", region_name=arn.split(":")[3])
        # email subscribers get readable text with the link; machine subscribers (SQS, apps) the JSON
        email = "\n\n".join(x for x in (message.get("text"), message.get("login_url")) if x)
        sns.publish(TopicArn=arn, Subject=subject[:100], MessageStructure="json",
                    Message=json.dumps({"default": json.dumps(message, default=str), "email": email or subject}),
                    MessageAttributes={"user_id": {"DataType": "String", "StringValue": user_id}})

    def _publish(self, subject: str, message: dict[str, Any]) -> None:
        arn = self.alerts_topic_arn or os.environ.get("ALERTS_TOPIC_ARN")
        if not arn:
            return
        sns = self._sns or boto3.client("sns", region_name=arn.split(":")[3])
        sns.publish(TopicArn=arn, Subject=subject[:100], Message=json.dumps(message, default=str))


def _notify_missing(missing: list[Any], trade_date: date, open_at: datetime) -> None:
    """Each trader hears which of their accounts has no session before the open (issue 18)."""
    from shared_utils.notifications.messages import sessions_missing
    from shared_utils.notifications.publish import safely

    safely(lambda: sessions_missing(missing, trade_date.isoformat(), open_at.isoformat()))


def ensure_reminder_subscription(sns: Any, topic_arn: str, user_id: str, email: str) -> str:
    """Subscribe ``email`` to the login-reminders topic with the filter policy
    ``{"user_id": [user_id]}`` (so it receives only its trader's reminders), once. SNS asks the
    address to confirm; done when an account goes LIVE, so it is confirmed before the first
    reminder. Returns "EXISTS" or "SUBSCRIBED"."""
    policy = {"user_id": [user_id]}
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for sub in page.get("Subscriptions", []):
            if sub.get("Protocol") == "email" and sub.get("Endpoint") == email:
                arn = sub.get("SubscriptionArn", "")
                if arn.startswith("arn:"):
                    attrs = sns.get_subscription_attributes(SubscriptionArn=arn).get("Attributes", {})
                    if json.loads(attrs.get("FilterPolicy") or "{}") == policy:
                        return "EXISTS"
                else:
                    return "EXISTS"  # pending confirmation
    sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=email, ReturnSubscriptionArn=True,
                  Attributes={"FilterPolicy": json.dumps(policy)})
    return "SUBSCRIBED"
