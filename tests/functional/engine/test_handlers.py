"""The engine's Lambda handlers, chained as the Express state machine chains them, over moto:
emitter -> (EventBridge) -> Prepare -> Resolve -> PlaceOrders per account -> Finalize."""

import json
from datetime import datetime

import boto3
import pytest

from local.apigw import FakeLambdaContext
from shared_utils.clock import IST, FixedClock, default_clock, set_default_clock


@pytest.fixture
def lambda_env(seed_strategy, env_config, monkeypatch):
    from shared_utils.execution import wiring

    events = boto3.client("events", region_name="ap-south-1")
    events.create_event_bus(Name=env_config.event_bus_name)
    sqs = boto3.client("sqs", region_name="ap-south-1")
    queue_url = sqs.create_queue(QueueName="due")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="due", EventBusName=env_config.event_bus_name,
                    EventPattern=json.dumps({"detail-type": ["Strategy Execution Due"]}))
    events.put_targets(Rule="due", EventBusName=env_config.event_bus_name, Targets=[{"Id": "q", "Arn": queue_arn}])
    previous = default_clock()
    set_default_clock(FixedClock(datetime(2026, 8, 17, 9, 28, 5, tzinfo=IST)))
    wiring.engine_context.cache_clear()
    wiring._placement_base.cache_clear()
    yield sqs, queue_url
    set_default_clock(previous)
    wiring.engine_context.cache_clear()
    wiring._placement_base.cache_clear()


def test_state_machine_chain_through_handlers(lambda_env):
    from lambda_functions.execution_engine import emitter, finalize, place_orders, prepare, resolve

    sqs, queue_url = lambda_env
    tick = emitter.handler({}, FakeLambdaContext())
    assert tick["slot"] == "09:30" and tick["due"] == 1 and tick["events"] == 1
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    detail = json.loads(messages[0]["Body"])["detail"]
    state = prepare.handler({**detail, "run_id": "arn:aws:states:ap-south-1:1:express:sm:run-1"}, FakeLambdaContext())
    assert state["claimed_count"] == 1
    again = prepare.handler({**detail, "run_id": "arn:aws:states:ap-south-1:1:express:sm:run-1"}, FakeLambdaContext())
    assert again["claimed_count"] == 1, "a retried Prepare in the same run keeps its claim"
    default_clock().set(datetime(2026, 8, 17, 9, 29, 58, tzinfo=IST))
    state = resolve.handler(state, FakeLambdaContext())
    assert sorted(i["client_id"] for i in state["work_items"]) == ["ANGELONE456", "ZERODHA123"]
    assert all("orders" not in item for item in state["work_items"]), "references only (contract C1)"
    state["placements"] = [place_orders.handler(item, FakeLambdaContext()) for item in state["work_items"]]
    assert all(p["sent"] == 4 and p["not_sent"] == 0 for p in state["placements"])
    assert all(set(p["statuses"]) <= {"OPEN", "FILLED"} for p in state["placements"])
    result = finalize.handler(state, FakeLambdaContext())
    assert [r["status"] for r in result["results"]] == ["COMPLETED"]


def test_place_orders_alerts_reach_the_bus(lambda_env, env_config):
    """PlaceOrders' own alerts (shorts held back, a stop not placed) were dropped in AWS: its
    light context had no publisher, so neither the bus nor the trader's notifications saw them."""
    from shared_utils.execution import wiring
    from shared_utils.execution.exits import alert

    sqs, _ = lambda_env
    events = boto3.client("events", region_name="ap-south-1")
    alerts_url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="alerts", EventBusName=env_config.event_bus_name,
                    EventPattern=json.dumps({"detail-type": ["Order Alert"]}))
    events.put_targets(Rule="alerts", EventBusName=env_config.event_bus_name, Targets=[{"Id": "a", "Arn": alerts_arn}])
    ctx = wiring.placement_context({"execution_id": "e", "client_id": "ZERODHA123"})
    alert(ctx, "NOT_SENT", "user-1", "strategy-1", "ZERODHA123: shorts held back, hedge not filled")
    body = json.loads(sqs.receive_message(QueueUrl=alerts_url)["Messages"][0]["Body"])
    assert body["detail"]["message"] == "ZERODHA123: shorts held back, hedge not filled"
