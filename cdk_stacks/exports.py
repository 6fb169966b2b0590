"""Names of the CloudFormation exports the stacks share (seed 003, "Cross-Stack Integration").

Exports are named explicitly (``ql-algo-trading-{env}-<key>``) instead of CDK's generated
names, so a refactor inside one stack never renames an export another stack imports, and an
operator can read them with ``aws cloudformation list-exports``. The importing stack uses
:func:`import_value` and ``app.py`` declares the stack dependency (deploy order auth-broker ->
options-platform -> execution-engine).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Fn
from constructs import Construct

from shared_utils.config import EnvironmentConfig

# auth-broker
USER_POOL_ID = "user-pool-id"
USER_POOL_ARN = "user-pool-arn"
USER_POOL_CLIENT_ID = "user-pool-client-id"
BROKER_ACCOUNTS_TABLE_NAME = "broker-accounts-table-name"
BROKER_ACCOUNTS_TABLE_ARN = "broker-accounts-table-arn"
ALERTS_TOPIC_ARN = "alerts-topic-arn"
BROKER_SECRETS_KEY_ARN = "broker-secrets-key-arn"
BROKER_ACCOUNTS_FUNCTION_ARN = "broker-accounts-function-arn"
BROKER_SESSIONS_FUNCTION_ARN = "broker-sessions-function-arn"
PROFILE_FUNCTION_ARN = "profile-function-arn"
VPC_ID = "vpc-id"
PRIVATE_SUBNET_IDS = "private-subnet-ids"  # one export per subnet: -<n> suffix
EGRESS_IP = "egress-ip"
# options-platform
TABLE_NAME = "trading-table-name"
TABLE_ARN = "trading-table-arn"
TABLE_STREAM_ARN = "trading-table-stream-arn"
REST_API_ID = "rest-api-id"
REST_API_URL = "rest-api-url"
POSTBACK_QUEUE_ARN = "postback-queue-arn"
LIVE_URL = "live-url"  # the WebSocket API of live updates (wss://.../{env}), for the web app's config.json


def archive_bucket_name(config: EnvironmentConfig, account: str) -> str:
    """The execution-engine archive bucket's name, ``ql-algo-trading-{env}-archive-{account}``.

    Named (not generated) so the options-platform stack, deployed before the engine stack, can
    give the executions API read access to the archive without an import (no cycle)."""
    return f"{config.prefix}-archive-{account}"


def export_name(config: EnvironmentConfig, key: str) -> str:
    """``ql-algo-trading-{env}-{key}``."""
    return config.resource_name(key)


def export(scope: Construct, config: EnvironmentConfig, key: str, value: str, description: str) -> CfnOutput:
    """A stack output exported as ``ql-algo-trading-{env}-{key}``."""
    output_id = "".join(part.capitalize() for part in key.split("-"))
    return CfnOutput(scope, output_id, value=value, export_name=export_name(config, key), description=description)


def import_value(config: EnvironmentConfig, key: str) -> str:
    """``Fn::ImportValue`` of an export made with :func:`export`."""
    return Fn.import_value(export_name(config, key))
