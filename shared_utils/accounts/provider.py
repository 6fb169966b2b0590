"""How the execution engine gets a ready broker client for a LIVE account.

Boundary: this provider builds clients for LIVE accounts of real brokers only. A PAPER-mode
account (or a ``paper`` broker account) is NOT built here: the engine routes those to its paper
broker (``create_broker_client("paper", market_data=...)``) and :meth:`client_for` raises
:class:`PaperAccount` if asked. The provider never logs in: sessions are opened by the
auth-broker flows (Zerodha OAuth callback, TOTP login, the 08:30 IST refresh); an account
without a valid session raises :class:`SessionExpired` (the broker layer's own class, so the
engine's existing handling applies) and the engine skips that account with the reason.

Root URLs: ``QL_BROKER_ROOT_ZERODHA``, ``QL_BROKER_ROOT_ANGEL``, ``QL_BROKER_ROOT_FINVASIA``,
``QL_BROKER_ROOT_ZEBU`` override each broker's API host (the local fakes on 127.0.0.1);
unset = the broker's production host.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from shared_utils.accounts.models import OAUTH_BROKERS
from shared_utils.accounts.secrets import BrokerSecretStore, SecretMissing
from shared_utils.brokers import BrokerClient, SessionExpired, create_broker_client
from shared_utils.clock import Clock, default_clock
from shared_utils.egress import EgressConfig, apply_route
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.enums import BrokerName, TradingMode

ROOT_ENV = "QL_BROKER_ROOT_{}"


def broker_root(broker: BrokerName | str, overrides: Mapping[str, str] | None = None) -> str | None:
    """API host for ``broker``: ``overrides[broker]``, else ``$QL_BROKER_ROOT_<BROKER>``, else None
    (the adapter's default production host)."""
    name = BrokerName(broker).value
    if overrides and overrides.get(name):
        return overrides[name]
    return os.environ.get(ROOT_ENV.format(name.upper())) or None


ALGO_ID_ENV = "QL_ALGO_ID_{}"


def algo_id_for(broker: BrokerName | str) -> str | None:
    """The exchange algo ID to send with orders of ``broker`` (``$QL_ALGO_ID_<BROKER>``), or None.

    SEBI's retail-algo framework (1 Apr 2026) tags algo orders with an exchange-issued algo ID;
    only Kite exposes it (``algo_id``); other adapters have no such field and ignore it."""
    return os.environ.get(ALGO_ID_ENV.format(BrokerName(broker).value.upper())) or None


class PaperAccount(ValueError):
    """A PAPER-mode (or paper broker) account was passed to the provider: the engine's paper
    broker handles it."""


class BrokerClientProvider:
    """``client_for(account) -> BrokerClient`` for the execution engine.

    Args:
        secrets: the per-account secret store.
        clock: "now" for the session validity check (aware).
        roots: per-broker host overrides (else the ``QL_BROKER_ROOT_*`` variables).
        factory: ``create_broker_client`` (injectable for tests).
    """

    def __init__(self, secrets: BrokerSecretStore, clock: Clock | None = None, roots: Mapping[str, str] | None = None,
                 factory: Callable[..., BrokerClient] = create_broker_client, timeout: float = 7.0,
                 egress: EgressConfig | None = None) -> None:
        self.secrets = secrets
        self.clock = clock or default_clock()
        self.roots = dict(roots or {})
        self.factory = factory
        self.timeout = timeout
        self.egress = egress if egress is not None else EgressConfig.from_env()

    def client_for(self, account: BrokerAccount) -> BrokerClient:
        """A client of ``account`` carrying today's session tokens (one Secrets Manager read).

        The client's rate limiter is the process-wide one of ``account.client_id`` (shared by
        every client of that account in this process).

        Raises:
            PaperAccount: PAPER mode or the ``paper`` broker (handled by the engine).
            SessionExpired: no session, or ``valid_until`` has passed (code ``NO_SESSION`` /
                ``EXPIRED``; message says how to log in: Zerodha needs the trader's OAuth login,
                TOTP brokers the refresh or POST /broker-accounts/{client_id}/login).
            SecretMissing: the account has no secret.
            NoEgressGroup: per-trader egress is configured and the trader has no group (the
                call would leave from an unregistered IP).
        """
        broker, mode = BrokerName(account.broker), TradingMode(account.trading_mode)
        if mode is not TradingMode.LIVE or broker is BrokerName.PAPER:
            raise PaperAccount(f"{account.client_id}: {mode.value} / {broker.value} accounts are "
                               "executed by the engine's paper broker, not built by BrokerClientProvider")
        if not account.secret_name:
            raise SecretMissing(f"{account.client_id}: the account has no broker secret")
        group = self.egress.route_for(account.user_id, account.client_id)
        secret = self.secrets.read(account.secret_name)
        name = {BrokerName.ZERODHA: "Kite", BrokerName.FINVASIA: "Shoonya", BrokerName.ZEBU: "Zebu"}.get(broker)
        how = (f"the trader must log in to {name} (POST /broker-accounts/{{id}}/login, then the OAuth redirect)"
               if broker in OAUTH_BROKERS else "log in again (POST /broker-accounts/{id}/login)").replace(
            "{id}", account.client_id)
        if secret.session is None:
            raise SessionExpired(f"{broker.value} {account.client_id}: no broker session today; {how}",
                                 broker=broker.value, code="NO_SESSION")
        now = self.clock.now()
        if not secret.session.valid_at(now):
            raise SessionExpired(
                f"{broker.value} {account.client_id}: session expired at {secret.session.valid_until.isoformat()}; {how}",
                broker=broker.value, code="EXPIRED")
        client = self.factory(broker.value, secret.credentials, secret.session.broker_session(),
                              root=broker_root(broker, self.roots), timeout=self.timeout, account_id=account.client_id)
        apply_route(client, group)
        algo_id = algo_id_for(broker)
        if algo_id and hasattr(client, "algo_id"):
            client.algo_id = algo_id  # Kite's optional order parameter (kiteconnect 5.2.2)
        return client
