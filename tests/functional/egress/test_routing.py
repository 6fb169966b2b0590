"""Issue 16: egress per trader. Each group's broker calls leave from the group's own address
(locally 127.0.0.2, 127.0.0.3: the client binds its source address); the fakes accept calls only
from the address registered for their API key, so a wrong route fails; a trader without a group
is refused with the reason."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from shared_utils.accounts import BrokerClientProvider
from shared_utils.brokers.errors import BrokerError
from shared_utils.brokers.models import OrderRequest
from shared_utils.egress import EgressConfig, NoEgressGroup
from shared_utils.models.enums import Exchange, OrderType, Product, TradingMode, TransactionType
from shared_utils.persistence.keys import order_tag
from tests.functional.auth_broker.conftest import KITE, angel_body, noren_body, noren_oauth_login, zerodha_body

CE = "NIFTY2681825000CE"
GROUPS = {
    "family-a": {"users": ["user-a"], "ip": "203.0.113.10", "ip_since": "2026-08-14", "source_address": "127.0.0.2"},
    "trader-b": {"users": ["user-b"], "ip": "203.0.113.11", "ip_since": "2026-08-10", "source_address": "127.0.0.3"},
}


def order(key="e1"):
    return OrderRequest(Exchange.NFO, CE, TransactionType.BUY, 65, Product.NRML, OrderType.LIMIT,
                        price=Decimal("100.00"), tag=order_tag(key), symboltoken="43650")


@pytest.fixture
def egress(monkeypatch):
    monkeypatch.setenv("QL_EGRESS_GROUPS", json.dumps(GROUPS))
    return EgressConfig.from_mapping(GROUPS)


def live(api, client_id, user="user-a"):
    account = api.repos.accounts.get(user, client_id)
    return api.repos.accounts.save(account.model_copy(update={"trading_mode": TradingMode.LIVE}), account.version)


def provider(api, groups):
    from lambda_functions.auth_broker.common import secret_store

    return BrokerClientProvider(secret_store(), api.clock, egress=EgressConfig.from_mapping(groups))


def sources(server):
    return {entry[0] for entry in server.refused_sources}


def test_angel_login_and_orders_leave_from_the_groups_address(api, angel, egress):
    angel.register_ip("127.0.0.2")  # user-a registered family-a's IP for this API key
    angel.engine.set_price("NFO", CE, "100")
    api("POST", "/broker-accounts", angel_body())
    status, body = api("POST", "/broker-accounts/A123/login")  # the TOTP login goes through the route too
    assert status == 200, body
    account = live(api, "A123")
    client = provider(api, GROUPS).client_for(account)
    assert client.egress_group == "family-a"
    ack = client.place_order(order())
    assert ack.order_id and not angel.refused_sources

    # a wrong route (user-a's calls through trader-b's address) is refused by the broker
    wrong = {**GROUPS, "family-a": {**GROUPS["family-a"], "users": []},
             "trader-b": {**GROUPS["trader-b"], "users": ["user-b", "user-a"]}}
    with pytest.raises(BrokerError) as refused:
        provider(api, wrong).client_for(account).place_order(order("e2"))
    assert "not the static IP registered" in str(refused.value), "the broker's own words reach the trader"
    assert sources(angel) == {"127.0.0.3"}
    assert len(angel.engine.orders) == 1  # the misrouted order never booked


def test_kite_orders_from_an_unregistered_address_fail(api, kite, egress):
    kite.register_ip("127.0.0.3")  # user-b's group
    kite.engine.set_price("NFO", CE, "100")
    from tests.functional.auth_broker.test_sessions import callback

    api("POST", "/broker-accounts", zerodha_body(), user="user-b")
    # login through the OAuth callback (the token exchange is a broker call from the group's address)
    status, login = api("POST", "/broker-accounts/ZX1234/login", user="user-b")
    from urllib.parse import parse_qs, urlsplit

    state = parse_qs(parse_qs(urlsplit(login["login_url"]).query)["redirect_params"][0])["state"][0]
    status, body = callback(api, KITE["request_token"], state)
    assert status == 200, body
    account = live(api, "ZX1234", "user-b")
    assert provider(api, GROUPS).client_for(account).place_order(order()).order_id
    swapped = {"family-a": {**GROUPS["family-a"], "users": ["user-b"]}, "trader-b": {**GROUPS["trader-b"], "users": []}}
    with pytest.raises(BrokerError) as refused:
        provider(api, swapped).client_for(account).place_order(order("e2"))
    assert "not the static IP registered" in str(refused.value), "the broker's own words reach the trader"
    assert sources(kite) == {"127.0.0.2"}


def test_noren_orders_route_by_group(api, noren, egress):
    noren.register_ip("127.0.0.2")
    noren.engine.set_price("NFO", CE, "100")
    api("POST", "/broker-accounts", noren_body())
    status, body = noren_oauth_login(api)  # the browser's authorize page is exempt; GenAcsTok is routed
    assert status == 200, body
    account = live(api, "FA1234")
    assert provider(api, GROUPS).client_for(account).place_order(order()).order_id
    assert not noren.refused_sources


def test_a_trader_without_a_group_is_refused_with_the_reason(api, angel, egress):
    api("POST", "/broker-accounts", angel_body(), user="user-nomfa")
    status, body = api("POST", "/broker-accounts/A123/login", user="user-nomfa")
    assert status == 403 and "no egress group" in body["message"], body
    account = live(api, "A123", "user-nomfa")
    with pytest.raises(NoEgressGroup) as err:
        provider(api, GROUPS).client_for(account)
    assert "static-IP rule" in str(err.value) and "A123" in str(err.value)
    assert not angel.engine.orders


def test_no_config_means_no_routing_and_a_user_in_two_groups_is_a_config_error(monkeypatch):
    monkeypatch.delenv("QL_EGRESS_GROUPS", raising=False)
    assert EgressConfig.from_env().route_for("anyone") is None  # a dev deployment without static egress
    with pytest.raises(ValueError):
        EgressConfig.from_mapping({"a": {"users": ["u"]}, "b": {"users": ["u"]}})
    group = EgressConfig.from_mapping(GROUPS).group_of("user-a")
    assert group.view() == {"group": "family-a", "ip": "203.0.113.10", "ip_since": "2026-08-14",
                            "next_change": "2026-08-21"}


def test_algo_id_is_set_on_kite_clients_only_where_configured(api, kite, angel, monkeypatch):
    from urllib.parse import parse_qs, urlsplit

    from tests.functional.auth_broker.test_sessions import callback

    api("POST", "/broker-accounts", zerodha_body())
    _, login = api("POST", "/broker-accounts/ZX1234/login")
    state = parse_qs(parse_qs(urlsplit(login["login_url"]).query)["redirect_params"][0])["state"][0]
    assert callback(api, KITE["request_token"], state)[0] == 200
    api("POST", "/broker-accounts", angel_body())
    api("POST", "/broker-accounts/A123/login")
    kite_account, angel_account = live(api, "ZX1234"), live(api, "A123")
    assert provider(api, GROUPS).client_for(kite_account).algo_id is None
    monkeypatch.setenv("QL_ALGO_ID_ZERODHA", "EXCH-ALGO-7")
    assert provider(api, GROUPS).client_for(kite_account).algo_id == "EXCH-ALGO-7"
    assert not hasattr(provider(api, GROUPS).client_for(angel_account), "algo_id")
