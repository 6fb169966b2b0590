import pytest

from shared_utils.models.broker_account import BrokerAccount


@pytest.fixture
def api(repos):
    """``api(method, path, body=None, user="user-a", query=None) -> (status, json)`` through the
    real handlers over moto tables; ``api.link(user, client_id, broker)`` links a broker account
    (the auth-broker API's job, put into the table directly here)."""
    from lambda_functions.options_platform import common
    from local.apigw import call

    common.repositories.cache_clear()

    def _api(method, path, body=None, user="user-a", query=None):
        return call(method, path, body, user_id=user, query=query)

    def _link(user, client_id, broker="paper"):
        repos.accounts.create(BrokerAccount(user_id=user, client_id=client_id, broker=broker))

    _api.link = _link
    _api.repos = repos
    yield _api
    common.repositories.cache_clear()
