"""moto (DynamoDB, KMS, SNS, SQS) + the local Telegram stand-in for the notification tests."""

from __future__ import annotations

import boto3
import pytest

REGION = "ap-south-1"
TRADER = "3f1c2d7e-trader-a"
OTHER = "9a8b7c6d-trader-b"


@pytest.fixture
def telegram():
    from local.fakes.telegram import FakeTelegram

    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def world(repos, env_config, telegram, monkeypatch):
    """Tables (repos fixture), the notifications topic, the Telegram stand-in as the Bot API."""
    from shared_utils.clock import IST, FixedClock
    from datetime import datetime

    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="ql-algo-trading-local-notifications")["TopicArn"]
    monkeypatch.setenv("NOTIFICATIONS_TOPIC_ARN", topic)
    monkeypatch.setenv("TELEGRAM_API_URL", telegram.url)
    monkeypatch.setenv("AWS_REGION", REGION)
    clock = FixedClock(datetime(2026, 8, 17, 9, 30, 2, tzinfo=IST))
    from shared_utils.notifications.service import NotificationService
    from shared_utils.notifications.store import NotificationStore

    service = NotificationService(NotificationStore(env_config, clock), clock)
    return {"service": service, "topic": topic, "sns": sns, "telegram": telegram, "clock": clock, "env": env_config}


def email_inbox(topic_arn: str, address: str) -> list[dict]:
    """What SNS would email ``address``: the topic's published messages that the address's
    subscription filter policy lets through (moto's own matcher), as (subject, body)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    backend = sns_backends[DEFAULT_ACCOUNT_ID][REGION]
    topic = backend.topics[topic_arn]
    subs = [s for s in backend.subscriptions.values() if s.topic.arn == topic_arn and s.protocol == "email"
            and s.endpoint == address]
    out = []
    for _mid, message, subject, attributes, _group in topic.sent_notifications:
        for sub in subs:
            if sub._filter_policy_matcher is None or sub._filter_policy_matcher.matches(attributes, message):
                out.append({"subject": subject, "body": message})
                break
    return out
