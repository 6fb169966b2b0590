"""Grants as tests for notifications (issue 18), with the machinery of test_grants.py: the
notifier (execution-engine stack) and the preferences / kill switch routes (options-platform
stack) run AS DEPLOYED (their synthesized environment, moto behind boto3, the local Telegram
stand-in as api.telegram.org); every AWS request must be allowed by that function's role, and
KMS is used only under the ``notification_secret`` encryption context the role's condition
names (the notifier can never open a broker credential)."""

from __future__ import annotations

import fnmatch
import importlib
import json

import boto3
import pytest

from tests.infrastructure.test_as_deployed import function_by_handler, statements_of
from tests.infrastructure.test_grants import (
    REGION,
    Recorder,
    _Context,
    _fresh_container,
    _render_options,
    deployed_world,  # noqa: F401 - fixture
    is_allowed,
    requests_of,
)

NOTIFIER = "lambda_functions.execution_engine.notifier.handler"
ROUTES = "lambda_functions.options_platform.notifications.handler"
EXECUTIONS = "lambda_functions.options_platform.executions.handler"


def _requests(service: str, operation: str, params: dict) -> list[tuple[str, str]]:
    if service == "kms":
        return [(f"kms:{operation}", "kms:broker-secrets")]
    if service == "sqs" and operation.endswith("Batch"):  # IAM authorizes a batch as its single action
        return requests_of(service, operation.removesuffix("Batch"), params)
    if service == "sns" and "SubscriptionArn" in params:  # a subscription: <topic arn>:<id>
        return [(f"sns:{operation}", f"topic:{params['SubscriptionArn']}")]
    return requests_of(service, operation, params)


def _normalise(text: str) -> str:
    if text.startswith("arn:aws:sqs:"):
        return "queue:" + text.rsplit(":", 1)[1]
    if text.startswith("arn:aws:sns:"):
        return "topic:" + text
    return text


def _kms_conditions(statements: list[dict]) -> list[dict]:
    return [st.get("Condition") for st in statements
            if any(a.startswith("kms:") for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]]))]


def _context_allowed(conditions: list[dict], calls) -> None:
    """Each KMS call's encryption context satisfies the role's StringLike condition."""
    patterns = [c["StringLike"]["kms:EncryptionContext:notification_secret"] for c in conditions]
    assert patterns and all(patterns), conditions
    for service, _op, params in calls:
        if service == "kms":
            context = params.get("EncryptionContext") or {}
            assert set(context) == {"notification_secret"}, context
            assert any(fnmatch.fnmatchcase(context["notification_secret"], p) for p in patterns), (context, patterns)


@pytest.fixture
def notification_world(dev, deployed_world, monkeypatch):  # noqa: F811
    from local.fakes.telegram import FakeTelegram

    names, clock = deployed_world
    config = dev.config
    kms = boto3.client("kms", region_name=REGION)
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=f"alias/{config.prefix}/broker-secrets", TargetKeyId=key_arn)
    topic = boto3.client("sns", region_name=REGION).create_topic(Name=config.resource_name("notifications"))["TopicArn"]
    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName=config.resource_name("notifications"))["QueueUrl"]
    for logical_id, resource in dev.templates["execution-engine"]["Resources"].items():
        if resource["Type"] == "AWS::SNS::Topic" and resource["Properties"].get("TopicName") == config.resource_name("notifications"):
            names.logical[logical_id] = f"topic:{topic}"
    with FakeTelegram() as telegram:
        monkeypatch.setenv("TELEGRAM_API_URL", telegram.url)
        yield {"names": names, "clock": clock, "key_arn": key_arn, "topic": topic, "queue": queue,
               "telegram": telegram, "config": config}


def _environment(synth, stack: str, handler: str, world) -> dict[str, str]:
    _, fn = function_by_handler(synth, stack, handler)
    out = {}
    for key, value in fn["Properties"].get("Environment", {}).get("Variables", {}).items():
        if isinstance(value, str):
            out[key] = value
        elif key == "NOTIFICATIONS_TOPIC_ARN":
            out[key] = world["topic"]
        elif key == "BROKER_SECRETS_KMS_KEY_ARN":
            out[key] = world["key_arn"]
        elif key == "NOTIFICATIONS_QUEUE_URL":
            out[key] = world["queue"]
        elif key == "TABLE_NAME":
            out[key] = world["config"].table_name
        elif key == "ARCHIVE_BUCKET_NAME":
            out[key] = "ql-archive-under-test"
        elif key == "USER_POOL_ID":
            out[key] = "ap-south-1_local"
        else:
            out[key] = str(value)
    return out


def _api_event(method: str, path: str, body=None, sub: str = "user-a") -> dict:
    from local.apigw import build_event

    return build_event(method, path, body, claims={"sub": sub, "cognito:username": "trader-a"})


def _rendered(synth, stack: str, handler: str, names=None) -> list[tuple[list[str], list[str]]]:
    out = []
    for st in statements_of(synth, stack, handler):
        if st.get("Effect") != "Allow":
            continue
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        render = (lambda r: names.render(r)) if names is not None else (lambda r: _render_options(synth, r))
        out.append((acts, [_normalise(render(r)) for r in res]))
    return out


def test_preferences_routes_and_kill_switch_requests_are_granted(dev, notification_world, monkeypatch):
    world = notification_world
    telegram = world["telegram"]
    token = telegram.add_bot()
    telegram.start_chat(token, 777)
    calls_by_handler: dict[str, list] = {}
    answers = []
    for handler, module, requests_ in (
        (ROUTES, "lambda_functions.options_platform.notifications", [
            ("PUT", "/options/notifications/preferences", {"channels": ["EMAIL", "TELEGRAM"], "email": "a@example.com",
                                                           "telegram_chat_id": "777", "telegram_bot_token": token}),
            ("GET", "/options/notifications/preferences", None),
            ("POST", "/options/notifications/test", {}),
        ]),
        (EXECUTIONS, "lambda_functions.options_platform.executions", [
            ("PUT", "/options/kill-switch", {"on": True, "reason": "grants"}),
        ]),
    ):
        with monkeypatch.context() as env:
            for key, value in _environment(dev, "options-platform", handler, world).items():
                env.setenv(key, value)
            _fresh_container()
            from shared_utils.notifications import publish
            from shared_utils.persistence.table import reset_clients

            reset_clients()
            publish.reset_client()
            routes = importlib.import_module(module)
            if not callable(getattr(routes, "_service", None)):
                # a cached service instance (the notifications routes): a fresh one for this
                # container, restored afterwards (the executions module's _service is a function)
                env.setattr(routes, "_service", None)
            recorder = Recorder()
            with recorder.installed():
                for method, path, body in requests_:
                    answer = routes.handler(_api_event(method, path, body), _Context(module))
                    answers.append((path, answer["statusCode"], json.loads(answer["body"])))
            calls_by_handler[handler] = recorder.calls
    assert all(status == 200 for _, status, _ in answers), answers
    tested = [body for path, _, body in answers if path.endswith("/test")][0]
    assert {r["channel"]: r["delivered"] for r in tested["results"]} == {"EMAIL": True, "TELEGRAM": True}
    missing = {}
    for handler, calls in calls_by_handler.items():
        allowed = _rendered(dev, "options-platform", handler)
        gaps = sorted({r for c in calls for r in _requests(*c) if not is_allowed(allowed, *r)})
        if gaps:
            missing[handler] = gaps
    assert not missing, json.dumps(missing, indent=1)
    assert ("sqs:SendMessage", f"queue:{world['config'].resource_name('notifications')}") in {
        r for c in calls_by_handler[EXECUTIONS] for r in _requests(*c)}
    _context_allowed(_kms_conditions(statements_of(dev, "options-platform", ROUTES)), calls_by_handler[ROUTES])


def test_notifier_requests_are_granted_and_open_only_notification_secrets(dev, notification_world, monkeypatch):
    from shared_utils.accounts.secrets import AccountSecret, BrokerSecretStore
    from shared_utils.brokers.base import BrokerCredentials
    from shared_utils.notifications.models import PreferencesUpdate
    from shared_utils.notifications.service import NotificationService
    from shared_utils.notifications.store import NotificationStore

    world = notification_world
    config = world["config"]
    telegram = world["telegram"]
    token = telegram.add_bot()
    telegram.start_chat(token, 777)
    monkeypatch.setenv("NOTIFICATIONS_TOPIC_ARN", world["topic"])
    NotificationService(NotificationStore(config, world["clock"]), world["clock"]).update("user-a", PreferencesUpdate(
        channels=["EMAIL", "TELEGRAM"], email="a@example.com", telegram_chat_id="777", telegram_bot_token=token))
    store = BrokerSecretStore(config)
    store.create(store.name_for("user-a", "ZERODHA123"),
                 AccountSecret(broker="zerodha", credentials=BrokerCredentials(api_key="k", api_secret="s")))
    alert = {"version": "0", "id": "evt-1", "detail-type": "Order Alert", "source": "ql.execution.engine",
             "time": "2026-08-17T04:00:03Z", "detail": {
                 "kind": "STOP_LOSS_HIT", "user_id": "user-a", "strategy_id": "stg1", "execution_id": "e1",
                 "client_id": "ZERODHA123", "order_key": "o1", "leg_no": 1, "tradingsymbol": "NIFTY2682024900CE",
                 "average_price": "182.35", "quantity": 75,
                 "message": "leg 1 NIFTY2682024900CE closed by its stop_loss at 182.35"}}
    event = {"Records": [{"messageId": "m1", "receiptHandle": "r1", "body": json.dumps(alert), "attributes": {},
                          "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                          "eventSourceARN": "arn:q", "awsRegion": REGION}]}
    with monkeypatch.context() as env:
        for key, value in _environment(dev, "execution-engine", NOTIFIER, world).items():
            env.setenv(key, value)
        _fresh_container()
        from shared_utils.persistence.table import reset_clients

        reset_clients()
        notifier = importlib.import_module("lambda_functions.execution_engine.notifier")
        notifier.set_service(None)
        recorder = Recorder()
        with recorder.installed():
            answer = notifier.handler(event, _Context("notifier"))
        notifier.set_service(None)
    assert answer == {"batchItemFailures": []}
    (message,) = telegram.messages(777)
    assert message.text.startswith("Stop loss hit: NIFTY2682024900CE")
    assert "What the platform did: recorded the closing fill (75 units at 182.35)" in message.text
    allowed = _rendered(dev, "execution-engine", NOTIFIER, world["names"])
    requests = sorted({r for c in recorder.calls for r in _requests(*c)})
    gaps = [r for r in requests if not is_allowed(allowed, *r)]
    assert not gaps, gaps
    assert ("sns:Publish", f"topic:{world['topic']}") in requests
    conditions = _kms_conditions(statements_of(dev, "execution-engine", NOTIFIER))
    _context_allowed(conditions, recorder.calls)
    # a broker credential's context (broker_secret) does not satisfy the notifier's condition
    pattern = conditions[0]["StringLike"]["kms:EncryptionContext:notification_secret"]
    assert not fnmatch.fnmatchcase(store.name_for("user-a", "ZERODHA123"), pattern)
    assert "kms:GenerateDataKey" not in {a for acts, _ in allowed for a in acts}


def test_notifications_resources_as_synthesized(dev):
    """The queue retries then dead-letters, the rule sends every Order Alert to it, the notifier
    answers partial batches, the topic and queues are encrypted and SSL-only (cdk-nag checks the
    rest)."""
    config = dev.config
    resources = dev.templates["execution-engine"]["Resources"]
    queues = {r["Properties"].get("QueueName"): (k, r) for k, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    _, queue = queues[config.resource_name("notifications")]
    dlq_id, dlq = queues[config.resource_name("notifications-dlq")]
    assert queue["Properties"]["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
                                                    "maxReceiveCount": 5}
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    (rule,) = [r for r in resources.values() if r["Type"] == "AWS::Events::Rule"
               and r["Properties"].get("Name") == config.resource_name("notifications")]
    assert rule["Properties"]["EventPattern"] == {"detail-type": ["Order Alert"]}
    (target,) = rule["Properties"]["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    (mapping,) = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"
                  and "Queue" in json.dumps(r["Properties"]["EventSourceArn"]) and "Notifications" in
                  json.dumps(r["Properties"]["EventSourceArn"])]
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    (topic,) = [r for r in resources.values() if r["Type"] == "AWS::SNS::Topic"
                and r["Properties"].get("TopicName") == config.resource_name("notifications")]
    assert "KmsMasterKeyId" in topic["Properties"]
    # the notifier is not in the VPC (it calls Telegram, never a broker)
    _, fn = function_by_handler(dev, "execution-engine", NOTIFIER)
    assert "VpcConfig" not in fn["Properties"]
