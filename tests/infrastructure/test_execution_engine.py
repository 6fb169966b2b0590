"""execution-engine: bus, emitter schedule, the Express state machine contract, rules,
archive bucket, DLQ, monitoring, VPC placement."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from cdk_stacks.execution_engine_stack import minute_window_crons
from tests.infrastructure.helpers import ours, state_machine_definition

STACK = "execution-engine"


def _rules(synth) -> dict[str, dict]:
    return {r["Properties"]["Name"]: r["Properties"] for r in synth.resources(STACK, "AWS::Events::Rule").values()}


def test_custom_bus(any_env):
    any_env.template(STACK).has_resource_properties("AWS::Events::EventBus", {"Name": any_env.config.event_bus_name})


def test_emitter_every_minute_of_the_session_with_lookahead_all_days(dev):
    schedules = {p["ScheduleExpression"] for n, p in _rules(dev).items() if "-emitter-" in n}
    # 09:13 IST (09:15 minus the 2-minute lookahead) .. 15:30 IST = 03:43 .. 10:00 UTC
    assert schedules == {"cron(43-59 3 ? * * *)", "cron(* 4-9 ? * * *)", "cron(0 10 ? * * *)"}


@pytest.mark.parametrize(
    "start,end,expected",
    [
        ("09:15", "15:30", [{"minute": "45-59", "hour": "3"}, {"minute": "*", "hour": "4-9"}, {"minute": "0", "hour": "10"}]),
        ("09:30", "09:40", [{"minute": "0-10", "hour": "4"}]),
        ("09:30", "10:40", [{"minute": "*", "hour": "4"}, {"minute": "0-10", "hour": "5"}]),
    ],
)
def test_minute_window_crons(start, end, expected):
    assert minute_window_crons(start, end) == expected


def test_state_machine_is_express_logged_and_traced(any_env):
    any_env.template(STACK).has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "EXPRESS",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": False}),
        },
    )


def test_state_machine_definition_contract(any_env):
    asl = state_machine_definition(any_env.templates[STACK])
    states = asl["States"]
    assert asl["StartAt"] == "AddRunId"
    assert states["AddRunId"]["Next"] == "MergeRunId" and states["MergeRunId"]["Next"] == "Prepare"
    assert states["Prepare"]["Type"] == "Task" and states["Prepare"]["Next"] == "AnythingClaimed"
    assert "ResultPath" not in states["Prepare"]  # the result replaces the state
    choice = states["AnythingClaimed"]
    assert choice["Choices"] == [{"Variable": "$.claimed_count", "NumericEquals": 0, "Next": "NothingToDo"}]
    assert states["NothingToDo"]["Type"] == "Succeed"
    # ENTRY: resolved inside Prepare (work_items present): straight to the Wait, then the Map
    # (issue 14 "resolve before the Wait"); EXIT: Prepare sets cancel_at; the resting stops are
    # cancelled at it, then the usual Wait and Resolve
    assert choice["Default"] == "Resolved"
    resolved = states["Resolved"]
    assert resolved["Choices"] == [{"Variable": "$.work_items", "IsPresent": True, "Next": "WaitUntilSend"}]
    assert resolved["Default"] == "ExitPreCancel"
    assert states["WaitUntilSend"] == {"Type": "Wait", "TimestampPath": "$.wait_until", "Next": "PlacePerAccount",
                                       "Comment": states["WaitUntilSend"]["Comment"]}
    exit_choice = states["ExitPreCancel"]
    assert exit_choice["Type"] == "Choice"
    assert exit_choice["Choices"] == [{"Variable": "$.cancel_at", "IsPresent": True, "Next": "WaitUntilCancel"}]
    assert exit_choice["Default"] == "WaitUntil"
    assert states["WaitUntilCancel"] == {"Type": "Wait", "TimestampPath": "$.cancel_at", "Next": "PreCancel",
                                         "Comment": states["WaitUntilCancel"]["Comment"]}
    pre_cancel = states["PreCancel"]
    assert pre_cancel["Type"] == "Task" and pre_cancel["Next"] == "WaitUntil"
    assert "ResultPath" not in pre_cancel  # its result (the state plus precancelled) replaces the state
    assert all(r["MaxAttempts"] <= 1 for r in pre_cancel.get("Retry", []))
    assert states["WaitUntil"] == {"Type": "Wait", "TimestampPath": "$.wait_until", "Next": "Resolve",
                                   "Comment": states["WaitUntil"]["Comment"]}
    assert states["Resolve"]["Next"] == "PlacePerAccount"
    m = states["PlacePerAccount"]
    assert m["Type"] == "Map" and m["ItemsPath"] == "$.work_items" and m["ResultPath"] == "$.placements"
    assert m["MaxConcurrency"] == any_env.config.settings.execution_engine.map_max_concurrency
    assert m["Next"] == "Finalize"
    inner = m["ItemProcessor"]["States"]
    place = inner["PlaceOrders"]
    assert place["Type"] == "Task"
    # only a throttled invoke is retried (the handler never ran); anything else is caught
    assert place["Retry"] == [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 1,
                               "MaxAttempts": 2, "BackoffRate": 1, "MaxDelaySeconds": 1}]
    assert place["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "PlacementFailed"}]
    assert inner["PlacementFailed"]["Type"] == "Pass" and inner["PlacementFailed"]["End"] is True
    assert states["Finalize"]["End"] is True


def test_tasks_return_only_the_payload(dev):
    asl = state_machine_definition(dev.templates[STACK])
    tasks = [asl["States"][n] for n in ("Prepare", "PreCancel", "Resolve", "Finalize")] + [
        asl["States"]["PlacePerAccount"]["ItemProcessor"]["States"]["PlaceOrders"]
    ]
    for task in tasks:
        # payload_response_only: the Resource is the function itself, not lambda:invoke
        assert task["Resource"] == "INTRINSIC"
        assert "Parameters" not in task and "ResultSelector" not in task


def test_execution_due_rule_starts_the_state_machine_with_detail(any_env):
    template = any_env.template(STACK)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventBusName": Match.any_value(),
            "EventPattern": {"source": ["ql.execution.emitter"], "detail-type": ["Strategy Execution Due"]},
            "Targets": [Match.object_like({"InputPath": "$.detail", "DeadLetterConfig": Match.any_value(),
                                           "RetryPolicy": Match.any_value()})],
        },
    )


def test_other_engine_rules(dev):
    patterns = {tuple(p["EventPattern"]["detail-type"]) for p in _rules(dev).values() if "EventPattern" in p}
    for detail in ("Check Stop Loss", "Check Duplicate Orders", "Refresh Market Data"):
        assert (detail,) in patterns
    assert ("Poll Orders", "Execution Completed") in patterns
    rules = _rules(dev)
    assert rules["ql-algo-trading-dev-archiver"]["ScheduleExpression"] == "cron(0 11 ? * * *)"  # 16:30 IST


def test_handlers(dev):
    handlers = {r["Properties"]["Handler"] for r in ours(dev, STACK)}
    expected = {f"lambda_functions.execution_engine.{m}.handler" for m in (
        "emitter", "prepare", "pre_cancel", "resolve", "place_orders", "finalize", "stop_loss_checker",
        "duplicate_checker", "market_data_refresher", "order_poller", "archiver")}
    assert handlers == expected


def test_archive_bucket(any_env):
    template = any_env.template(STACK)
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": Match.any_value(),
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "LoggingConfiguration": Match.object_like({"DestinationBucketName": Match.any_value()}),
            "LifecycleConfiguration": Match.any_value(),
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])}},
    )


def test_dead_letter_queue_alarm_to_the_alerts_topic(any_env):
    template = any_env.template(STACK)
    template.has_resource_properties("AWS::SQS::Queue", {"QueueName": f"ql-algo-trading-{any_env.env}-execution-engine-dlq",
                                                         "SqsManagedSseEnabled": True})
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ApproximateNumberOfMessagesVisible",
         "AlarmActions": [{"Fn::ImportValue": f"ql-algo-trading-{any_env.env}-alerts-topic-arn"}]},
    )


def test_dashboard_and_alarms_by_environment(dev, staging):
    dev.template(STACK).resource_count_is("AWS::CloudWatch::Dashboard", 1)
    dev_alarms = dev.resources(STACK, "AWS::CloudWatch::Alarm")
    assert len(dev_alarms) == 1  # only the DLQ alarm: enable_alarms is false in dev
    staging_alarms = {a["Properties"]["AlarmName"] for a in staging.resources(STACK, "AWS::CloudWatch::Alarm").values()}
    assert "ql-algo-trading-staging-executionsfailed" in staging_alarms
    assert len(staging_alarms) > 5


def test_broker_calling_lambdas_in_the_vpc_only_with_static_egress(dev, staging):
    broker = {"prepare", "pre_cancel", "resolve", "place_orders", "finalize", "stop_loss_checker", "duplicate_checker",
              "order_poller", "market_data_refresher"}
    for synth in (dev, staging):
        for fn in ours(synth, STACK):
            module = fn["Properties"]["Handler"].split(".")[-2]
            in_vpc = "VpcConfig" in fn["Properties"]
            assert in_vpc is (synth.env == "staging" and module in broker), module
    subnets = next(
        fn for fn in ours(staging, STACK) if "VpcConfig" in fn["Properties"]
    )["Properties"]["VpcConfig"]["SubnetIds"]
    assert subnets == [{"Fn::ImportValue": "ql-algo-trading-staging-private-subnet-ids-0"},
                       {"Fn::ImportValue": "ql-algo-trading-staging-private-subnet-ids-1"}]


def test_place_orders_is_never_retried_by_lambda_either(dev):
    """Rule-invoked functions have async retries off; PlaceOrders is only invoked synchronously
    by the state machine, whose task retries only a throttled invoke (see the definition test)."""
    configs = dev.resources(STACK, "AWS::Lambda::EventInvokeConfig")
    assert configs
    for config in configs.values():
        assert config["Properties"]["MaximumRetryAttempts"] in (0, 2)


def test_prepare_receives_the_detail_fields_and_the_run_id(any_env):
    """Prepare's claim depends on the run: its payload is the event detail (top level) plus
    ``run_id`` = ``$$.Execution.Id``, built by two Pass states before it."""
    states = state_machine_definition(any_env.templates[STACK])["States"]
    add, merge = states["AddRunId"], states["MergeRunId"]
    assert add["Type"] == "Pass"
    assert add["Parameters"] == {"detail.$": "$", "run": {"run_id.$": "$$.Execution.Id"}}
    assert merge["Type"] == "Pass"
    assert merge["Parameters"] == {"merged.$": "States.JsonMerge($.detail, $.run, false)"}
    assert merge["OutputPath"] == "$.merged"
    # payload_response_only: the Task's whole input (the merged object) is the Lambda payload
    assert "InputPath" not in states["Prepare"] and "Parameters" not in states["Prepare"]
    assert "arn" in json.dumps(states["Prepare"]["Resource"]).lower() or states["Prepare"]["Resource"]


def _merge(detail: dict, execution_id: str) -> dict:
    """What the two Pass states compute (ASL semantics of Parameters, JsonMerge, OutputPath)."""
    state = {"detail": detail, "run": {"run_id": execution_id}}
    return {**state["detail"], **state["run"]}  # States.JsonMerge(a, b, false): b's keys win, shallow


def test_prepare_payload_shape_is_what_the_handler_reads():
    detail = {"batch_id": "B1", "execution_type": "ENTRY", "trade_date": "2026-08-17", "slot": "09:30",
              "execute_at": "2026-08-17T04:00:00.000Z", "wait_until": "2026-08-17T03:59:58.000Z",
              "trigger": "SCHEDULE", "strategies": [{"user_id": "u", "strategy_id": "s"}]}
    payload = _merge(detail, "arn:aws:states:ap-south-1:1:express:sm:run-1")
    assert payload == {**detail, "run_id": "arn:aws:states:ap-south-1:1:express:sm:run-1"}


def test_dashboard_and_alarm_metrics_are_the_ones_the_engine_emits(staging):
    """Every custom metric name the stack reads is emitted by a ``ctx.metric("<name>", ...)``
    call in shared_utils/execution (and every emitted one is on the dashboard)."""
    import re
    from pathlib import Path

    from cdk_stacks.execution_engine_stack import ENGINE_METRICS, METRIC_LAG_MS

    root = Path(__file__).resolve().parents[2] / "shared_utils" / "execution"
    emitted = {m for f in root.glob("*.py") for m in re.findall(r"ctx\.metric\(\s*\"(\w+)\"", f.read_text())}
    assert set(ENGINE_METRICS) <= emitted, emitted
    body = json.dumps(staging.templates[STACK])
    for name in ENGINE_METRICS:
        assert name in body, name
    for stale in ("PlacementLagMs", "BrokerErrors", '\\"Orders\\"'):
        assert stale not in body, stale
    alarms = [r["Properties"] for r in staging.resources(STACK, "AWS::CloudWatch::Alarm").values()
              if r["Properties"].get("Namespace") == "QlAlgoTrading"]
    assert {a["MetricName"] for a in alarms} == {METRIC_LAG_MS}
    assert alarms[0]["Dimensions"] == [{"Name": "service", "Value": "execution-engine"}]


def test_archive_bucket_named_for_the_executions_api_and_archiver_grants(dev):
    t = dev.templates[STACK]
    (bucket,) = [r for r in t["Resources"].values() if r["Type"] == "AWS::S3::Bucket"
                 and "BucketName" in r["Properties"]]
    assert json.dumps(bucket["Properties"]["BucketName"]).startswith('{"Fn::Join": ["", ["ql-algo-trading-dev-archive-"')
    policies = json.dumps([r for r in t["Resources"].values() if r["Type"] == "AWS::IAM::Policy"
                           and "Archiver" in json.dumps(r["Properties"]["Roles"])])
    assert "dynamodb:UpdateItem" in policies and "dynamodb:Scan" in policies and "s3:PutObject" in policies


# ---- issue 14: the synthesized ASL is what runs; bounded retries; limits --------------------------


def test_checked_in_definition_is_what_every_environment_synthesizes(any_env):
    """``run_state_machine`` (local platform, tests, bench) runs
    ``cdk_stacks/execution_state_machine.asl.json``; it must be the deployed definition
    (regenerate with ``make asl``). Only MaxConcurrency may differ: the runner takes it from the
    environment's config."""
    from cdk_stacks.state_machine_asl import definition_from_template, load_definition

    synthesized = definition_from_template(any_env.templates[STACK], any_env.config.region)
    checked_in = load_definition()
    checked_in["States"]["PlacePerAccount"]["MaxConcurrency"] = \
        any_env.config.settings.execution_engine.map_max_concurrency
    assert synthesized == checked_in, "stale cdk_stacks/execution_state_machine.asl.json: run `make asl`"


def _retry_wait_seconds(retry: dict) -> float:
    """Total time a Retry rule waits over all its attempts (no jitter)."""
    interval, rate = retry.get("IntervalSeconds", 1), retry.get("BackoffRate", 2.0)
    cap = retry.get("MaxDelaySeconds")
    waits = [interval * rate ** i for i in range(retry.get("MaxAttempts", 3))]
    return sum(min(w, cap) if cap else w for w in waits)


def test_retries_are_bounded_inside_the_window(any_env):
    """CDK's default LambdaInvoke retry waits 2+4+8+16+32+64 s (~2 minutes): Resolve runs after
    the Wait, 2 s before execute_at, so a retried Resolve sent everything minutes late. Every
    retry of the machine now ends within seconds; Resolve's within one."""
    states = state_machine_definition(any_env.templates[STACK])["States"]
    place = states["PlacePerAccount"]["ItemProcessor"]["States"]["PlaceOrders"]
    budgets = {"Prepare": 3, "Resolve": 1, "Finalize": 7}
    for name, budget in budgets.items():
        for retry in states[name]["Retry"]:
            assert _retry_wait_seconds(retry) <= budget, (name, retry)
            assert "Lambda.TooManyRequestsException" in retry["ErrorEquals"], name
    assert sum(_retry_wait_seconds(r) for r in place["Retry"]) <= 2


def test_place_orders_has_reserved_concurrency(any_env):
    (fn,) = [r for r in ours(any_env, STACK)
             if r["Properties"]["Handler"] == "lambda_functions.execution_engine.place_orders.handler"]
    reserved = fn["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == any_env.config.settings.execution_engine.max_concurrent_executions
    assert reserved >= any_env.config.settings.execution_engine.map_max_concurrency
