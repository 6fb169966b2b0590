"""Order types real brokers take in 2026 (issue 15): protected market orders, stop-limit stops,
and the API refusing SL-M on index options with the reason."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared_utils.brokers.models import OrderRequest
from shared_utils.brokers.protection import is_option, market_as_limit, protected_price, stop_limit_for
from shared_utils.models.enums import Exchange, OrderType, Product, TransactionType
from shared_utils.models.leg import Leg, LegCreate

LEG = {"leg_no": 1, "lots": 1, "transaction_type": "SELL", "leg_type": "CE", "underlying": "NIFTY",
       "entry_by": "ATM_OFFSET", "strike_selection_config": {"method": "ATM_OFFSET", "atm_offset": 0}, "expiry_type": "WEEKLY", "stop_loss": 50}


def test_api_refuses_sl_m_on_index_options_with_the_reason():
    with pytest.raises(ValidationError, match="16052"):
        LegCreate.model_validate({**LEG, "stop_loss_order_type": "SL-M"})
    assert LegCreate.model_validate(LEG).stop_loss_order_type is OrderType.SL
    # a leg stored before the rule still loads (its stop goes out as SL through the adapters)
    stored = Leg.model_validate({**LEG, "stop_loss_order_type": "SL-M", "user_id": "u", "strategy_id": "s",
                                 "version": 1, "created_at": "2026-08-01T00:00:00Z", "updated_at": "2026-08-01T00:00:00Z"})
    assert stored.stop_loss_order_type is OrderType.SL_M


@pytest.mark.parametrize("price,side,expected", [
    ("120.50", "BUY", "122.90"),   # 100-500: 2 % (2.41 -> 2.40 toward the price)
    ("120.50", "SELL", "118.10"),
    ("8.00", "SELL", "7.60"),      # < 10: 5 %
    ("50.00", "BUY", "51.50"),     # 10-100: 3 %
    ("800.00", "SELL", "792.00"),  # > 500: 1 %
    ("0.05", "SELL", "0.05"),      # never below one tick
    ("0.05", "BUY", "0.10"),       # at least one tick away
])
def test_protected_price_slab(price, side, expected):
    assert protected_price(Decimal(price), TransactionType(side)) == Decimal(expected)


def test_market_becomes_limit_and_sl_m_becomes_sl():
    market = OrderRequest(Exchange.NFO, "NIFTY2681825000CE", TransactionType.BUY, 65, Product.NRML, OrderType.MARKET)
    limit = market_as_limit(market, Decimal("120.50"))
    assert (limit.order_type, limit.price) == (OrderType.LIMIT, Decimal("122.90"))
    stop = OrderRequest(Exchange.NFO, "NIFTY2681825000PE", TransactionType.BUY, 65, Product.NRML, OrderType.SL_M,
                        trigger_price=Decimal("36.55"))
    sl = stop_limit_for(stop)
    assert (sl.order_type, sl.trigger_price, sl.price) == (OrderType.SL, Decimal("36.55"), Decimal("37.60"))


@pytest.mark.parametrize("exchange,symbol,expected", [
    (Exchange.NFO, "NIFTY2681825000CE", True), (Exchange.BFO, "SENSEX2682081000PE", True),
    (Exchange.NFO, "NIFTY18AUG26C25000", True), (Exchange.NFO, "NIFTY26AUGFUT", False),
    (Exchange.NSE, "NIFTY 50", False),
])
def test_is_option(exchange, symbol, expected):
    req = OrderRequest(exchange, symbol, TransactionType.BUY, 1, Product.NRML, OrderType.LIMIT, price=Decimal("1"))
    assert is_option(req) is expected


def test_unmapped_status_alert_names_the_raw_value_and_publishes_once(monkeypatch, caplog):
    import boto3
    from moto import mock_aws

    from shared_utils.brokers import alerts
    from shared_utils.brokers.mappings import read_status
    from shared_utils.brokers.mappings.zerodha import STATUS
    from shared_utils.models.enums import OrderStatus

    with mock_aws():
        sns = boto3.client("sns", region_name="ap-south-1")
        sqs = boto3.client("sqs", region_name="ap-south-1")
        arn = sns.create_topic(Name="alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="q")["QueueUrl"]
        qarn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=qarn)
        monkeypatch.setenv("ALERTS_TOPIC_ARN", arn)
        monkeypatch.setattr(alerts, "_PUBLISHED", set())
        with caplog.at_level("ERROR", logger="shared_utils.brokers.alerts"):
            for _ in range(3):  # the poller reads the same book every minute: one alert, not three
                assert read_status(STATUS, "HELD BY RMS", broker="zerodha", order_id="1") is OrderStatus.UNKNOWN
        assert "UNMAPPED_BROKER_VALUE" in caplog.text and "'HELD BY RMS'" in caplog.text
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        assert len(messages) == 1 and "HELD BY RMS" in messages[0]["Body"]
