"""The notifications stack on the local platform (issue 18), as the execution-engine stack
builds it (cdk_stacks/constructs/notifications.py), on the moto server:

- the ``notifications`` queue with its DLQ (redrive after 5 receives) and the ``notifications``
  SNS topic (email subscriptions filtered on ``user_id``);
- the bus rule "Order Alert -> queue", played from the in-memory bus (:meth:`on_bus_event`,
  called where the scheduler drains the bus);
- the SQS event source: a thread receives up to 10 messages, invokes the notifier's handler
  with the SQS event and deletes what it did not report in ``batchItemFailures`` (the failed
  ones come back after the visibility timeout, as Lambda's event source does);
- the Telegram Bot API stand-in (:class:`local.fakes.telegram.FakeTelegram`) with one demo bot
  whose chat 100001 has pressed Start (its token is narrated: give it in PUT
  /options/notifications/preferences).

:meth:`email_inbox` answers what SNS would email an address (moto records every publish; the
address's subscription filter policy is applied with moto's own matcher).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from typing import Any, Callable

DEMO_CHAT_ID = 100001
VISIBILITY_S = 2


class LocalNotifications:
    def __init__(self, aws: Any, env: Any, clock: Any | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        self.aws, self.env, self.clock, self.say = aws, env, clock, say
        self.telegram = None
        self.demo_token: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.outcomes: list[dict[str, Any]] = []

    def start(self, poll: bool = True) -> "LocalNotifications":
        from local.fakes.telegram import FakeTelegram
        from shared_utils.notifications import publish

        sns, sqs = self.aws.client("sns"), self.aws.client("sqs")
        name = self.env.resource_name("notifications")
        self.topic_arn = sns.create_topic(Name=name)["TopicArn"]
        dlq_url = sqs.create_queue(QueueName=self.env.resource_name("notifications-dlq"))["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.queue_url = sqs.create_queue(QueueName=name, Attributes={
            "VisibilityTimeout": str(VISIBILITY_S),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})["QueueUrl"]
        self.dlq_url = dlq_url
        self.telegram = FakeTelegram(clock=self.clock).start()
        self.demo_token = self.telegram.add_bot("ql_local_alerts_bot")
        self.telegram.start_chat(self.demo_token, DEMO_CHAT_ID)
        os.environ.update({"NOTIFICATIONS_TOPIC_ARN": self.topic_arn, "NOTIFICATIONS_QUEUE_URL": self.queue_url,
                           "TELEGRAM_API_URL": self.telegram.url})
        publish.reset_client()
        self._reset_handlers()
        if poll:
            self._thread = threading.Thread(target=self._poll, name="notifier", daemon=True)
            self._thread.start()
        return self

    @staticmethod
    def _reset_handlers() -> None:
        from lambda_functions.execution_engine import notifier
        from lambda_functions.options_platform import notifications as routes

        notifier.set_service(None)
        routes._service = None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.telegram is not None:
            self.telegram.stop()
        for var in ("NOTIFICATIONS_TOPIC_ARN", "NOTIFICATIONS_QUEUE_URL", "TELEGRAM_API_URL"):
            os.environ.pop(var, None)
        from shared_utils.notifications import publish

        publish.reset_client()  # its client points at this moto server
        self._reset_handlers()

    # ---- the bus rule -------------------------------------------------------------------------------
    def on_bus_event(self, detail_type: str, detail: dict[str, Any], source: str = "ql.execution.engine") -> None:
        """EventBridge's rule: an "Order Alert" goes to the queue as the event envelope."""
        if detail_type != "Order Alert":
            return
        from shared_utils.clock import default_clock, utc_iso_ms

        now = (self.clock or default_clock()).now()
        envelope = {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": source,
                    "account": "000000000000", "time": utc_iso_ms(now), "region": "ap-south-1",
                    "resources": [], "detail": detail}
        try:
            self.aws.client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(envelope, default=str))
        except Exception:  # noqa: BLE001 - as the rule: never in the engine's way
            pass

    # ---- the event source ---------------------------------------------------------------------------
    def drain_once(self, wait_s: int = 0) -> int:
        """Receive one batch, run the notifier, delete the successes; returns messages handled."""
        from lambda_functions.execution_engine import notifier
        from local.apigw import FakeLambdaContext

        sqs = self.aws.client("sqs")
        before = len(self.telegram.messages()) if self.telegram is not None else 0
        messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s,
                                       AttributeNames=["All"]).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                              "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                              "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:ap-south-1:000000000000:local",
                              "awsRegion": "ap-south-1"} for m in messages]}
        try:
            answer = notifier.handler(event, FakeLambdaContext())
            failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
        except Exception:  # noqa: BLE001 - a whole-batch failure: every message comes back
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        self.outcomes.append({"received": len(messages), "failed": sorted(failed)})
        if self.say is not None and self.telegram is not None:
            for sent in self.telegram.messages()[before:]:
                self.say(f"notification -> Telegram chat {sent.chat_id}: {sent.text.splitlines()[0]}")
        return len(messages)

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.drain_once(wait_s=1):
                    self._stop.wait(0.2)
            except Exception:  # noqa: BLE001 - keep polling (moto restarting, etc.)
                self._stop.wait(1)

    # ---- what the trader receives ---------------------------------------------------------------------
    def email_inbox(self, address: str) -> list[dict[str, Any]]:
        """What SNS would email ``address`` (subject, body), oldest first."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sns.models import sns_backends

        backend = sns_backends[DEFAULT_ACCOUNT_ID]["ap-south-1"]
        topic = backend.topics[self.topic_arn]
        subs = [s for s in backend.subscriptions.values()
                if s.topic.arn == self.topic_arn and s.protocol == "email" and s.endpoint == address]
        out = []
        for _mid, message, subject, attributes, _group in list(topic.sent_notifications):
            if any(s._filter_policy_matcher is None or s._filter_policy_matcher.matches(attributes, message) for s in subs):
                out.append({"subject": subject, "body": message})
        return out

    def telegram_messages(self, chat_id: int | str = DEMO_CHAT_ID) -> list[str]:
        return [m.text for m in self.telegram.messages(chat_id)]
