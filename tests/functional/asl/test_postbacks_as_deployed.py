"""Issue 14, finding 8: the public postbacks function placed stop orders from outside the VPC
(an unregistered IP: brokers reject them) and its role could read every user's broker secrets.

As deployed now it VERIFIES the postback and ENQUEUES a follow-up (202), recording nothing of it;
the order poller, in the VPC, consumes the queue, reads the order from the broker, books the fill
and places the stop. It reads one secret: the checksum secret (the
Kite api_secret alone) of the account that owns the order.
"""

from __future__ import annotations

import json

import boto3
import pytest

from lambda_functions.execution_engine import order_poller, postbacks
from lambda_functions.execution_engine.invocation import use_context
from shared_utils.execution.runner import run_state_machine
from shared_utils.models.enums import OrderPurpose, OrderStatus
from tests.functional.engine.conftest import due_event
from tests.functional.engine_ii.conftest import exchange_latency_s, fakes, live, overrides  # noqa: F401 - fixtures
from tests.functional.engine_ii.helpers import kite_postback, post

pytestmark = pytest.mark.slow


@pytest.fixture
def deployed_postbacks(live, monkeypatch):
    """The postbacks handler with its deployed context (no override), a follow-up queue, and a
    record of every Secrets Manager call the handler makes."""
    sqs = boto3.client("sqs", region_name="ap-south-1")
    url = sqs.create_queue(QueueName="postback-follow-ups")["QueueUrl"]
    monkeypatch.setenv("POSTBACK_QUEUE_URL", url)
    postbacks.set_context(None)
    postbacks._deployed.cache_clear()
    calls: list[tuple[str, str]] = []

    def record(params, model, **_):
        calls.append((model.name, params.get("SecretId")))

    events = boto3._get_default_session().events
    events.register("provide-client-params.secrets-manager.*", record)
    yield sqs, url, calls
    events.unregister("provide-client-params.secrets-manager.*", record)
    postbacks._deployed.cache_clear()


def _zerodha_entry_order(engine, user_id):
    """Run the entry through the state machine; one of ZERODHA123's entry orders."""
    (event,) = due_event(engine)
    (result,) = run_state_machine(event, engine)["results"]
    return next(o for o in engine.repos.orders.list_for_execution(user_id, result["execution_id"], "ZERODHA123")
                if o.purpose is OrderPurpose.ENTRY)


def _unavailable(*a, **k):
    from shared_utils.brokers.errors import BrokerUnavailable

    raise BrokerUnavailable("broker outage (test)", broker="test")


def test_postback_records_enqueues_and_the_poller_places_the_stop(engine, live, fakes, deployed_postbacks, monkeypatch):
    """(The name is kept; the webhook records nothing any more.) A verified postback is a trigger
    only (issue 13 item 14): 202, the follow-up enqueued, nothing of its unsigned fields saved and
    nothing sent to a broker; the order poller consuming the queue reads the order from the broker
    and then books the fill and places the stop (issue 14 finding 8)."""
    sqs, url, secret_calls = deployed_postbacks
    user_id, strategy_id, kite, angel = live
    with monkeypatch.context() as patch:
        patch.setattr(kite, "order_book", _unavailable)  # the entry's own book read misses the fills
        order = _zerodha_entry_order(engine, user_id)
    before = engine.repos.orders.by_tag(order.tag)
    assert before.status is not OrderStatus.FILLED
    sent_before = len(fakes.kite.engine.orders)

    status, body = post(kite_postback(fakes.kite, order.broker_order_id))
    assert status == 202, body
    # nothing of the postback recorded: the order is as it was (not FILLED, same version)
    after = engine.repos.orders.by_tag(order.tag)
    assert after.model_dump() == before.model_dump()
    # nothing was sent to the broker from outside the VPC
    assert len(fakes.kite.engine.orders) == sent_before
    # one read, of the order's account's checksum secret only
    assert secret_calls == [("GetSecretValue", f"ql-algo-trading-local/postback-checksum/{user_id}/ZERODHA123")]
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    assert body == {"user_id": user_id, "strategy_id": strategy_id, "order_key": before.order_key}

    # the order poller (VPC) consumes the follow-up: it reads the broker, then books the fill and
    # places the stop from the static IP
    reads: list[str] = []
    book = kite.order_book

    def read_book(*args, **kwargs):
        reads.append("order_book")
        return book(*args, **kwargs)

    with monkeypatch.context() as patch, use_context(engine):
        patch.setattr(kite, "order_book", read_book)
        order_poller.handler({"Records": [{"body": message["Body"]}]}, _Context())
    assert reads, "the poller applies what the broker reports, so it reads the broker"
    stored = engine.repos.orders.by_tag(order.tag)
    assert stored.status is OrderStatus.FILLED
    assert stored.filled_quantity == stored.quantity
    stops = [o for o in engine.repos.orders.list_for_execution(user_id, stored.execution_id, "ZERODHA123")
             if o.purpose is OrderPurpose.STOP_LOSS]
    assert stops and len(fakes.kite.engine.orders) > sent_before


def test_postback_without_checksum_secret_is_refused(engine, live, fakes, deployed_postbacks, monkeypatch):
    """The broker secret alone (no checksum secret) is not readable by the webhook: refused."""
    _, url, secret_calls = deployed_postbacks
    user_id, strategy_id, kite, angel = live
    boto3.client("secretsmanager", region_name="ap-south-1").delete_secret(
        SecretId=f"ql-algo-trading-local/postback-checksum/{user_id}/ZERODHA123", ForceDeleteWithoutRecovery=True)
    order = _zerodha_entry_order(engine, user_id)
    status, body = post(kite_postback(fakes.kite, order.broker_order_id))
    assert status == 403 and "no API secret" in body["message"]
    assert all(name.startswith("ql-algo-trading-local/postback-checksum/") for _, name in secret_calls)


class _Context:
    function_name = "order_poller"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:ap-south-1:000000000000:function:order_poller"
    aws_request_id = "test"
