"""Issue 16 locally (``deploy.sh -e local --brokers fake``): each declared group leaves from its
own loopback address, the platform's fake routing binds it, a fake registered to one group's
address refuses another group's orders, and an account of a trader without a group is refused."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from shared_utils.brokers import create_broker_client
from shared_utils.brokers.base import BrokerCredentials, BrokerSession
from shared_utils.brokers.errors import BrokerError
from shared_utils.brokers.models import OrderRequest
from shared_utils.egress import NoEgressGroup, local_routing
from shared_utils.models.broker_account import BrokerAccount
from shared_utils.models.enums import BrokerName, Exchange, OrderType, Product, TransactionType
from tests.functional.auth_broker.conftest import KITE

CE = "NIFTY2681825000CE"


class KiteOnly:
    """Stands in for FakeBrokers (which also builds masters): a real Kite client on the fake."""

    def __init__(self, server) -> None:
        self.server = server

    def client(self, broker, account_id):
        return create_broker_client("zerodha", BrokerCredentials(api_key=KITE["api_key"], api_secret=KITE["api_secret"]),
                                    BrokerSession(access_token=self.server.access_token), root=self.server.url,
                                    account_id=account_id, timeout=3.0)


def account(user, client_id):
    from datetime import UTC, datetime

    now = datetime(2026, 8, 17, 4, 0, tzinfo=UTC)
    return BrokerAccount(user_id=user, client_id=client_id, broker=BrokerName.ZERODHA, created_at=now, updated_at=now)


def test_local_groups_get_their_own_loopback_addresses():
    routing = local_routing({"trader-b": {"users": ["u-b"]}, "family-a": {"users": ["u-a", "u-a2"]}})
    assert routing["family-a"]["source_address"] == "127.0.0.2" == routing["family-a"]["ip"]
    assert routing["trader-b"]["source_address"] == "127.0.0.3"


def test_fake_routing_binds_each_group_and_a_wrong_route_fails(kite, monkeypatch):
    from local.platform import _FakeRouting

    monkeypatch.setenv("QL_EGRESS_GROUPS", json.dumps(local_routing(
        {"family-a": {"users": ["u-a"]}, "trader-b": {"users": ["u-b"]}})))
    kite.register_ip("127.0.0.2")  # the fake's API key is family-a's
    kite.engine.set_price("NFO", CE, "100")
    order = OrderRequest(Exchange.NFO, CE, TransactionType.BUY, 65, Product.NRML, OrderType.LIMIT,
                         price=Decimal("100.00"), tag="T1")
    routing = _FakeRouting(KiteOnly(kite), paper=None)
    assert routing.client_for(account("u-a", "ZA1")).place_order(order).order_id
    with pytest.raises(BrokerError) as refused:
        routing.client_for(account("u-b", "ZB1")).place_order(order)
    assert "not the static IP registered" in str(refused.value), "the broker's own words reach the trader"
    assert {s for s, _, _ in kite.refused_sources} == {"127.0.0.3"}
    with pytest.raises(NoEgressGroup):
        routing.client_for(account("u-nobody", "ZC1"))
