"""Stack 3, ``ql-algo-trading-{env}-execution-engine-stack``: from the minute tick to the order.

* The custom bus ``ql-algo-trading-{env}-events`` and the per-minute emitter. Schedule choice:
  EventBridge rules (UTC cron) firing every minute from ``09:15 - lookahead`` to ``15:30`` IST
  (03:43-10:00 UTC with the 2-minute lookahead), on ALL days of the week: the emitter checks
  the exchange calendar, so a weekend special session (e.g. a Budget-day Sunday) needs no
  deploy; a closed weekend minute costs one short invocation. Sessions outside that window
  (the evening Muhurat session) need an extra rule.
* The Express state machine with the contract in ``ARCHITECTURE.md`` ("Execution"), started by
  the bus rule on ``Strategy Execution Due`` with ``$.detail`` as input:
  Prepare (ENTRY: also resolves and stores the intents) -> (claimed_count == 0 ? Succeed) ->
  Wait(TimestampPath $.wait_until = execute_at - send_lead_seconds) -> [EXIT: Resolve] ->
  Map($.work_items, PlaceOrders: Retry only a throttled invoke, other errors caught into the item's
  result at $.error) -> Finalize. Retries are bounded so they end well inside the lateness limit.
* The other engine Lambdas on bus rules and schedules, the S3 archive (Parquet), the targets'
  dead-letter queue with its alarm, the dashboard and (``enable_alarms``) alarms.

Broker-calling Lambdas run in the auth-broker VPC's private subnets when static egress is on,
so every order leaves from the NAT gateway's registered Elastic IP.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from cdk_stacks import exports
from cdk_stacks.auth_broker_stack import egress_routing_env
from cdk_stacks.auth_broker_stack import (
    availability_zones,
    broker_secret_arn_pattern_token,
    broker_secret_prefix,
    grant_broker_secrets,
)
from cdk_stacks.constructs.dead_letter_queue import DeadLetterQueue
from cdk_stacks.constructs.python_function import POWERTOOLS_NAMESPACE, LambdaPackage, PythonFunction
from cdk_stacks.nag import acknowledge, logical_id
from cdk_stacks.schedules import daily_ist, ist_to_utc
from shared_utils.config import EnvironmentConfig

EMITTER_SOURCE = "ql.execution.emitter"
DETAIL_EXECUTION_DUE = "Strategy Execution Due"
DETAIL_CHECK_STOP_LOSS = "Check Stop Loss"
DETAIL_CHECK_DUPLICATES = "Check Duplicate Orders"
DETAIL_REFRESH_MARKET_DATA = "Refresh Market Data"
DETAIL_EXECUTION_COMPLETED = "Execution Completed"
DETAIL_POLL_ORDERS = "Poll Orders"

SESSION_OPEN_IST = "09:15"
SESSION_CLOSE_IST = "15:30"
ARCHIVE_TIME_IST = "16:30"
INSTRUMENTS_REFRESH_TIME_IST = "08:00"

#: the Lambda errors CDK's LambdaInvoke retries by default (retry_on_service_exceptions)
LAMBDA_SERVICE_ERRORS = ("Lambda.ClientExecutionTimeoutException", "Lambda.ServiceException",
                         "Lambda.AWSLambdaException", "Lambda.SdkClientException")
#: a throttled invoke (reserved concurrency or the account quota): the function did not run
THROTTLED = "Lambda.TooManyRequestsException"
#: PlaceOrders retries of a throttled invoke, 1 s apart (inside the lateness limit)
PLACE_THROTTLE_RETRIES = 2
#: waits of the bounded retries, seconds (Prepare 1 + 2, Resolve 1, PlaceOrders 1 + 1, Finalize 1 + 2 + 4)
PREPARE_RETRY_SECONDS = 3
RESOLVE_RETRY_SECONDS = 1

#: Custom metrics the engine publishes with Powertools (``shared_utils.execution.wiring.metrics``,
#: namespace ``POWERTOOLS_METRICS_NAMESPACE`` = ``QlAlgoTrading``, default dimension ``service``),
#: one per ``ctx.metric(...)`` call in ``shared_utils/execution`` (a test checks the names
#: against the source). The dimensions passed to ``ctx.metric`` (``broker``, ``status``) are not
#: attached by ``wiring._metric`` today, so the dashboard reads with a SEARCH on the metric name
#: alone (any dimension set), which keeps working once they are; the alarm uses ``service``.
METRIC_EXECUTIONS = "Executions"  # steps.py, Count per finished execution ({status} intended)
METRIC_STRATEGIES_DUE = "StrategiesDue"  # emitter.py, Count per tick
METRIC_LAG_MS = "OrderLagMs"  # placer.py, ms after execute_at at which an order was sent ({broker} intended)
ENGINE_METRICS = (METRIC_EXECUTIONS, METRIC_STRATEGIES_DUE, METRIC_LAG_MS)
#: functions whose handler builds engine_context(), which reads the day's instrument masters
#: from S3 (instruments/*) on first use; the refresher writes them (its own grant)
MASTER_READERS = ("emitter", "prepare", "pre_cancel", "resolve", "finalize", "stop_loss_checker", "duplicate_checker",
                  "order_poller")


def place_orders_reserved_concurrency(config: EnvironmentConfig) -> int:
    """Reserved concurrency of PlaceOrders: ``execution_engine.max_concurrent_executions``
    (branches that may send at once across all runs of a slot; more are throttled, retried
    PLACE_THROTTLE_RETRIES times 1 s apart, then reported NOT_SENT by Finalize).

    Deploying needs the account's Lambda concurrency quota above the sum reserved + 100
    (CloudFormation refuses otherwise): production's 1000 needs a raised quota, which its busy
    slot (1,000 users x 3 strategies x 2 accounts = 6,000 branches) needs anyway."""
    return config.settings.execution_engine.max_concurrent_executions


def minute_window_crons(start_ist: str, end_ist: str) -> list[dict[str, str]]:
    """Cron fields (UTC) firing every minute from ``start_ist`` to ``end_ist`` inclusive, as
    few rules as a cron can express (a partial first hour, whole hours, a partial last hour).
    Both times must fall on the same UTC day (true for the NSE session)."""
    sh, sm, s_shift = ist_to_utc(start_ist)
    eh, em, e_shift = ist_to_utc(end_ist)
    if s_shift or e_shift or (sh, sm) > (eh, em):
        raise ValueError(f"window {start_ist}-{end_ist} IST crosses a UTC day")
    if sh == eh:
        return [{"minute": f"{sm}-{em}", "hour": str(sh)}]
    crons = [{"minute": f"{sm}-59" if sm else "*", "hour": str(sh)}]
    if eh - sh > 1:
        crons.append({"minute": "*", "hour": f"{sh + 1}-{eh - 1}" if eh - sh > 2 else str(sh + 1)})
    crons.append({"minute": f"0-{em}" if em else "0", "hour": str(eh)})
    return crons


def minus_minutes(hhmm: str, minutes: int) -> str:
    """``"09:15"`` minus ``minutes`` as ``HH:MM``."""
    h, m = (int(x) for x in hhmm.split(":"))
    total = h * 60 + m - minutes
    return f"{total // 60:02d}:{total % 60:02d}"


class ExecutionEngineStack(Stack):
    """The engine: bus, emitter, state machine, order Lambdas, archive, monitoring."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        ee = config.settings.execution_engine
        imp = exports.import_value
        removal = RemovalPolicy.RETAIN if config.retain else RemovalPolicy.DESTROY

        # ---- imports ------------------------------------------------------------------------
        self.alerts_topic = sns.Topic.from_topic_arn(self, "AlertsTopic", imp(config, exports.ALERTS_TOPIC_ARN))
        secrets_key = kms.Key.from_key_arn(self, "BrokerSecretsKey", imp(config, exports.BROKER_SECRETS_KEY_ARN))
        table = dynamodb.Table.from_table_attributes(
            self,
            "TradingTable",
            table_arn=imp(config, exports.TABLE_ARN),
            table_stream_arn=imp(config, exports.TABLE_STREAM_ARN),
            grant_index_permissions=True,
        )
        broker_accounts_table = dynamodb.Table.from_table_attributes(
            self, "BrokerAccountsTable", table_arn=imp(config, exports.BROKER_ACCOUNTS_TABLE_ARN),
            grant_index_permissions=True,
        )
        vpc_props: dict = {}
        egress_env: dict[str, str] = {}
        self.vpc: ec2.IVpc | None = None
        if config.settings.auth_broker.enable_static_egress_ip:
            azs = availability_zones(config)
            self.vpc = ec2.Vpc.from_vpc_attributes(
                self,
                "Vpc",
                vpc_id=imp(config, exports.VPC_ID),
                availability_zones=azs,
                private_subnet_ids=[imp(config, f"{exports.PRIVATE_SUBNET_IDS}-{i}") for i in range(len(azs))],
            )
            sg = ec2.SecurityGroup(
                self,
                "BrokerEgressSg",
                vpc=self.vpc,
                security_group_name=config.resource_name("engine-broker-egress"),
                description="Engine broker-calling Lambdas: HTTPS out through the static-IP NAT, nothing in",
                allow_all_outbound=False,
            )
            sg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to broker APIs and AWS")
            vpc_props = {"vpc": self.vpc, "security_groups": [sg]}
            # egress per trader (issue 16): broker calls go through the group's port of the proxy;
            # QL_EGRESS_REQUIRED: without a routing table every broker call is refused
            egress_env = {"QL_EGRESS_REQUIRED": "1", **egress_routing_env(config)}
            if "QL_EGRESS_GROUPS" in egress_env:
                from cdk_stacks.constructs.egress_proxy import PROXY_SUBNET_CIDR, group_addresses

                n = len(json.loads(egress_env["QL_EGRESS_GROUPS"]))
                first = group_addresses(PROXY_SUBNET_CIDR, 1)[0]
                sg.add_egress_rule(ec2.Peer.ipv4(f"{first.rsplit('.', 1)[0]}.0/27"), ec2.Port.tcp_range(3128, 3127 + n),
                                   "the egress proxy (one port per egress group)")

        # ---- bus, archive bucket, DLQ -------------------------------------------------------
        self.bus = events.EventBus(self, "Bus", event_bus_name=config.event_bus_name)
        self.dead_letter_queue = DeadLetterQueue(
            self, "TargetsDlq", config=config, name="execution-engine-dlq", alerts_topic=self.alerts_topic
        )
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365), abort_incomplete_multipart_upload_after=Duration.days(7))],
            removal_policy=removal,
        )
        acknowledge(
            self.access_logs_bucket,
            "AwsSolutions-S1",
            "This bucket receives the archive bucket's server access logs; logging the log "
            "bucket into itself would loop and another log bucket would only move the finding.",
        )
        # No auto_delete_objects, in dev either (decision): it adds CDK's custom-resource Lambda
        # (Node.js, a role with an AWS managed policy, a bucket policy letting it delete every
        # object version) to a bucket holding trading history; the platform's rule is "only our
        # functions, no managed policies". Deleting a dev engine stack therefore needs the bucket
        # emptied first (all versions: `aws s3api delete-objects` over list-object-versions), or
        # CloudFormation leaves the bucket behind (DELETE_FAILED on it alone).
        self.archive_bucket = s3.Bucket(
            self,
            "ArchiveBucket",
            bucket_name=exports.archive_bucket_name(config, self.account),
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="archive/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="archive-tiering",
                    prefix="archive/",
                    transitions=[
                        s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(30)),
                        s3.Transition(storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transition_after=Duration.days(180)),
                    ],
                    expiration=Duration.days(ee.archive_retention_days),
                ),
                s3.LifecycleRule(
                    id="housekeeping",
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                ),
            ],
            removal_policy=removal,
        )

        # ---- Lambdas ------------------------------------------------------------------------
        package = LambdaPackage(self, "LambdaPackage", config=config)
        env = {
            "TABLE_NAME": config.table_name,
            "BROKER_ACCOUNTS_TABLE_NAME": config.broker_accounts_table_name,
            "EVENT_BUS_NAME": self.bus.event_bus_name,
            "BROKER_SECRET_PREFIX": broker_secret_prefix(config),
            "ARCHIVE_BUCKET_NAME": self.archive_bucket.bucket_name,
            "ALERTS_TOPIC_ARN": self.alerts_topic.topic_arn,
            # the day's masters come from instruments/<broker>/<date>.* (market-data refresher)
            "QL_INSTRUMENTS_FROM_S3": "1",
            # where live prices and Kite's dump come from (config market_data.account; "simulator": paper only)
            "QL_MARKET_DATA_ACCOUNT": config.settings.market_data.account,
        }

        def function(cid: str, module: str, description: str, *, broker: bool, **extra) -> PythonFunction:
            return PythonFunction(
                self,
                cid,
                package=package,
                name=module.replace("_", "-"),
                handler=f"lambda_functions.execution_engine.{module}.handler",
                service="execution-engine",
                description=description,
                environment={**env, **(egress_env if broker else {})},
                broker=broker,
                **(vpc_props if broker else {}),
                **extra,
            )

        fns: dict[str, PythonFunction] = {}
        fns["emitter"] = function(
            "EmitterFunction", "emitter",
            "Every minute: trading day? -> GSI2 slot now+lookahead -> PutEvents 'Strategy Execution Due'",
            broker=False, timeout=Duration.seconds(50),
        )
        fns["prepare"] = function(
            "PrepareFunction", "prepare",
            "State machine: load and claim the executions; entries resolved (contracts, intents) before the Wait",
            broker=True, memory_size=1024, timeout=Duration.seconds(60),
        )
        fns["resolve"] = function(
            "ResolveFunction", "resolve", "State machine: quotes, each leg's contract, quantities, work items",
            broker=True, memory_size=1024,
        )
        fns["place_orders"] = function(
            "PlaceOrdersFunction", "place_orders",
            "State machine Map branch: one account's intents sent at execute_at (retried only when throttled)",
            broker=True, memory_size=1024, timeout=Duration.seconds(max(60, ee.execution_timeout * 3)),
            # Its own pool: a busy minute of the per-minute checkers or the API can never take the
            # concurrency the sends need (the account quota must exceed the sum reserved + 100).
            reserved_concurrency=place_orders_reserved_concurrency(config),
        )
        fns["pre_cancel"] = function(
            "PreCancelFunction", "pre_cancel",
            "State machine (EXIT): cancel resting stops ahead of the exit second", broker=True,
        )
        fns["finalize"] = function("FinalizeFunction", "finalize", "State machine: execution status, 'Execution Completed'", broker=True)
        fns["stop_loss_checker"] = function("StopLossCheckerFunction", "stop_loss_checker", "Strategy-level MTM stop loss checks", broker=True)
        fns["duplicate_checker"] = function(
            "DuplicateCheckerFunction", "duplicate_checker", "Reconcile order intents with the broker's order book by tag", broker=True
        )
        fns["market_data_refresher"] = function(
            "MarketDataRefresherFunction", "market_data_refresher", "Instrument masters before the open, quotes cache",
            broker=True, memory_size=1024, timeout=Duration.minutes(5),
        )
        fns["order_poller"] = function("OrderPollerFunction", "order_poller", "Poll open orders' status and fills", broker=True)
        fns["archiver"] = function(
            "ArchiverFunction", "archiver", "After the close: executions/orders/positions to Parquet in S3",
            broker=False, memory_size=2048, timeout=Duration.minutes(15), reserved_concurrency=1,
        )
        self.functions = fns

        # Grants, least privilege per function.
        # (tests/infrastructure/test_grants.py runs every handler as deployed and checks each AWS
        # request it makes against these policies)
        table_rw = ("prepare", "pre_cancel", "resolve", "finalize", "place_orders", "stop_loss_checker", "duplicate_checker",
                    "market_data_refresher", "order_poller")
        for key in table_rw:
            table.grant_read_write_data(fns[key].function)
        for key in ("emitter", "archiver"):
            table.grant_read_data(fns[key].function)
        # The archiver Scans the day's items (in grant_read_data) and then sets their TTL.
        table.grant(fns["archiver"].function, "dynamodb:UpdateItem")
        # The emitter advances its durable slot marker and records a missed entry slot SKIPPED
        # (both conditional puts, issue 13 item 13); it changes nothing else.
        table.grant(fns["emitter"].function, "dynamodb:PutItem")
        broker_callers = ("prepare", "pre_cancel", "resolve", "place_orders", "finalize", "stop_loss_checker",
                          "duplicate_checker", "market_data_refresher", "order_poller")
        for key in broker_callers:
            broker_accounts_table.grant_read_data(fns[key].function)
            grant_broker_secrets(fns[key].function, self, config, secrets_key, write=False)
        # (PreCancel and Resolve publish an 'Order Alert' when an exit's resting stop cannot be
        # cancelled: exits.prepare_exit)
        for key in ("emitter", "pre_cancel", "resolve", "finalize", "stop_loss_checker", "duplicate_checker",
                    "place_orders"):
            self.bus.grant_put_events_to(fns[key].function)
        fns["archiver"].role.add_to_policy(
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[self.archive_bucket.arn_for_objects("archive/*")])
        )
        fns["market_data_refresher"].role.add_to_policy(
            iam.PolicyStatement(actions=["s3:PutObject", "s3:GetObject"], resources=[self.archive_bucket.arn_for_objects("instruments/*")])
        )
        # Every function built on engine_context() may load the day's masters (lazily, on first
        # use: Resolve, the order poller, the stop/MTM and duplicate checkers, Prepare's DTE check).
        for key in MASTER_READERS:
            fns[key].role.add_to_policy(
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[self.archive_bucket.arn_for_objects("instruments/*")])
            )
        for key in ("finalize", "stop_loss_checker", "duplicate_checker", "order_poller"):
            self.alerts_topic.grant_publish(fns[key].function)

        for key, fn in fns.items():
            acknowledge(
                fn,
                f"AwsSolutions-IAM5[Resource::{exports.export_name(config, exports.TABLE_ARN)}/index/*]",
                "Queries of the trading table's own GSIs (ExecutionSchedule for the emitter, "
                "AllocationsByStrategy, OrdersByTag); the wildcard covers only that table's indexes.",
            )
            if key in broker_callers:
                acknowledge(
                    fn,
                    f"AwsSolutions-IAM5[Resource::{exports.export_name(config, exports.BROKER_ACCOUNTS_TABLE_ARN)}/index/*]",
                    "Lookups by client_id on the broker accounts table's own index AccountsByClientId.",
                )
                acknowledge(
                    fn,
                    f"AwsSolutions-IAM5[Resource::{broker_secret_arn_pattern_token(self, config)}]",
                    "Broker API keys and daily session tokens are per-account secrets created at "
                    "runtime under the broker secret prefix; read-only and limited to that prefix.",
                )
        s3_reasons = {
            "archiver": ("archive/*", "The archiver writes one Parquet object per day and entity under archive/; write-only."),
            "market_data_refresher": ("instruments/*", "The daily instrument masters (one CSV per broker and day) live under instruments/."),
            **{key: ("instruments/*", "Reads the day's instrument masters (one object per broker and day) under "
                     "instruments/; read-only.") for key in MASTER_READERS},
        }
        for key, (prefix, reason) in s3_reasons.items():
            acknowledge(fns[key], f"AwsSolutions-IAM5[Resource::<{logical_id(self.archive_bucket)}.Arn>/{prefix}]", reason)

        # Async invocations (rule targets): a late emission is useless, failures go to the DLQ.
        for key in ("emitter", "stop_loss_checker", "duplicate_checker", "market_data_refresher", "order_poller", "archiver"):
            fns[key].function.configure_async_invoke(
                max_event_age=Duration.seconds(60) if key != "archiver" else Duration.hours(1),
                retry_attempts=0 if key != "archiver" else 2,
                on_failure=destinations.SqsDestination(self.dead_letter_queue.queue),
            )

        # The postback follow-ups (options-platform's public webhook records a verified update and
        # enqueues it): the order poller, in the VPC, reads the book and places the stop.
        follow_ups = sqs.Queue.from_queue_arn(self, "PostbackFollowUpQueue", imp(config, exports.POSTBACK_QUEUE_ARN))
        fns["order_poller"].function.add_event_source(event_sources.SqsEventSource(
            follow_ups, batch_size=10, max_batching_window=Duration.seconds(1)))

        # ---- the Express state machine ------------------------------------------------------
        self.state_machine = self._state_machine(fns, ee.map_max_concurrency)

        # ---- schedules and bus rules --------------------------------------------------------
        start = minus_minutes(SESSION_OPEN_IST, ee.lookahead_minutes)
        for i, cron in enumerate(minute_window_crons(start, SESSION_CLOSE_IST)):
            events.Rule(
                self,
                f"EmitterSchedule{i}",
                rule_name=config.resource_name(f"emitter-{i}"),
                description=f"Emitter every minute {start}-{SESSION_CLOSE_IST} IST, all days (handler checks the calendar)",
                schedule=events.Schedule.cron(week_day="*", **cron),
                targets=[self._lambda_target(fns["emitter"], Duration.seconds(60))],
            )
        self.execution_rule = events.Rule(
            self,
            "ExecutionDueRule",
            rule_name=config.resource_name("execution-due"),
            event_bus=self.bus,
            description="Strategy Execution Due -> Express state machine, input = $.detail",
            event_pattern=events.EventPattern(source=[EMITTER_SOURCE], detail_type=[DETAIL_EXECUTION_DUE]),
            targets=[
                targets.SfnStateMachine(
                    self.state_machine,
                    input=events.RuleTargetInput.from_event_path("$.detail"),
                    dead_letter_queue=self.dead_letter_queue.queue,
                    retry_attempts=2,
                    max_event_age=Duration.seconds(60),
                )
            ],
        )
        for cid, detail_types, key in (
            ("StopLossRule", [DETAIL_CHECK_STOP_LOSS], "stop_loss_checker"),
            ("DuplicateOrdersRule", [DETAIL_CHECK_DUPLICATES], "duplicate_checker"),
            ("MarketDataRule", [DETAIL_REFRESH_MARKET_DATA], "market_data_refresher"),
            ("OrderPollerRule", [DETAIL_POLL_ORDERS, DETAIL_EXECUTION_COMPLETED], "order_poller"),
        ):
            events.Rule(
                self,
                cid,
                rule_name=config.resource_name(key.replace("_", "-")),
                event_bus=self.bus,
                description=f"{', '.join(detail_types)} -> {key}",
                event_pattern=events.EventPattern(detail_type=detail_types),
                targets=[self._lambda_target(fns[key], Duration.seconds(60))],
            )
        events.Rule(
            self,
            "InstrumentsSchedule",
            rule_name=config.resource_name("instruments-refresh"),
            description=f"{INSTRUMENTS_REFRESH_TIME_IST} IST daily: instrument masters (handler checks the calendar)",
            schedule=daily_ist(INSTRUMENTS_REFRESH_TIME_IST, "*"),
            targets=[self._lambda_target(fns["market_data_refresher"], Duration.minutes(10))],
        )
        events.Rule(
            self,
            "ArchiverSchedule",
            rule_name=config.resource_name("archiver"),
            description=f"{ARCHIVE_TIME_IST} IST daily after the close: Parquet archive",
            schedule=daily_ist(ARCHIVE_TIME_IST, "*"),
            targets=[self._lambda_target(fns["archiver"], Duration.hours(1))],
        )

        # ---- trader notifications (issue 18): Order Alert -> queue -> notifier ------------------
        from cdk_stacks.constructs.notifications import Notifications

        self.notifications = Notifications(self, "Notifications", config=config, package=package, bus=self.bus,
                                           table=table, secrets_key=secrets_key, alerts_topic=self.alerts_topic)

        # ---- monitoring ---------------------------------------------------------------------
        if config.settings.enable_monitoring:
            self._dashboard(fns)
        if config.settings.enable_alarms:
            self._alarms(fns)

    # ---- builders ----------------------------------------------------------------------------

    def _lambda_target(self, fn: PythonFunction, max_age: Duration) -> targets.LambdaFunction:
        return targets.LambdaFunction(
            fn.function, dead_letter_queue=self.dead_letter_queue.queue, retry_attempts=2, max_event_age=max_age
        )

    def _state_machine(self, fns: dict[str, PythonFunction], max_concurrency: int) -> sfn.StateMachine:
        """AddRunId -> MergeRunId -> Prepare -> AnythingClaimed -> Resolved?
        ENTRY (resolved in Prepare): WaitUntilSend -> Map(PlaceOrders) -> Finalize;
        EXIT: [Wait cancel_at -> PreCancel] -> WaitUntil -> Resolve -> Map -> Finalize (EXPRESS).
        Both Waits end at execute_at - send_lead_seconds (Prepare's wait_until)."""
        config = self.config
        # Prepare's claim is keyed on the run: a retried Prepare inside the same run presents the
        # same run_id. The input ($.detail of the event) gets run_id = $$.Execution.Id first.
        with_run_id = sfn.Pass(
            self, "AddRunId", comment="the event detail and run_id = $$.Execution.Id, side by side",
            parameters={"detail.$": "$", "run": {"run_id.$": "$$.Execution.Id"}},
        )
        merge_run_id = sfn.Pass(
            self, "MergeRunId", comment="Prepare's payload: exactly the detail fields plus run_id at the top level",
            parameters={"merged.$": "States.JsonMerge($.detail, $.run, false)"}, output_path="$.merged",
        )
        prepare = tasks.LambdaInvoke(
            self, "Prepare", lambda_function=fns["prepare"].invoke_target, payload_response_only=True,
            retry_on_service_exceptions=False,
            comment="Load strategies, legs, allocations; claim each execution (conditional put); ENTRY: resolve "
                    "contracts, quantities, slices and store the intents now, before the Wait",
        )
        # Bounded retries (CDK's default, 6 attempts from 2 s doubling, waits ~2 minutes): Prepare
        # runs ~lookahead before execute_at and its claim is keyed on the run, so a retry is safe;
        # at most PREPARE_RETRY_SECONDS of waiting.
        prepare.add_retry(errors=[*LAMBDA_SERVICE_ERRORS, THROTTLED], interval=Duration.seconds(1),
                          max_attempts=2, backoff_rate=2)
        nothing = sfn.Succeed(self, "NothingToDo", comment="nothing to do: every execution already claimed")
        wait = sfn.Wait(
            self, "WaitUntil", time=sfn.WaitTime.timestamp_path("$.wait_until"),
            comment="EXIT: execute_at - send_lead_seconds (Wait has 1-second granularity), then Resolve",
        )
        wait_send = sfn.Wait(
            self, "WaitUntilSend", time=sfn.WaitTime.timestamp_path("$.wait_until"),
            comment="ENTRY (resolved in Prepare): execute_at - send_lead_seconds; PlaceOrders starts cold here and "
                    "sleeps warm to the second",
        )
        resolve = tasks.LambdaInvoke(
            self, "Resolve", lambda_function=fns["resolve"].invoke_target, payload_response_only=True,
            retry_on_service_exceptions=False,
            comment="Contracts, quantities, slices; intents persisted; one small work item per (execution, account)",
        )
        # EXIT's Resolve runs inside the lead before execute_at: one retry after 1 s, no more.
        resolve.add_retry(errors=[*LAMBDA_SERVICE_ERRORS, THROTTLED], interval=Duration.seconds(1),
                          max_attempts=1, backoff_rate=1)
        place = tasks.LambdaInvoke(
            self, "PlaceOrders", lambda_function=fns["place_orders"].invoke_target, payload_response_only=True,
            retry_on_service_exceptions=False,
            comment="Retried ONLY when the invoke was throttled (the handler never ran; intents de-duplicate); "
                    "any other error is caught into the item's result",
        )
        # A throttled invoke never ran the handler; the retry sends only intents whose send never
        # began and only within the lateness limit. Service errors are NOT retried (the handler may
        # have sent): they are caught and Finalize marks what stayed PENDING as NOT_SENT.
        place.add_retry(errors=[THROTTLED], interval=Duration.seconds(1), max_attempts=PLACE_THROTTLE_RETRIES,
                        backoff_rate=1, max_delay=Duration.seconds(1))
        place.add_catch(
            sfn.Pass(self, "PlacementFailed", comment="the error travels in the item's result to Finalize"),
            errors=["States.ALL"],
            result_path="$.error",
        )
        per_account = sfn.Map(
            self, "PlacePerAccount", items_path="$.work_items", max_concurrency=max_concurrency,
            result_path="$.placements", comment="One branch per (execution, broker account)",
        )
        per_account.item_processor(place)
        finalize = tasks.LambdaInvoke(
            self, "Finalize", lambda_function=fns["finalize"].invoke_target, payload_response_only=True,
            retry_on_service_exceptions=False,
            comment="Leftover intents NOT_SENT; COMPLETED / PARTIAL / FAILED, alerts and 'Execution Completed'",
        )
        finalize.add_retry(errors=[*LAMBDA_SERVICE_ERRORS, THROTTLED], interval=Duration.seconds(1),
                           max_attempts=3, backoff_rate=2)
        # EXIT: the resting stops are cancelled ahead of the second (Prepare sets cancel_at), so
        # the closing orders leave on it (issue 21 item 3); entries go straight to the Wait
        wait_cancel = sfn.Wait(
            self, "WaitUntilCancel", time=sfn.WaitTime.timestamp_path("$.cancel_at"),
            comment="EXIT only: the pre-cancel instant, ahead of the exit second",
        )
        pre_cancel = tasks.LambdaInvoke(
            self, "PreCancel", lambda_function=fns["pre_cancel"].invoke_target, payload_response_only=True,
            retry_on_service_exceptions=False,
            comment="Cancel the exit's resting stop-loss/target orders; learn stops that filled meanwhile",
        )
        pre_cancel.add_retry(errors=[*LAMBDA_SERVICE_ERRORS, THROTTLED], interval=Duration.seconds(1),
                             max_attempts=1, backoff_rate=1)
        per_account.next(finalize)
        to_send = wait.next(resolve).next(per_account)
        definition = with_run_id.next(merge_run_id).next(prepare).next(
            sfn.Choice(self, "AnythingClaimed")
            .when(sfn.Condition.number_equals("$.claimed_count", 0), nothing)
            .otherwise(
                sfn.Choice(self, "Resolved")
                .when(sfn.Condition.is_present("$.work_items"), wait_send.next(per_account))
                .otherwise(
                    sfn.Choice(self, "ExitPreCancel")
                    .when(sfn.Condition.is_present("$.cancel_at"), wait_cancel.next(pre_cancel).next(to_send))
                    .otherwise(to_send)
                )
            )
        )
        log_group = logs.LogGroup(
            self,
            "StateMachineLogs",
            log_group_name=f"/aws/vendedlogs/states/{config.resource_name('execution')}",
            retention=logs.RetentionDays.THREE_MONTHS if config.retain else logs.RetentionDays.ONE_WEEK,
            removal_policy=RemovalPolicy.RETAIN if config.retain else RemovalPolicy.DESTROY,
        )
        machine = sfn.StateMachine(
            self,
            "ExecutionStateMachine",
            state_machine_name=config.resource_name("execution"),
            state_machine_type=sfn.StateMachineType.EXPRESS,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.minutes(5),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        for key in ("prepare", "pre_cancel", "resolve", "place_orders", "finalize"):
            acknowledge(
                machine,
                f"AwsSolutions-IAM5[Resource::<{logical_id(fns[key].function)}.Arn>:*]",
                f"Step Functions invokes the {key} function by ARN and by any version/alias "
                "qualifier (CDK's LambdaInvoke grant); limited to that one function.",
            )
        acknowledge(
            machine,
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs delivery (logs:CreateLogDelivery, ...) and X-Ray for the state "
            "machine support no resource-level permissions.",
        )
        return machine

    def _search(self, metric_name: str, label: str, stat: str = "Sum") -> cloudwatch.MathExpression:
        """SEARCH one engine metric by name in the namespace, whatever its dimensions."""
        expression = f"Namespace=\"{POWERTOOLS_NAMESPACE}\" MetricName=\"{metric_name}\""
        return cloudwatch.MathExpression(
            expression=f"SEARCH('{expression}', '{stat}', 60)", label=label, period=Duration.minutes(1),
            using_metrics={},
        )

    def _dashboard(self, fns: dict[str, PythonFunction]) -> None:
        sm = self.state_machine
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=self.config.resource_name("execution-engine"),
            default_interval=Duration.hours(8),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Executions finished (Finalize)",
                left=[self._search(METRIC_EXECUTIONS, "")],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Strategies due per emitter tick",
                left=[self._search(METRIC_STRATEGIES_DUE, "")],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Order lag after execute_at (ms)",
                left=[
                    self._search(METRIC_LAG_MS, "p50", "p50"),
                    self._search(METRIC_LAG_MS, "p99", "p99"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="State machine",
                left=[sm.metric_started(), sm.metric_succeeded(), sm.metric_failed(), sm.metric_timed_out()],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Lambda errors",
                left=[fn.function.metric_errors(label=key, period=Duration.minutes(1)) for key, fn in fns.items()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Lambda p99 duration",
                left=[fn.function.metric_duration(label=key, statistic="p99") for key, fn in fns.items()],
                width=12,
            ),
        )

    def _alarms(self, fns: dict[str, PythonFunction]) -> None:
        action = cw_actions.SnsAction(self.alerts_topic)
        name = self.config.resource_name

        def alarm(cid: str, metric: cloudwatch.IMetric, threshold: float, description: str) -> None:
            a = cloudwatch.Alarm(
                self, cid, alarm_name=name(cid.lower()), metric=metric, threshold=threshold,
                evaluation_periods=1, alarm_description=description,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            a.add_alarm_action(action)

        alarm("ExecutionsFailed", self.state_machine.metric_failed(period=Duration.minutes(1)), 1,
              "An execution state machine run failed (orders may be missing)")
        alarm("ExecutionsTimedOut", self.state_machine.metric_timed_out(period=Duration.minutes(1)), 1,
              "An execution state machine run timed out")
        for key in ("emitter", "place_orders", "finalize", "stop_loss_checker"):
            alarm(f"{key.replace('_', '-')}-errors".title().replace("-", ""),
                  fns[key].function.metric_errors(period=Duration.minutes(1)), 1,
                  f"{key} raised an error during the session")
        alarm("OrderLag", cloudwatch.Metric(
            namespace=POWERTOOLS_NAMESPACE, metric_name=METRIC_LAG_MS, statistic="p99",
            period=Duration.minutes(1), dimensions_map={"service": "execution-engine"},
        ), 1000, "Orders are sent more than 1 s after execute_at (p99)")
