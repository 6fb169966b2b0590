"""Stack 2, ``ql-algo-trading-{env}-options-platform-stack``: the single table and the REST API.

One RestApi for every route family (decision): one stage, one access log, one Cognito authorizer
built on the auth-broker user pool, one URL for the frontend. The stage's throttle applies to each
method on its own; the public routes have lower method-level throttles of their own, and staging
and production put a WAF web ACL with per-IP rate-based rules in front (``_web_acl``). The broker
account routes are served by the auth-broker stack's functions, imported by ARN (the invoke
permissions are created here, so the stacks keep a one-way dependency). The public broker
postback webhook is served by a function of this stack (it needs the table, the broker
accounts table, the per-account checksum secrets and the follow-up queue it enqueues to, which
the execution-engine stack's order poller consumes inside the VPC), because a route owned by the
execution-engine stack would make the two stacks depend on each other.
``GET /options/executions/history`` reads the engine stack's Parquet archive beyond the hot
window, by the bucket's configured name (``exports.archive_bucket_name``). Public
routes (no Cognito): ``POST /postbacks/{broker}`` (checksum verified in the
handler) and ``GET /broker-sessions/zerodha/callback`` (Kite's OAuth redirect).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from cdk_stacks import exports
from cdk_stacks.auth_broker_stack import (
    availability_zones,
    broker_secret_arn_pattern_token,
    checksum_secret_arn_pattern,
    checksum_secret_arn_pattern_token,
    egress_routing_env,
    grant_broker_secrets,
)
from cdk_stacks.constructs.dead_letter_queue import DeadLetterQueue
from cdk_stacks.constructs.python_function import LambdaPackage, PythonFunction
from cdk_stacks.constructs.tables import table_from_request
from cdk_stacks.nag import acknowledge, finding_value, logical_id
from shared_utils.config import EnvironmentConfig
from shared_utils.persistence import table_schema

#: (path, methods, route family). Families map to handlers below; PUBLIC_ROUTES lists the
#: methods without a Cognito authorizer.
ROUTES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("/options/baskets", ("GET", "POST"), "baskets"),
    ("/options/baskets/{basket_id}", ("GET", "PUT", "DELETE"), "baskets"),
    ("/options/baskets/{basket_id}/strategies", ("GET", "POST"), "strategies"),
    ("/options/strategies", ("GET", "POST"), "strategies"),
    ("/options/strategies/{strategy_id}", ("GET", "PUT", "DELETE"), "strategies"),
    ("/options/strategies/{strategy_id}/activate", ("POST",), "strategies"),
    ("/options/strategies/{strategy_id}/pause", ("POST",), "strategies"),
    ("/options/strategies/{strategy_id}/legs", ("GET", "POST"), "strategies"),
    ("/options/strategies/{strategy_id}/legs/{leg_no}", ("GET", "PUT", "DELETE"), "strategies"),
    ("/options/strategies/{strategy_id}/allocations", ("GET", "POST"), "allocations"),
    ("/options/strategies/{strategy_id}/allocations/advanced", ("POST",), "allocations"),
    ("/options/strategies/{strategy_id}/allocations/summary", ("GET",), "allocations"),
    ("/options/strategies/{strategy_id}/allocations/{client_id}", ("GET", "PUT", "DELETE"), "allocations"),
    ("/options/executions/schedule", ("GET",), "executions"),
    ("/options/executions/history", ("GET",), "executions"),
    ("/options/executions/manual", ("POST",), "executions"),
    ("/options/executions/{execution_id}", ("GET",), "executions"),
    ("/options/positions", ("GET",), "executions"),
    ("/options/executions/dashboard", ("GET",), "analytics"),
    ("/options/orders", ("GET",), "analytics"),
    ("/options/orders/live", ("GET",), "analytics"),
    ("/options/orders/{order_id}", ("GET",), "analytics"),
    ("/options/pnl", ("GET",), "analytics"),
    ("/options/pnl/{strategy_id}", ("GET",), "analytics"),
    ("/options/performance", ("GET",), "analytics"),
    ("/options/performance/strategies/{strategy_id}", ("GET",), "analytics"),
    ("/options/performance/baskets/{basket_id}", ("GET",), "analytics"),
    ("/options/reports/daily", ("GET",), "analytics"),
    ("/options/reports/monthly", ("GET",), "analytics"),
    # market data, calculators and the strategy preview (issue 17)
    ("/options/market/status", ("GET",), "market"),
    ("/options/market/holidays", ("GET",), "market"),
    ("/options/expiry-calendar/{symbol}", ("GET",), "market"),
    ("/options/market-data/{symbol}", ("GET",), "market"),
    ("/options/option-chain/{symbol}/{expiry}", ("GET",), "market"),
    ("/options/strikes/{symbol}", ("GET",), "market"),
    ("/options/volatility/{symbol}", ("GET",), "market"),
    ("/options/calculator/premium", ("POST",), "market"),
    ("/options/calculator/greeks", ("POST",), "market"),
    ("/options/calculator/payoff", ("POST",), "market"),
    ("/options/calculator/breakeven", ("POST",), "market"),
    ("/options/strategies/{strategy_id}/preview", ("GET",), "market"),
    ("/options/kill-switch", ("GET", "PUT"), "executions"),
    ("/options/kill-switch/accounts/{client_id}", ("PUT",), "executions"),
    ("/options/kill-switch/global", ("PUT",), "executions"),
    # actions on orders, executions and positions (issue 18): their own function, which calls the
    # brokers through the engine's clients (rate limiter, egress) like the market function
    ("/options/orders/{order_id}/cancel", ("POST",), "actions"),
    ("/options/orders/{order_id}/modify", ("POST",), "actions"),
    ("/options/executions/{execution_id}/cancel", ("POST",), "actions"),
    ("/options/positions/{position_id}/close", ("POST",), "actions"),
    ("/options/positions/live", ("GET",), "actions"),
    ("/options/audit", ("GET",), "actions"),
    ("/options/marketplace", ("GET",), "marketplace"),
    ("/options/marketplace/categories", ("GET",), "marketplace"),
    ("/options/marketplace/featured", ("GET",), "marketplace"),
    ("/options/marketplace/mine", ("GET",), "marketplace"),
    ("/options/marketplace/baskets", ("POST",), "marketplace"),
    ("/options/marketplace/baskets/{basket_id}", ("GET", "PUT"), "marketplace"),
    ("/options/baskets/{basket_id}/subscribe", ("POST",), "marketplace"),
    ("/options/subscriptions", ("GET",), "marketplace"),
    ("/options/subscriptions/{subscription_id}", ("GET", "PUT", "DELETE"), "marketplace"),
    ("/options/subscriptions/{subscription_id}/pause", ("POST",), "marketplace"),
    ("/options/subscriptions/{subscription_id}/resume", ("POST",), "marketplace"),
    ("/options/subscriptions/{subscription_id}/cancel", ("POST",), "marketplace"),
    ("/options/templates", ("GET",), "marketplace"),
    ("/options/templates/{template_id}", ("GET",), "marketplace"),
    ("/options/templates/{template_id}/create", ("POST",), "marketplace"),
    ("/options/strategies/{strategy_id}/clone", ("POST",), "marketplace"),
    ("/broker-accounts", ("GET", "POST"), "broker_accounts"),
    ("/broker-accounts/{client_id}", ("GET", "PUT", "DELETE"), "broker_accounts"),
    ("/broker-accounts/{client_id}/login", ("POST",), "broker_accounts"),
    ("/broker-sessions/zerodha/callback", ("GET",), "broker_sessions"),
    ("/broker-sessions/finvasia/callback", ("GET",), "broker_sessions"),
    ("/broker-sessions/zebu/callback", ("GET",), "broker_sessions"),
    ("/postbacks/{broker}", ("POST",), "postbacks"),
    ("/profile", ("GET", "PUT"), "profile"),
    # trader notifications (issue 18)
    ("/options/notifications/preferences", ("GET", "PUT"), "notifications"),
    ("/options/notifications/test", ("POST",), "notifications"),
)

#: Routes that must answer without a Cognito token (verified inside the handler).
PUBLIC_ROUTES = frozenset({("/broker-sessions/zerodha/callback", "GET"), ("/broker-sessions/finvasia/callback", "GET"),
                           ("/broker-sessions/zebu/callback", "GET"), ("/postbacks/{broker}", "POST")})

def stage_throttle(config: EnvironmentConfig) -> tuple[int, int]:
    """The stage's default (rate, burst), which API Gateway applies to each method on its own."""
    return (50, 100) if config.name == "dev" else (200, 400)


def public_route_throttles(config: EnvironmentConfig) -> dict[tuple[str, str], tuple[int, int]]:
    """(path, method) -> (rate, burst) method-level throttles of the public routes, below the
    stage default that each trader route gets: a flood on a public route is answered 429 on that
    route alone (and WAF blocks the flooding IPs in staging/production). Postbacks are a shortcut
    (the order poller reads every book each minute), so throttling them delays a stop by at most
    a minute; a broker login callback is one call per trader and day."""
    rate, burst = stage_throttle(config)
    return {(path, method): (rate // 2, burst // 2) if path.startswith("/postbacks/") else (10, 20)
            for path, method in sorted(PUBLIC_ROUTES)}
#: Environments whose stage has the WAF web ACL (rate-based rules per client IP).
WAF_ENVIRONMENTS = frozenset({"staging", "production"})
#: WAF rate-based limits, requests per client IP per 5 minutes: the public routes (a broker's
#: servers post from few IPs: the postbacks' method throttle, 100/s, in 5 minutes) and the trader routes.
WAF_PUBLIC_LIMIT_5MIN = 30_000
WAF_TRADER_LIMIT_5MIN = 6_000

#: Route family -> handler module of this stack (broker_* and profile come from the auth-broker stack).
HANDLERS = {
    "baskets": "lambda_functions.options_platform.baskets.handler",
    "strategies": "lambda_functions.options_platform.strategies.handler",
    "allocations": "lambda_functions.options_platform.allocations.handler",
    "executions": "lambda_functions.options_platform.executions.handler",
    "analytics": "lambda_functions.options_platform.analytics.handler",
    "postbacks": "lambda_functions.execution_engine.postbacks.handler",
    "market": "lambda_functions.options_platform.market.handler",
    "actions": "lambda_functions.options_platform.actions.handler",
    "marketplace": "lambda_functions.options_platform.marketplace.handler",
    "notifications": "lambda_functions.options_platform.notifications.handler",
}
#: families whose function calls broker APIs: the engine's market data and broker clients, in the
#: VPC behind the trader's egress group when static egress is on (issue 16)
BROKER_FAMILIES = ("market", "actions")


def market_environment(config: EnvironmentConfig, archive_bucket: str) -> dict[str, str]:
    """The market function's settings: the same market data as the engine of this environment
    (``QL_MARKET_DATA_ACCOUNT``, the day's masters from S3), the masters' bucket by name
    (``INSTRUMENTS_BUCKET_NAME``; read by shared_utils.services.market_status.api_context)."""
    return {"QL_INSTRUMENTS_FROM_S3": "1", "QL_MARKET_DATA_ACCOUNT": config.settings.market_data.account,
            "INSTRUMENTS_BUCKET_NAME": archive_bucket}


def event_bus_arn(stack: Stack, config: EnvironmentConfig) -> str:
    """ARN of the execution-engine bus, built from its configured name (no stack import)."""
    return stack.format_arn(service="events", resource="event-bus", resource_name=config.event_bus_name)


class OptionsPlatformStack(Stack):
    """The trading table, the route-family Lambdas and the REST API (see module doc)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        imp = exports.import_value

        # ---- the single table ---------------------------------------------------------------
        self.table = table_from_request(
            self,
            "TradingTable",
            table_schema.create_table_kwargs(config.table_name),
            retain=config.retain,
            time_to_live_attribute=table_schema.TTL_ATTRIBUTE,
        )

        # ---- imports from auth-broker -------------------------------------------------------
        user_pool = cognito.UserPool.from_user_pool_arn(self, "UserPool", imp(config, exports.USER_POOL_ARN))
        broker_accounts_table = dynamodb.Table.from_table_attributes(
            self, "BrokerAccountsTable", table_arn=imp(config, exports.BROKER_ACCOUNTS_TABLE_ARN)
        )
        secrets_key = kms.Key.from_key_arn(self, "BrokerSecretsKey", imp(config, exports.BROKER_SECRETS_KEY_ARN))
        imported_functions = {
            "broker_accounts": lambda_.Function.from_function_attributes(
                self, "BrokerAccountsFunction",
                function_arn=imp(config, exports.BROKER_ACCOUNTS_FUNCTION_ARN), same_environment=True,
            ),
            "broker_sessions": lambda_.Function.from_function_attributes(
                self, "BrokerSessionsFunction",
                function_arn=imp(config, exports.BROKER_SESSIONS_FUNCTION_ARN), same_environment=True,
            ),
            "profile": lambda_.Function.from_function_attributes(
                self, "ProfileFunction",
                function_arn=imp(config, exports.PROFILE_FUNCTION_ARN), same_environment=True,
            ),
        }

        # ---- route-family Lambdas -----------------------------------------------------------
        package = LambdaPackage(self, "LambdaPackage", config=config)
        archive_bucket = exports.archive_bucket_name(config, self.account)
        env = {
            "TABLE_NAME": self.table.table_name,
            "BROKER_ACCOUNTS_TABLE_NAME": config.broker_accounts_table_name,
            "EVENT_BUS_NAME": config.event_bus_name,
        }
        # The market function calls the brokers (quotes of the market-data account, Kite basket
        # margins of LIVE accounts): with static egress it runs in the VPC and routes by the
        # trader's group like the engine (issue 16). Postbacks call no broker: they verify and
        # enqueue for the order poller (issue 14 finding 8), outside the VPC.
        broker_props: dict = {}
        broker_env: dict[str, str] = {}
        if config.settings.auth_broker.enable_static_egress_ip:
            azs = availability_zones(config)
            vpc = ec2.Vpc.from_vpc_attributes(
                self, "Vpc", vpc_id=imp(config, exports.VPC_ID), availability_zones=azs,
                private_subnet_ids=[imp(config, f"{exports.PRIVATE_SUBNET_IDS}-{i}") for i in range(len(azs))])
            sg = ec2.SecurityGroup(self, "MarketBrokerSg", vpc=vpc, allow_all_outbound=False,
                                   security_group_name=config.resource_name("market-broker-egress"),
                                   description="Market data API: HTTPS out (broker quotes, margins), via the egress proxy")
            sg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to broker APIs and AWS")
            broker_env = {"QL_EGRESS_REQUIRED": "1", **egress_routing_env(config)}
            if "QL_EGRESS_GROUPS" in broker_env:
                import json as _json

                n = len(_json.loads(broker_env["QL_EGRESS_GROUPS"]))
                sg.add_egress_rule(ec2.Peer.ipv4("10.40.0.0/27"), ec2.Port.tcp_range(3128, 3127 + n),
                                   "the egress proxy (one port per egress group)")
            broker_props = {"vpc": vpc, "security_groups": [sg]}
        self.functions: dict[str, PythonFunction] = {}
        for family, handler in HANDLERS.items():
            self.functions[family] = PythonFunction(
                self,
                f"{family.capitalize()}Function",
                package=package,
                name=f"api-{family.replace('_', '-')}",
                handler=handler,
                service="options-platform" if family != "postbacks" else "execution-engine",
                description=f"REST routes: {family}",
                environment={**env, **({"ARCHIVE_BUCKET_NAME": archive_bucket}
                                       if family in ("executions", "analytics") else {}),
                             **(market_environment(config, archive_bucket) if family in BROKER_FAMILIES else {}),
                             **(broker_env if family in BROKER_FAMILIES else {})},
                timeout=Duration.seconds(29),
                broker=family in BROKER_FAMILIES,
                **(broker_props if family in BROKER_FAMILIES else {}),
            )
        for family in ("baskets", "strategies", "allocations", "executions", "postbacks", "market"):
            fn = self.functions[family].function
            if family == "market":
                self.table.grant_read_data(fn)  # the preview reads; it never writes
            else:
                self.table.grant_read_write_data(fn)
            acknowledge(
                self.functions[family],
                f"AwsSolutions-IAM5[Resource::<{logical_id(self.table)}.Arn>/index/*]",
                "Queries of the trading table's own GSIs (AllocationsByStrategy, "
                "ExecutionSchedule, OrdersByTag); the wildcard covers only this table's indexes.",
            )
        for family in ("allocations", "postbacks", "executions", "strategies"):
            broker_accounts_table.grant_read_data(self.functions[family].function)
        # marketplace (issue 20): listings, subscriptions and their schedule items in the table
        # (GSI2 for nothing but the subscriber's own schedule writes); the subscriber's accounts
        # are read to check them, the admin's (PAPER or not) for the basket's paper track
        marketplace_fn = self.functions["marketplace"]
        self.table.grant_read_write_data(marketplace_fn.function)
        broker_accounts_table.grant_read_data(marketplace_fn.function)
        acknowledge(
            marketplace_fn,
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.table)}.Arn>/index/*]",
            "Queries of the trading table's own GSIs; the wildcard covers only this table's indexes.",
        )
        # MFA for live trading (shared_utils.accounts.mfa): allocating to a LIVE account and a
        # manual LIVE entry read the caller's MFA settings with AdminGetUser.
        for family in ("allocations", "executions", "strategies"):
            self.functions[family].function.add_environment("USER_POOL_ID", user_pool.user_pool_id)
            self.functions[family].role.add_to_policy(iam.PolicyStatement(
                actions=["cognito-idp:AdminGetUser"], resources=[user_pool.user_pool_arn]))
        for family in ("executions",):  # postbacks publish nothing: they record and enqueue
            self.functions[family].role.add_to_policy(
                iam.PolicyStatement(actions=["events:PutEvents"], resources=[event_bus_arn(self, config)])
            )
        # History beyond the hot window reads the execution-engine stack's Parquet archive
        # (bucket by its configured name: that stack deploys after this one).
        archive_arn = self.format_arn(service="s3", region="", account="", resource=archive_bucket)
        executions_role = self.functions["executions"].role
        executions_role.add_to_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[archive_arn],
            conditions={"StringLike": {"s3:prefix": ["archive/entity=executions/*"]}},
        ))
        executions_role.add_to_policy(iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[f"{archive_arn}/archive/entity=executions/*"],
        ))
        acknowledge(
            self.functions["executions"],
            f"AwsSolutions-IAM5[Resource::{finding_value(self, archive_arn)}/archive/entity=executions/*]",
            "GET /options/executions/history reads archived executions (one Parquet object per "
            "trade date) beyond the table's hot window; read-only, executions prefix only.",
        )
        # Analytics (orders, P&L, performance, reports, dashboard): read-only on the table, and
        # the archived executions and orders beyond the hot window (shared_utils.analytics.history).
        analytics = self.functions["analytics"]
        self.table.grant_read_data(analytics.function)
        acknowledge(
            analytics,
            f"AwsSolutions-IAM5[Resource::<{logical_id(self.table)}.Arn>/index/*]",
            "GET /options/orders/{order_id} finds an order by its tag on the table's OrdersByTag "
            "index; read-only, this table's indexes only.",
        )
        analytics.role.add_to_policy(iam.PolicyStatement(
            actions=["s3:ListBucket"], resources=[archive_arn],
            conditions={"StringLike": {"s3:prefix": ["archive/entity=executions/*", "archive/entity=orders/*"]}},
        ))
        analytics.role.add_to_policy(iam.PolicyStatement(
            actions=["s3:GetObject"],
            resources=[f"{archive_arn}/archive/entity=executions/*", f"{archive_arn}/archive/entity=orders/*"],
        ))
        for entity in ("executions", "orders"):
            acknowledge(
                analytics,
                f"AwsSolutions-IAM5[Resource::{finding_value(self, archive_arn)}/archive/entity={entity}/*]",
                f"P&L, performance and reports read archived {entity} (one Parquet object per trade "
                "date) beyond the table's hot window; read-only, that prefix only.",
            )
        self._market_grants(config, broker_accounts_table, secrets_key, archive_bucket)
        # trader notifications (issue 18): the preferences routes; the kill switch routes enqueue
        from cdk_stacks.constructs import notifications as _notifications

        _notifications.grant_preferences_api(self.functions["notifications"], self, config, self.table, secrets_key)
        _notifications.grant_enqueue(self.functions["executions"], self, config)
        self._actions_grants(config, broker_accounts_table, secrets_key, archive_bucket)
        # Postbacks record and enqueue (issue 14, finding 8): the stop after a fill is placed by
        # the order poller in the VPC, from the follow-up queue. The webhook reads only the
        # checksum secrets (the Kite api_secret alone), never the broker secrets.
        postbacks = self.functions["postbacks"]
        postbacks.role.add_to_policy(iam.PolicyStatement(
            actions=["secretsmanager:GetSecretValue"], resources=[checksum_secret_arn_pattern(self, config)]))
        # Decrypt ONLY through Secrets Manager (the checksum secret): the broker credentials sealed
        # in the broker-accounts table use the same key directly and stay out of this role's reach
        postbacks.role.add_to_policy(iam.PolicyStatement(
            actions=["kms:Decrypt"], resources=[secrets_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{self.region}.amazonaws.com"}}))
        acknowledge(
            postbacks,
            f"AwsSolutions-IAM5[Resource::{checksum_secret_arn_pattern_token(self, config)}]",
            "Postback checksums need the api_secret of the order's account; each lives alone in a "
            "per-account checksum secret created at runtime under this prefix (read-only).",
        )
        alerts_topic = sns.Topic.from_topic_arn(self, "AlertsTopic", imp(config, exports.ALERTS_TOPIC_ARN))
        self.follow_up_dlq = DeadLetterQueue(self, "PostbackFollowUpDlq", config=config,
                                             name="postback-follow-ups-dlq", alerts_topic=alerts_topic)
        self.follow_up_queue = sqs.Queue(
            self,
            "PostbackFollowUpQueue",
            queue_name=config.resource_name("postback-follow-ups"),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.minutes(6),  # > the order poller's timeout (x6 per AWS guidance)
            retention_period=Duration.hours(6),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.follow_up_dlq.queue, max_receive_count=3),
            removal_policy=RemovalPolicy.RETAIN if config.retain else RemovalPolicy.DESTROY,
        )
        self.follow_up_queue.grant_send_messages(postbacks.function)
        postbacks.function.add_environment("POSTBACK_QUEUE_URL", self.follow_up_queue.queue_url)

        # ---- the REST API -------------------------------------------------------------------
        access_logs = logs.LogGroup(
            self,
            "ApiAccessLogs",
            retention=logs.RetentionDays.THREE_MONTHS if config.retain else logs.RetentionDays.ONE_WEEK,
            removal_policy=RemovalPolicy.RETAIN if config.retain else RemovalPolicy.DESTROY,
        )
        self.api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=config.resource_name("api"),
            description="Options platform REST API (baskets, strategies, legs, allocations, executions, broker accounts)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            deploy_options=apigw.StageOptions(
                stage_name=config.name,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.INFO,
                data_trace_enabled=False,
                throttling_rate_limit=stage_throttle(config)[0],
                throttling_burst_limit=stage_throttle(config)[1],
                method_options={
                    f"{path}/{method}": apigw.MethodDeploymentOptions(
                        throttling_rate_limit=rate, throttling_burst_limit=burst, metrics_enabled=True,
                        logging_level=apigw.MethodLoggingLevel.INFO, data_trace_enabled=False,
                    )
                    for (path, method), (rate, burst) in public_route_throttles(config).items()
                },
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=True,
                ),
            ),
            default_cors_preflight_options=apigw.CorsOptions(
                allow_origins=list(config.settings.cors_origins),
                allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "X-Amz-Date", "X-Api-Key", "X-Amz-Security-Token"],
                max_age=Duration.hours(1),
            ),
        )
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self,
            "CognitoAuthorizer",
            authorizer_name=config.resource_name("cognito"),
            cognito_user_pools=[user_pool],
            results_cache_ttl=Duration.minutes(5),
        )
        self.request_validator = self.api.add_request_validator(
            "ParamsValidator",
            request_validator_name="params-only",
            validate_request_parameters=True,
            validate_request_body=False,
        )

        integrations: dict[str, apigw.LambdaIntegration] = {}
        targets: dict[str, lambda_.IFunction] = {f: p.function for f, p in self.functions.items()}
        targets.update(imported_functions)
        self.methods: dict[tuple[str, str], apigw.Method] = {}
        for path, methods, family in ROUTES:
            resource = self.api.root.resource_for_path(path)
            integration = integrations.setdefault(
                family, apigw.LambdaIntegration(targets[family], proxy=True, allow_test_invoke=False)
            )
            for method in methods:
                if (path, method) in PUBLIC_ROUTES:
                    options = {"authorization_type": apigw.AuthorizationType.NONE}
                else:
                    options = {
                        "authorization_type": apigw.AuthorizationType.COGNITO,
                        "authorizer": self.authorizer,
                    }
                m = resource.add_method(method, integration, request_validator=self.request_validator, **options)
                self.methods[(path, method)] = m
                if (path, method) in PUBLIC_ROUTES:
                    reason = (
                        "Public by design: Zerodha's OAuth redirect carries no Cognito token; the "
                        "handler validates request_token and the signed state it issued at login."
                        if "zerodha" in path
                        else "Public by design: brokers POST order updates without a Cognito token; "
                        "the handler verifies each postback's checksum with the account's API secret."
                    )
                    acknowledge(m, "AwsSolutions-APIG4", reason)
                    acknowledge(m, "AwsSolutions-COG4", reason)

        # CORS preflight (OPTIONS) methods answer without auth, as browsers send no token.
        for child in self.api.node.find_all():
            if isinstance(child, apigw.Method) and child.http_method == "OPTIONS":
                reason = (
                    "CORS preflight: browsers send OPTIONS without credentials; the mock "
                    "integration only returns the CORS headers for the configured origins."
                )
                acknowledge(child, "AwsSolutions-APIG4", reason)
                acknowledge(child, "AwsSolutions-COG4", reason)

        acknowledge(
            self.api,
            "AwsSolutions-IAM4[Policy::" + finding_value(self, iam.ManagedPolicy.from_aws_managed_policy_name(
                "service-role/AmazonAPIGatewayPushToCloudWatchLogs").managed_policy_arn) + "]",
            "API Gateway's account-level CloudWatch role (needed for stage execution logs) uses "
            "the AWS managed policy made for exactly that purpose; it is the service's documented setup.",
        )
        acknowledge(
            self.api,
            "AwsSolutions-APIG2",
            "The API validates required path/query parameters (params-only validator on every "
            "method); bodies are validated in each handler by Powertools' pydantic models, the "
            "single source of the schemas (422 with field and reason), not duplicated as API models.",
        )
        if config.name in WAF_ENVIRONMENTS:
            self.web_acl = self._web_acl()
        else:
            acknowledge(
                self.api,
                "AwsSolutions-APIG3",
                "dev has no WAF (cost): every non-public route requires a Cognito token, each "
                "method has its own throttle and the public routes a lower one, and the public "
                "routes verify checksums/state in the handler. Staging and production have the "
                "web ACL with per-IP rate-based rules.",
            )

        # ---- live updates (issue 19): the WebSocket API fed by the table's stream -------------
        from cdk_stacks.constructs.websocket import LiveUpdates

        self.live = LiveUpdates(self, "LiveUpdates", config=config, package=package, table=self.table,
                                user_pool_id=user_pool.user_pool_id,
                                user_pool_client_id=imp(config, exports.USER_POOL_CLIENT_ID))
        self.live_url = self.live.stage.url  # wss://{api}.execute-api.{region}.amazonaws.com/{env}: the web app's liveUrl
        account = self.api.node.try_find_child("Account")  # the account's CloudWatch role, which stage logging needs
        if account is not None:
            self.live.stage.node.add_dependency(account)

        # ---- exports ------------------------------------------------------------------------
        e = exports
        e.export(self, config, e.TABLE_NAME, self.table.table_name, "The single trading table")
        e.export(self, config, e.TABLE_ARN, self.table.table_arn, "The single trading table ARN")
        e.export(self, config, e.TABLE_STREAM_ARN, self.table.table_stream_arn, "The trading table's stream")
        e.export(self, config, e.REST_API_ID, self.api.rest_api_id, "REST API id")
        e.export(self, config, e.POSTBACK_QUEUE_ARN, self.follow_up_queue.queue_arn,
                 "Verified postbacks to follow up (the order poller consumes it in the VPC)")
        e.export(self, config, e.REST_API_URL, self.api.url, "REST API base URL (stage = env)")
        e.export(self, config, e.LIVE_URL, self.live.stage.url, "Live updates WebSocket URL (connect with ?token=<ID token>)")

        # ---- the web app (issue 19): S3 + CloudFront, the API on the same origin ---------------
        from cdk_stacks.constructs.web_hosting import WebHosting

        self.web = WebHosting(self, "WebHosting", config=config, api=self.api,
                              api_prefixes={path.split("/")[1] for path, _methods, _family in ROUTES},
                              user_pool_id=imp(config, exports.USER_POOL_ID),
                              user_pool_client_id=imp(config, exports.USER_POOL_CLIENT_ID),
                              live_url=getattr(self, "live_url", None))  # the LiveUpdates WebSocket stage, when this stack has one
        CfnOutput(self, "WebAppUrl", value=self.web.url, description="The traders' web app (sign in here)")

    def _market_grants(self, config: EnvironmentConfig, broker_accounts_table, secrets_key, archive_bucket: str) -> None:
        """The market function reads what the engine's Resolve reads: broker accounts (the preview's
        accounts, the market-data account), their secrets (the market-data account's quote API,
        Kite basket margins of LIVE accounts) and the day's instrument masters (instruments/*)."""
        fn = self.functions["market"]
        broker_accounts_table.grant_read_data(fn.function)
        grant_broker_secrets(fn.function, self, config, secrets_key, write=False)
        masters = self.format_arn(service="s3", region="", account="", resource=archive_bucket)
        fn.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{masters}/instruments/*"]))
        acknowledge(fn, f"AwsSolutions-IAM5[Resource::{finding_value(self, masters)}/instruments/*]",
                    "Reads the day's instrument masters (one object per broker and day) under instruments/; read-only.")
        acknowledge(fn, f"AwsSolutions-IAM5[Resource::{broker_secret_arn_pattern_token(self, config)}]",
                    "The market-data account's quote API and LIVE accounts' basket margins use per-account broker "
                    "secrets created at runtime under the broker secret prefix; read-only and limited to that prefix.")
        acknowledge(fn, f"AwsSolutions-IAM5[Resource::{exports.export_name(config, exports.BROKER_ACCOUNTS_TABLE_ARN)}/index/*]",
                    "Lookups by client_id on the broker accounts table's own index AccountsByClientId.")

    def _actions_grants(self, config: EnvironmentConfig, broker_accounts_table, secrets_key, archive_bucket: str) -> None:
        """The actions function (issue 18) does what the engine does for one order or position:
        reads and writes the trading table (orders, positions, audit items, placement claims),
        reads the broker accounts and their session secrets (cancel, modify, place a closing
        order), the day's instrument masters (prices of a closing order) and publishes alerts."""
        fn = self.functions["actions"]
        self.table.grant_read_write_data(fn.function)
        broker_accounts_table.grant_read_data(fn.function)
        grant_broker_secrets(fn.function, self, config, secrets_key, write=False)
        fn.role.add_to_policy(iam.PolicyStatement(actions=["events:PutEvents"], resources=[event_bus_arn(self, config)]))
        masters = self.format_arn(service="s3", region="", account="", resource=archive_bucket)
        fn.role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[f"{masters}/instruments/*"]))
        acknowledge(fn, f"AwsSolutions-IAM5[Resource::<{logical_id(self.table)}.Arn>/index/*]",
                    "Finds an order by its tag on the trading table's own OrdersByTag index; this table's indexes only.")
        acknowledge(fn, f"AwsSolutions-IAM5[Resource::{finding_value(self, masters)}/instruments/*]",
                    "Reads the day's instrument masters (one object per broker and day) under instruments/; read-only.")
        acknowledge(fn, f"AwsSolutions-IAM5[Resource::{broker_secret_arn_pattern_token(self, config)}]",
                    "Cancels, modifies and closing orders use the account's broker session secret, created at "
                    "runtime under the broker secret prefix; read-only and limited to that prefix.")
        acknowledge(fn, f"AwsSolutions-IAM5[Resource::{exports.export_name(config, exports.BROKER_ACCOUNTS_TABLE_ARN)}/index/*]",
                    "Lookups by client_id on the broker accounts table's own index AccountsByClientId.")

    def _web_acl(self) -> wafv2.CfnWebACL:
        """A regional WAFv2 web ACL on the API stage: per-client-IP rate-based rules, one for the
        public routes (postbacks, broker login callback) and one for every other route, so a
        flood is blocked before API Gateway counts it against the account's request rate."""
        name = self.config.resource_name

        def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True)

        def path_contains(fragment: str) -> wafv2.CfnWebACL.StatementProperty:
            return wafv2.CfnWebACL.StatementProperty(byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                positional_constraint="CONTAINS", search_string=fragment,
                text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="LOWERCASE")],
            ))

        public = wafv2.CfnWebACL.StatementProperty(or_statement=wafv2.CfnWebACL.OrStatementProperty(
            statements=[path_contains("/postbacks/"), path_contains("/broker-sessions/")]))

        def rate_rule(rule: str, priority: int, limit: int, scope: wafv2.CfnWebACL.StatementProperty):
            return wafv2.CfnWebACL.RuleProperty(
                name=rule, priority=priority, action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                visibility_config=visibility(rule),
                statement=wafv2.CfnWebACL.StatementProperty(rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                    aggregate_key_type="IP", limit=limit, evaluation_window_sec=300, scope_down_statement=scope)),
            )

        traders = wafv2.CfnWebACL.StatementProperty(not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=public))
        acl = wafv2.CfnWebACL(
            self,
            "ApiWebAcl",
            name=name("api-waf"),
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(name("api-waf")),
            rules=[rate_rule("PublicRoutesPerIp", 0, WAF_PUBLIC_LIMIT_5MIN, public),
                   rate_rule("TraderRoutesPerIp", 1, WAF_TRADER_LIMIT_5MIN, traders)],
        )
        association = wafv2.CfnWebACLAssociation(
            self, "ApiWebAclAssociation", resource_arn=self.api.deployment_stage.stage_arn, web_acl_arn=acl.attr_arn)
        association.node.add_dependency(self.api.deployment_stage)
        return acl
