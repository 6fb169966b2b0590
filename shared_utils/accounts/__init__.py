"""Broker accounts (the auth-broker stack's domain): accounts, their secrets, daily sessions and
the broker clients the execution engine uses.

- :mod:`.service` ``BrokerAccountService``: CRUD with the LIVE and delete rules.
- :mod:`.secrets` ``BrokerSecretStore``: one secret per account,
  ``ql-algo-trading-{env}/broker/{user_id}/{client_id}``.
- :mod:`.sessions` ``SessionService``: Zerodha OAuth, TOTP logins, refresh, health check.
- :mod:`.provider` ``BrokerClientProvider``: ``client_for(account)`` for LIVE accounts.
- :mod:`.profile` ``ProfileService``: the trader's name, phone and state on the Cognito user.
"""

from shared_utils.accounts.provider import BrokerClientProvider, PaperAccount, broker_root
from shared_utils.accounts.secrets import AccountSecret, BrokerSecretStore, SecretMissing, StoredSession, secret_name
from shared_utils.accounts.service import BrokerAccountService, session_valid
from shared_utils.accounts.sessions import InvalidLoginState, LoginFailed, SessionService, session_valid_until

__all__ = [
    "AccountSecret", "BrokerAccountService", "BrokerClientProvider", "BrokerSecretStore", "InvalidLoginState",
    "LoginFailed", "PaperAccount", "SecretMissing", "SessionService", "StoredSession", "broker_root",
    "secret_name", "session_valid", "session_valid_until",
]
