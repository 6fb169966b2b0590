"""Live updates (issue 19): the traders' WebSocket API, fed by the trading table's stream.

- **API**: API Gateway WebSocket API ``ql-algo-trading-{env}-live``, stage ``{env}``. ``$connect``
  is authorized by a Lambda REQUEST authorizer that verifies the Cognito ID token given as the
  ``token`` query parameter (browsers cannot set headers on a WebSocket; the URL travels only
  inside TLS and the access log format below records no query string) and names the user;
  ``$disconnect`` and ``$default`` ride the authorized connection (API Gateway allows an
  authorizer on ``$connect`` only). The connections function records each connection under
  that user in the trading table (shared_utils.live.connections).
- **Feed**: a stream consumer on the table (``NEW_AND_OLD_IMAGES``), filtered by the event
  source mapping to order, execution, position and user kill-switch items
  (shared_utils.live.messages.SORT_KEY_PREFIXES), turns each write into a message and
  posts it with the Management API (``PostToConnection``) to the connections of the item's own
  user only; ``GoneException`` removes a connection, and a connection whose ID token has expired
  is closed (``DeleteConnection``) instead of sent to. Chosen over a publish call inside the engine
  functions: the stream sees every writer (PlaceOrders, Finalize, order poller, postbacks, order
  actions) with no call sites to keep, and the engine's send path makes no network call to API
  Gateway (and needs no ``execute-api:ManageConnections``). Cost: the stream's own latency
  (typically well under a second) between a write and the message.
- A message older than ``MAX_RECORD_AGE`` is dropped instead of retried: a live feed that is
  minutes late is noise, and the app's polling fallback shows the truth anyway.

Sources: API Gateway developer guide, "WebSocket APIs" (route keys, ``$connect`` authorizers,
``@connections`` management API, 2-hour connection limit, 10-minute idle timeout); Lambda
developer guide, "Event filtering with DynamoDB event sources".
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_stacks.constructs.python_function import LambdaPackage, PythonFunction
from cdk_stacks.nag import acknowledge, finding_value
from shared_utils.config import EnvironmentConfig
from shared_utils.live.messages import SORT_KEY_PREFIXES
from shared_utils.persistence.table_schema import SORT_KEY

#: stage throttle: new connections and client messages per second (a trader opens one or two
#: tabs; the app pings every few minutes), far above real use, low enough to blunt a flood
THROTTLE_RATE = 50
THROTTLE_BURST = 100
#: the stream consumer's batch and age limits (see module doc)
BATCH_SIZE = 100
MAX_RECORD_AGE = Duration.seconds(60)
#: the identity source of the $connect authorizer
TOKEN_SOURCE = "route.request.querystring.token"


class LiveUpdates(Construct):
    """The WebSocket API, its three functions and the stream consumer (see module doc).

    Args:
        package: the stack's Lambda code and layers.
        table: the trading table (with its stream).
        user_pool_id: the Cognito pool whose ID tokens open a connection.
        user_pool_client_id: the app client those tokens are issued to (the ``aud`` claim).

    Attributes:
        api, stage: the WebSocket API and its stage; ``stage.url`` is the ``wss://`` URL the web
            app connects to (exported as ``live-url``).
        authorizer_fn, connections_fn, stream_fn: the functions.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, package: LambdaPackage,
                 table: dynamodb.ITable, user_pool_id: str, user_pool_client_id: str) -> None:
        super().__init__(scope, construct_id)
        self.authorizer_fn = PythonFunction(
            self, "AuthorizerFunction", package=package, name="live-authorizer",
            handler="lambda_functions/live/authorizer.handler", service="live-updates",
            description="WebSocket $connect: verifies the Cognito ID token, names the user",
            environment={"USER_POOL_ID": user_pool_id, "USER_POOL_CLIENT_ID": user_pool_client_id},
            timeout=Duration.seconds(10), memory_size=256,
        )
        self.connections_fn = PythonFunction(
            self, "ConnectionsFunction", package=package, name="live-connections",
            handler="lambda_functions/live/connections.handler", service="live-updates",
            description="WebSocket $connect/$disconnect/$default: records each user's connections",
            environment={"TABLE_NAME": table.table_name}, timeout=Duration.seconds(10), memory_size=256,
        )
        # only the connection items of the table: put on $connect, delete on $disconnect
        self.connections_fn.role.add_to_policy(iam.PolicyStatement(
            actions=["dynamodb:PutItem", "dynamodb:DeleteItem"], resources=[table.table_arn]))

        self.api = apigwv2.WebSocketApi(
            self, "Api", api_name=config.resource_name("live"),
            description="Live updates: each trader's orders, executions and positions as they are written",
            connect_route_options=apigwv2.WebSocketRouteOptions(
                integration=integrations.WebSocketLambdaIntegration("ConnectIntegration", self.connections_fn.function),
                authorizer=authorizers.WebSocketLambdaAuthorizer(
                    "Authorizer", self.authorizer_fn.function, authorizer_name=config.resource_name("live-token"),
                    identity_source=[TOKEN_SOURCE]),
            ),
            disconnect_route_options=apigwv2.WebSocketRouteOptions(
                integration=integrations.WebSocketLambdaIntegration("DisconnectIntegration", self.connections_fn.function)),
            default_route_options=apigwv2.WebSocketRouteOptions(
                integration=integrations.WebSocketLambdaIntegration("DefaultIntegration", self.connections_fn.function)),
        )
        access_logs = logs.LogGroup(
            self, "AccessLogs",
            retention=logs.RetentionDays.THREE_MONTHS if config.retain else logs.RetentionDays.ONE_WEEK,
            removal_policy=RemovalPolicy.RETAIN if config.retain else RemovalPolicy.DESTROY,
        )
        self.stage = apigwv2.WebSocketStage(
            self, "Stage", web_socket_api=self.api, stage_name=config.name, auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=THROTTLE_RATE, burst_limit=THROTTLE_BURST),
        )
        cfn_stage: apigwv2.CfnStage = self.stage.node.default_child  # type: ignore[assignment]
        cfn_stage.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=access_logs.log_group_arn,
            # no query string (the token) in the log: request ids, route, status, connection, user
            format=json.dumps({
                "requestId": "$context.requestId", "requestTime": "$context.requestTime",
                "eventType": "$context.eventType", "routeKey": "$context.routeKey", "status": "$context.status",
                "connectionId": "$context.connectionId", "ip": "$context.identity.sourceIp",
                "user": "$context.authorizer.principalId", "error": "$context.error.message",
                "integrationError": "$context.integration.error",
            }),
        )
        cfn_stage.default_route_settings = apigwv2.CfnStage.RouteSettingsProperty(
            throttling_rate_limit=THROTTLE_RATE, throttling_burst_limit=THROTTLE_BURST,
            logging_level="INFO", data_trace_enabled=False, detailed_metrics_enabled=True,
        )

        self.stream_fn = PythonFunction(
            self, "StreamFunction", package=package, name="live-stream",
            handler="lambda_functions/live/stream.handler", service="live-updates",
            description="Trading table stream -> each trader's live messages (PostToConnection)",
            environment={"TABLE_NAME": table.table_name, "LIVE_CALLBACK_URL": self.stage.callback_url},
            timeout=Duration.seconds(30), memory_size=512,
        )
        stream = self.stream_fn.function
        table.grant_stream_read(stream)
        # the user's connections (Query on the user's partition) and forgetting gone ones
        self.stream_fn.role.add_to_policy(iam.PolicyStatement(
            actions=["dynamodb:Query", "dynamodb:DeleteItem"], resources=[table.table_arn]))
        # PostToConnection (POST) and DeleteConnection (DELETE: a connection whose token expired)
        # on this stage's @connections; not GET (connection info)
        connections_arns = [Stack.of(self).format_arn(
            service="execute-api", resource=self.api.api_id, resource_name=f"{config.name}/{method}/@connections/*")
            for method in ("POST", "DELETE")]
        self.stream_fn.role.add_to_policy(iam.PolicyStatement(
            actions=["execute-api:ManageConnections"], resources=connections_arns))
        stream.add_event_source(event_sources.DynamoEventSource(
            table, starting_position=lambda_.StartingPosition.LATEST, batch_size=BATCH_SIZE,
            max_batching_window=Duration.seconds(0), retry_attempts=2, bisect_batch_on_error=True,
            max_record_age=MAX_RECORD_AGE, parallelization_factor=1,
            filters=[lambda_.FilterCriteria.filter({
                "eventName": lambda_.FilterRule.or_("INSERT", "MODIFY"),
                "dynamodb": {"Keys": {SORT_KEY: {"S": lambda_.FilterRule.begins_with(prefix)}}},
            }) for prefix in SORT_KEY_PREFIXES],
        ))

        for arn in connections_arns:
            acknowledge(
                self.stream_fn,
                f"AwsSolutions-IAM5[Resource::{finding_value(self, arn)}]",
                "PostToConnection/DeleteConnection address a connection id chosen by API Gateway at "
                "connect time: the grant is this API's own stage and its @connections path only.",
            )
        for route in ("$disconnect", "$default"):
            node = self.api.node.try_find_child(f"{route}-Route")
            if node is not None:
                acknowledge(node, "AwsSolutions-APIG4",
                            f"{route} runs on a connection that the $connect route's Cognito token "
                            "authorizer already allowed; API Gateway supports authorizers on $connect only.")
