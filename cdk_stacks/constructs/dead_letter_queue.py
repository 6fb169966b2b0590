"""The dead-letter queue of a stack's EventBridge targets, with its alarm."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_stacks.nag import acknowledge
from shared_utils.config import EnvironmentConfig


class DeadLetterQueue(Construct):
    """An SSE-SQS encrypted, SSL-only queue that receives the events EventBridge could not
    deliver to a target (after the target's retries), and an alarm to ``alerts_topic`` as soon
    as one message is visible: a lost "Strategy Execution Due" or "Check Stop Loss" event is an
    incident during market hours."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        name: str,
        alerts_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=config.resource_name(name),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=RemovalPolicy.RETAIN if config.retain else RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.queue,
            "AwsSolutions-SQS3",
            "This queue IS the dead-letter queue of the EventBridge rule targets (target-level "
            "DeadLetterConfig, which cdk-nag does not recognise as a redrive); a DLQ of a DLQ "
            "would only hide failures, the alarm below pages instead.",
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "NotEmpty",
            alarm_name=config.resource_name(f"{name}-not-empty"),
            alarm_description="Events EventBridge failed to deliver: inspect and replay them.",
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(cw_actions.SnsAction(alerts_topic))
