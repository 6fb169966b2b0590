"""Trader notifications (issue 18): queue, DLQ, email topic, the notifier, the alerts rule.

Built in the execution-engine stack (it owns the bus the engine's "Order Alert" events are on):

- ``notifications`` SQS queue (SSE-SQS, SSL only, named ``ql-algo-trading-{env}-notifications``
  so the auth-broker and options-platform stacks, deployed before this one, can send to it by
  name without an import: :func:`grant_enqueue`); redrive to the ``notifications-dlq`` after
  ``MAX_RECEIVES`` receives (the DLQ alarms the operators' alerts topic);
- an EventBridge rule on the bus: every "Order Alert" -> the queue (target DLQ: the same DLQ);
- ``notifications`` SNS topic (SSE with the AWS-managed SNS key): each trader's email is an
  ``email`` subscription filtered on the message attribute ``user_id``;
- the notifier Lambda (``lambda_functions.execution_engine.notifier``), outside the VPC (it
  calls api.telegram.org, never a broker), fed by the queue with partial batch responses.

Least privilege (tests/infrastructure/test_grants.py runs the notifier as deployed):
the notifier may Get/Put/UpdateItem on the trading table (preferences, delivery marks),
kms:Decrypt ONLY with the encryption context key ``notification_secret`` (a bot token; never a
broker credential, which is sealed with the context key ``broker_secret``), sns:Publish on the
topic, and consume its queue. The preferences API (:func:`grant_preferences_api`) may also
GenerateDataKey under that context, and manage the topic's subscriptions.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_stacks.constructs.dead_letter_queue import DeadLetterQueue
from cdk_stacks.constructs.python_function import LambdaPackage, PythonFunction
from cdk_stacks.nag import acknowledge, finding_value
from shared_utils.config import EnvironmentConfig

#: receives before a message goes to the DLQ (visibility timeout 6 x the function's timeout:
#: about 15 minutes of retries, e.g. Telegram flood control asks for seconds)
MAX_RECEIVES = 5
NOTIFIER_TIMEOUT_S = 30
ORDER_ALERT = "Order Alert"


def queue_name(config: EnvironmentConfig) -> str:
    return config.resource_name("notifications")


def topic_name(config: EnvironmentConfig) -> str:
    return config.resource_name("notifications")


def queue_arn(stack: Stack, config: EnvironmentConfig) -> str:
    return stack.format_arn(service="sqs", resource=queue_name(config))


def queue_url(stack: Stack, config: EnvironmentConfig) -> str:
    return f"https://sqs.{stack.region}.{stack.url_suffix}/{stack.account}/{queue_name(config)}"


def topic_arn(stack: Stack, config: EnvironmentConfig) -> str:
    return stack.format_arn(service="sns", resource=topic_name(config))


def _context_condition(config: EnvironmentConfig) -> dict:
    return {"StringLike": {"kms:EncryptionContext:notification_secret": f"{config.prefix}/notify/*"}}


def grant_enqueue(fn: PythonFunction, stack: Stack, config: EnvironmentConfig) -> None:
    """``fn`` may enqueue notifications (shared_utils.notifications.publish): the queue's URL in
    ``NOTIFICATIONS_QUEUE_URL`` and sqs:SendMessage on it (by name: no cross-stack import)."""
    fn.function.add_environment("NOTIFICATIONS_QUEUE_URL", queue_url(stack, config))
    fn.role.add_to_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue_arn(stack, config)]))


def grant_preferences_api(fn: PythonFunction, stack: Stack, config: EnvironmentConfig, table: dynamodb.ITable,
                          secrets_key: kms.IKey) -> None:
    """The preferences routes: their items in the trading table, seal/open the bot token,
    the email subscriptions, the test send."""
    arn = topic_arn(stack, config)
    fn.function.add_environment("NOTIFICATIONS_TOPIC_ARN", arn)
    fn.function.add_environment("BROKER_SECRETS_KMS_KEY_ARN", secrets_key.key_arn)
    fn.role.add_to_policy(iam.PolicyStatement(
        actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
        resources=[table.table_arn]))
    fn.role.add_to_policy(iam.PolicyStatement(actions=["kms:GenerateDataKey", "kms:Decrypt"],
                                              resources=[secrets_key.key_arn], conditions=_context_condition(config)))
    fn.role.add_to_policy(iam.PolicyStatement(
        actions=["sns:Subscribe", "sns:Publish"], resources=[arn]))
    fn.role.add_to_policy(iam.PolicyStatement(
        actions=["sns:GetSubscriptionAttributes", "sns:Unsubscribe"], resources=[arn, f"{arn}:*"]))
    acknowledge(fn, f"AwsSolutions-IAM5[Resource::{finding_value(stack, arn)}:*]",
                "A trader's email subscription ARNs are the notifications topic's ARN plus a generated id; "
                "reading and removing them is limited to that one topic's subscriptions.")


class Notifications(Construct):
    """Queue + DLQ, email topic, notifier function, alerts rule (module doc)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, package: LambdaPackage,
                 bus: events.IEventBus, table: dynamodb.ITable, secrets_key: kms.IKey,
                 alerts_topic: sns.ITopic) -> None:
        super().__init__(scope, construct_id)
        self.dead_letter_queue = DeadLetterQueue(self, "Dlq", config=config, name="notifications-dlq",
                                                 alerts_topic=alerts_topic)
        self.queue = sqs.Queue(
            self, "Queue", queue_name=queue_name(config), encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True, retention_period=Duration.days(1),
            visibility_timeout=Duration.seconds(6 * NOTIFIER_TIMEOUT_S),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVES, queue=self.dead_letter_queue.queue))
        self.topic = sns.Topic(
            self, "Topic", topic_name=topic_name(config), display_name=f"{config.prefix} notifications",
            master_key=kms.Alias.from_alias_name(self, "SnsManagedKey", "alias/aws/sns"), enforce_ssl=True)
        self.function = PythonFunction(
            self, "NotifierFunction", package=package, name="notifier",
            handler="lambda_functions.execution_engine.notifier.handler", service="execution-engine",
            description="Notifications queue -> the traders' chosen channels (SNS email, Telegram)",
            environment={"TABLE_NAME": config.table_name, "NOTIFICATIONS_TOPIC_ARN": self.topic.topic_arn,
                         "BROKER_SECRETS_KMS_KEY_ARN": secrets_key.key_arn},
            timeout=Duration.seconds(NOTIFIER_TIMEOUT_S), memory_size=256)
        self.function.function.add_event_source(event_sources.SqsEventSource(
            self.queue, batch_size=10, max_batching_window=Duration.seconds(1), report_batch_item_failures=True))
        role = self.function.role
        role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                                               resources=[table.table_arn]))
        role.add_to_policy(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[secrets_key.key_arn],
                                               conditions=_context_condition(config)))
        self.topic.grant_publish(self.function.function)
        self.rule = events.Rule(
            self, "AlertsRule", rule_name=config.resource_name("notifications"), event_bus=bus,
            description="Order Alert -> the notifications queue (the traders' chosen channels)",
            event_pattern=events.EventPattern(detail_type=[ORDER_ALERT]),
            targets=[targets.SqsQueue(self.queue, dead_letter_queue=self.dead_letter_queue.queue, retry_attempts=3,
                                      max_event_age=Duration.hours(2))])
