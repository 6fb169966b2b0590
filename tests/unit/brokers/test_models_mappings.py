"""Commands validate themselves; mapping tables raise on unknown values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared_utils.brokers import create_broker_client
from shared_utils.brokers.angel import check_envelope
from shared_utils.brokers.errors import OrderNotFound, OrderRejected, OutcomeUnknown, SessionExpired, UnmappedValue
from shared_utils.brokers.mappings import angel, lookup, noren, zerodha
from shared_utils.brokers.base import BrokerCredentials
from shared_utils.brokers.models import OrderRequest
from shared_utils.models.enums import Exchange, OrderType, Product, TransactionType


def test_order_request_rules():
    with pytest.raises(ValueError):
        OrderRequest(Exchange.NFO, "X", TransactionType.BUY, 65, Product.NRML, OrderType.LIMIT)
    with pytest.raises(ValueError):
        OrderRequest(Exchange.NFO, "X", TransactionType.BUY, 65, Product.NRML, OrderType.LIMIT, price=100.5)
    with pytest.raises(ValueError):
        OrderRequest(Exchange.NFO, "X", TransactionType.BUY, 0, Product.NRML, OrderType.MARKET)
    with pytest.raises(ValueError):
        OrderRequest(Exchange.NFO, "X", TransactionType.BUY, 65, Product.NRML, OrderType.MARKET, tag="x" * 21)
    r = OrderRequest("NFO", "X", "BUY", 65, "NRML", "SL-M", trigger_price="99.5")
    assert r.trigger_price == Decimal("99.5") and r.order_type is OrderType.SL_M


@pytest.mark.parametrize("table", [zerodha.STATUS, angel.STATUS, noren.STATUS, zerodha.PRODUCT, angel.ORDER_TYPE])
def test_unknown_values_raise(table):
    with pytest.raises(UnmappedValue):
        lookup(table, "SOMETHING_NEW", what="x", broker="b")


def test_every_platform_enum_is_mapped():
    for mod in (zerodha, angel, noren):
        assert set(mod.PRODUCT) == set(Product) and set(mod.ORDER_TYPE) == set(OrderType)


def test_angel_envelopes_both_shapes():
    with pytest.raises(SessionExpired):
        check_envelope({"success": False, "message": "Invalid Token", "errorCode": "AG8001", "data": ""}, mutating=True)
    with pytest.raises(SessionExpired):
        check_envelope({"status": False, "message": "Session Expired", "errorcode": "AB1010", "data": None}, mutating=False)
    with pytest.raises(OrderNotFound):
        check_envelope({"status": False, "message": "x", "errorcode": "AB1013", "data": None}, mutating=False)
    with pytest.raises(OrderRejected) as info:
        check_envelope({"status": False, "message": "Invalid Product Type", "errorcode": "AB1012", "data": None}, mutating=True)
    assert info.value.broker_message == "Invalid Product Type" and info.value.broker == "angel"


def test_factory_rejects_unknown_broker_and_hides_secrets():
    with pytest.raises(UnmappedValue):
        create_broker_client("upstox", BrokerCredentials(api_key="k"))
    assert "s3cret" not in repr(BrokerCredentials(api_key="k", api_secret="s3cret", password="s3cret"))


@pytest.mark.parametrize("code", ["AB2001", "AB4036", "AB1004", ""])
def test_angel_unknown_code_in_http_200_is_outcome_unknown(code):
    """Issue 15: AB2001 "internal error" in an HTTP-200 body was classed as a rejection, so a
    possibly placed order skipped reconciliation. Any code we do not know to be a refusal is
    OutcomeUnknown on an order request (reconcile by tag), carrying the tag."""
    body = {"status": False, "message": "Internal Error", "errorcode": code, "data": None}
    with pytest.raises(OutcomeUnknown) as info:
        check_envelope(body, mutating=True, tag="T1")
    assert info.value.tag == "T1"


@pytest.mark.parametrize("code,meaning", [("AB1012", "product type"), ("AB1008", "variety"), ("AB1009", "symbol not found"),
                                          ("AB4008", "ordertag")])
def test_angel_real_refusal_codes(code, meaning):
    with pytest.raises(OrderRejected, match=meaning):
        check_envelope({"status": False, "message": "x", "errorcode": code, "data": None}, mutating=True)


@pytest.mark.parametrize("code", ["AB8050", "AB8051"])
def test_angel_refresh_token_codes_are_not_session_errors(code):
    with pytest.raises(OrderRejected) as info:
        check_envelope({"status": False, "message": "Invalid refresh token", "errorcode": code, "data": None}, mutating=False)
    assert not isinstance(info.value, SessionExpired)
