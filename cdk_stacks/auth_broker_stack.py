"""Stack 1, ``ql-algo-trading-{env}-auth-broker-stack``: who the users are and how the platform
reaches their brokers.

Cognito user pool (groups ADMIN, TRADER), the broker accounts table, the KMS key that encrypts
the per-account Secrets Manager secrets (``ql-algo-trading-{env}/broker/...``, created at
runtime), the alerts topic, the broker Lambdas (accounts API with the daily login, the Zerodha
callback, the pre-open session refresh and health check), the ``/profile`` Lambda (Cognito
attributes) and, when ``auth_broker.enable_static_egress_ip``,
the VPC whose NAT gateway has the Elastic IP each broker must whitelist.

The REST API itself lives in the options-platform stack (one API for all route families); it
builds its Cognito authorizer on this pool and routes ``/broker-accounts...`` to the functions
exported here.
"""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from constructs import Construct

from cdk_stacks import exports
from cdk_stacks.constructs.dead_letter_queue import DeadLetterQueue
from cdk_stacks.constructs.egress_proxy import EgressProxy, GroupSpec, planned_routing
from cdk_stacks.constructs.python_function import LambdaPackage, PythonFunction
from cdk_stacks.constructs.tables import table_from_request
from cdk_stacks.nag import acknowledge, finding_value, logical_id
from cdk_stacks.schedules import daily_ist
from shared_utils.config import EnvironmentConfig
from shared_utils.persistence import table_schema

USER_GROUPS = ("ADMIN", "TRADER")


def egress_group_specs(config: EnvironmentConfig) -> list[GroupSpec]:
    """The egress groups declared for this environment (config/egress.json); none without static egress."""
    from shared_utils.egress import declared_groups

    if not config.settings.auth_broker.enable_static_egress_ip:
        return []
    return [GroupSpec(name=name, users=tuple(spec.get("users") or ()), ip_since=spec.get("ip_since"))
            for name, spec in sorted(declared_groups(config.name).items())]


def egress_routing_env(config: EnvironmentConfig) -> dict[str, str]:
    """``QL_EGRESS_GROUPS`` for broker-calling functions of OTHER stacks (no EIP tokens: the
    proxy's addresses are fixed by the VPC layout), {} when no group is declared."""
    groups = egress_group_specs(config)
    return {"QL_EGRESS_GROUPS": json.dumps(planned_routing(groups))} if groups else {}


def broker_secret_prefix(config: EnvironmentConfig) -> str:
    """Name prefix of the per-account broker secrets: ``ql-algo-trading-{env}/broker/``."""
    return f"{config.prefix}/broker/"


def broker_secret_arn_pattern(stack: Stack, config: EnvironmentConfig) -> str:
    """IAM resource pattern matching every broker secret of this environment."""
    return stack.format_arn(
        service="secretsmanager",
        resource="secret",
        resource_name=f"{broker_secret_prefix(config)}*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def checksum_secret_arn_pattern(stack: Stack, config: EnvironmentConfig) -> str:
    """IAM resource pattern of the per-account postback checksum secrets (the Kite api_secret
    alone, :mod:`shared_utils.accounts.checksum_secrets`)."""
    from shared_utils.accounts.checksum_secrets import checksum_secret_prefix

    return stack.format_arn(
        service="secretsmanager",
        resource="secret",
        resource_name=f"{checksum_secret_prefix(config.prefix)}*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def grant_broker_secrets(
    grantee: iam.IGrantable, stack: Stack, config: EnvironmentConfig, key: kms.IKey, *, write: bool
) -> None:
    """Read (and with ``write``, create/update/delete) the broker secrets by name prefix, and
    use the broker secrets KMS key for them."""
    actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    if write:
        actions += [
            "secretsmanager:CreateSecret",
            "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:TagResource",
        ]
    resources = [broker_secret_arn_pattern(stack, config)]
    if write:
        # writers keep each Zerodha account's checksum secret in step (BrokerSecretStore)
        resources.append(checksum_secret_arn_pattern(stack, config))
    grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))
    if write:
        key.grant_encrypt_decrypt(grantee)
    else:
        key.grant_decrypt(grantee)


class AuthBrokerStack(Stack):
    """Users, broker accounts, broker secrets, alerts and the static egress IP (see module doc)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        removal = RemovalPolicy.RETAIN if config.retain else RemovalPolicy.DESTROY
        ab = config.settings.auth_broker

        # ---- users -------------------------------------------------------------------------
        plus_tier = config.retain  # staging, production
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=config.resource_name("users"),
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            self_sign_up_enabled=True,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True),
                fullname=cognito.StandardAttribute(required=False, mutable=True),
                phone_number=cognito.StandardAttribute(required=False, mutable=True),
            ),
            custom_attributes={"state": cognito.StringAttribute(min_len=2, max_len=64, mutable=True)},
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            # MFA OPTIONAL with software tokens (TOTP) only: a trader may use the platform in
            # PAPER without MFA; LIVE actions (switch to LIVE, raising size on a LIVE account,
            # manual LIVE entries) are refused with 403 until the user has enabled TOTP
            # (shared_utils.accounts.mfa checks UserMFASettingList per request). Once enabled,
            # Cognito challenges for the code at every sign-in. No SMS (SIM-swap risk, cost).
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS if plus_tier else cognito.FeaturePlan.ESSENTIALS,
            standard_threat_protection_mode=(
                cognito.StandardThreatProtectionMode.FULL_FUNCTION if plus_tier else None
            ),
            deletion_protection=config.retain,
            removal_policy=removal,
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG2",
            "MFA is OPTIONAL (TOTP only) by product decision: traders enrol an authenticator app "
            "from their profile; broker logins carry their own TOTP. Making it REQUIRED is a "
            "one-line change once onboarding supports enrolment at sign-up.",
        )
        if not plus_tier:
            acknowledge(
                self.user_pool,
                "AwsSolutions-COG8",
                f"{config.name} holds test users only: the PLUS feature plan (threat protection) "
                "is billed per MAU and is enabled in staging and production, where real traders sign in.",
            )
        for precedence, group in enumerate(USER_GROUPS):
            cognito.CfnUserPoolGroup(
                self,
                f"Group{group.capitalize()}",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=group,
                precedence=precedence,
                description=f"{group} users of the options platform",
            )
        self.user_pool_client = self.user_pool.add_client(
            "WebClient",
            user_pool_client_name=config.resource_name("web"),
            auth_flows=cognito.AuthFlow(user_srp=True),
            generate_secret=False,
            disable_o_auth=True,
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
        )

        # ---- broker accounts, secrets key, alerts -------------------------------------------
        self.broker_accounts_table = table_from_request(
            self,
            "BrokerAccountsTable",
            table_schema.broker_accounts_create_table_kwargs(config.broker_accounts_table_name),
            retain=config.retain,
        )
        self.broker_secrets_key = kms.Key(
            self,
            "BrokerSecretsKey",
            alias=f"alias/{config.prefix}/broker-secrets",
            description="Encrypts the per-account broker credential and session secrets",
            enable_key_rotation=True,
            pending_window=Duration.days(7 if not config.retain else 30),
            removal_policy=removal,
        )
        self.alerts_key = kms.Key(
            self,
            "AlertsKey",
            alias=f"alias/{config.prefix}/alerts",
            description="Encrypts the alerts topic; CloudWatch alarms may use it to publish",
            enable_key_rotation=True,
            pending_window=Duration.days(7),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.alerts_key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        self.alerts_topic = sns.Topic(
            self,
            "AlertsTopic",
            topic_name=config.resource_name("alerts"),
            display_name=f"{config.prefix} alerts",
            master_key=self.alerts_key,
            enforce_ssl=True,
        )

        # ---- static egress IP ---------------------------------------------------------------
        self.vpc: ec2.Vpc | None = None
        self.egress_proxy: EgressProxy | None = None
        self.egress_ips: list[ec2.CfnEIP] = []
        self.broker_security_group: ec2.SecurityGroup | None = None
        if ab.enable_static_egress_ip:
            self._build_vpc(ab.nat_gateways)

        # ---- broker Lambdas -----------------------------------------------------------------
        package = LambdaPackage(self, "LambdaPackage", config=config)
        self.dead_letter_queue = DeadLetterQueue(
            self, "TargetsDlq", config=config, name="auth-broker-dlq", alerts_topic=self.alerts_topic
        )
        common_env = {
            "BROKER_ACCOUNTS_TABLE_NAME": self.broker_accounts_table.table_name,
            "BROKER_SECRET_PREFIX": broker_secret_prefix(config),
            "BROKER_SECRETS_KMS_KEY_ARN": self.broker_secrets_key.key_arn,
            "ALERTS_TOPIC_ARN": self.alerts_topic.topic_arn,
            "USER_POOL_ID": self.user_pool.user_pool_id,
            "TABLE_NAME": config.table_name,
        }
        if self.vpc is not None:  # static egress: a broker call without a routing table is refused
            common_env["QL_EGRESS_REQUIRED"] = "1"
        if self.egress_proxy is not None:  # every broker call routes by the trader's group
            common_env["QL_EGRESS_GROUPS"] = self.to_json_string(self.egress_proxy.routing_env())
        vpc_props = self.function_vpc_props()

        def function(cid: str, name: str, module: str, description: str, **extra) -> PythonFunction:
            return PythonFunction(
                self,
                cid,
                package=package,
                name=name,
                handler=f"lambda_functions.auth_broker.{module}.handler",
                service="auth-broker",
                description=description,
                environment=common_env,
                broker=True,
                **vpc_props,
                **extra,
            )

        self.broker_accounts_fn = function(
            "BrokerAccountsFunction", "broker-accounts", "broker_accounts",
            "REST /broker-accounts: add, list, update, remove a trader's broker accounts; POST .../login",
        )
        self.broker_sessions_fn = function(
            "BrokerSessionsFunction", "broker-sessions", "broker_sessions",
            "Public GET /broker-sessions/zerodha/callback: Kite's OAuth redirect (POST .../login is broker-accounts')",
        )
        self.session_refresh_fn = function(
            "SessionRefreshFunction", "session-refresh", "session_refresh",
            "Before the open: refresh every LIVE account's daily broker session (TOTP logins)",
            timeout=Duration.minutes(5), reserved_concurrency=1,
        )
        self.session_daily_fn = function(
            "SessionDailyFunction", "session-daily", "session_daily",
            "Daily sessions: login reminders before the open, forced broker logout at 15:45 IST",
            timeout=Duration.minutes(5), reserved_concurrency=1,
        )
        self.health_check_fn = function(
            "HealthCheckFunction", "health-check", "health_check",
            "Before the open: check every account's session, margins and the broker APIs; alert",
            timeout=Duration.minutes(5), reserved_concurrency=1,
        )

        # MFA for live trading: PUT /broker-accounts/{id} to LIVE checks the caller's TOTP MFA
        # (AdminGetUser UserMFASettingList; shared_utils.accounts.mfa).
        self.broker_accounts_fn.role.add_to_policy(iam.PolicyStatement(
            actions=["cognito-idp:AdminGetUser"], resources=[self.user_pool.user_pool_arn]))

        # /profile reads and writes the trader's Cognito attributes; it calls no broker (no VPC).
        self.profile_fn = PythonFunction(
            self,
            "ProfileFunction",
            package=package,
            name="profile",
            handler="lambda_functions.auth_broker.profile.handler",
            service="auth-broker",
            description="REST GET/PUT /profile: the trader's name, mobile and state on the Cognito user",
            environment={"USER_POOL_ID": self.user_pool.user_pool_id},
        )
        self.profile_fn.role.add_to_policy(
            iam.PolicyStatement(
                actions=["cognito-idp:AdminGetUser", "cognito-idp:AdminUpdateUserAttributes"],
                resources=[self.user_pool.user_pool_arn],
            )
        )

        self.broker_accounts_table.grant_read_write_data(self.broker_accounts_fn.function)
        self.broker_accounts_table.grant_read_write_data(self.broker_sessions_fn.function)
        self.broker_accounts_table.grant_read_write_data(self.session_refresh_fn.function)
        self.broker_accounts_table.grant_read_data(self.health_check_fn.function)
        self.broker_accounts_table.grant_read_write_data(self.session_daily_fn.function)
        # login reminders reach each trader: an email subscription per trader filtered on the
        # message attribute user_id (SessionService.login_reminders)
        self.login_reminders_topic = sns.Topic(
            self, "LoginRemindersTopic", topic_name=config.resource_name("login-reminders"),
            display_name=f"{config.prefix} broker login reminders", master_key=self.alerts_key, enforce_ssl=True)
        self.login_reminders_topic.grant_publish(self.session_daily_fn.function)
        self.session_daily_fn.function.add_environment("LOGIN_REMINDERS_TOPIC_ARN", self.login_reminders_topic.topic_arn)
        # a trader switching an account to LIVE is subscribed (email, filtered on user_id)
        self.broker_accounts_fn.function.add_environment("LOGIN_REMINDERS_TOPIC_ARN", self.login_reminders_topic.topic_arn)
        self.broker_accounts_fn.role.add_to_policy(iam.PolicyStatement(
            actions=["sns:Subscribe", "sns:ListSubscriptionsByTopic", "sns:GetSubscriptionAttributes"],
            resources=[self.login_reminders_topic.topic_arn]))
        self.alerts_topic.grant_publish(self.session_daily_fn.function)
        for fn in (self.broker_accounts_fn, self.broker_sessions_fn, self.session_refresh_fn, self.session_daily_fn):
            grant_broker_secrets(fn.function, self, config, self.broker_secrets_key, write=True)
        grant_broker_secrets(self.health_check_fn.function, self, config, self.broker_secrets_key, write=False)
        # the pre-open check tells each trader which account lacks a session (issue 18 notifications)
        from cdk_stacks.constructs.notifications import grant_enqueue

        grant_enqueue(self.health_check_fn, self, config)
        for fn in (self.session_refresh_fn, self.health_check_fn):
            self.alerts_topic.grant_publish(fn.function)
        # Both walk every account with a Scan of the broker accounts table (the grants above
        # include dynamodb:Scan); the health check also reads each trader's schedules and
        # allocations from the single table, which the options-platform stack creates after
        # this one: granted by its configured name (no import, no dependency cycle).
        trading_table_arn = self.format_arn(service="dynamodb", resource="table", resource_name=config.table_name)
        self.health_check_fn.role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan",
                         "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"],
                resources=[trading_table_arn, f"{trading_table_arn}/index/*"],
            )
        )
        acknowledge(
            self.health_check_fn,
            f"AwsSolutions-IAM5[Resource::{finding_value(self, trading_table_arn)}/index/*]",
            "Read-only queries of the trading table's own GSIs (AllocationsByStrategy) for the "
            "pre-open check of each trader's allocations; limited to that table's indexes.",
        )
        for fn in (self.broker_accounts_fn, self.broker_sessions_fn, self.session_refresh_fn, self.health_check_fn,
                   self.session_daily_fn):
            acknowledge(
                fn,
                f"AwsSolutions-IAM5[Resource::{broker_secret_arn_pattern_token(self, config)}]",
                "Broker secrets are created at runtime, one per broker account, under the name "
                f"prefix {broker_secret_prefix(config)}; the grant is limited to that prefix.",
            )
            if fn is not self.health_check_fn:
                acknowledge(
                    fn,
                    f"AwsSolutions-IAM5[Resource::{checksum_secret_arn_pattern_token(self, config)}]",
                    "Each Zerodha account's postback checksum secret (its api_secret alone) is "
                    "written with the account's broker secret, under its own name prefix.",
                )
            acknowledge(
                fn,
                f"AwsSolutions-IAM5[Resource::<{logical_id(self.broker_accounts_table)}.Arn>/index/*]",
                "Queries of the broker accounts table's own index AccountsByClientId; the "
                "wildcard covers only this table's indexes.",
            )
            acknowledge(
                fn,
                "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                "Secrets Manager envelope-encrypts with the broker secrets key "
                "(GenerateDataKey/GenerateDataKeyWithoutPlaintext); limited to that one key.",
            )
            acknowledge(
                fn,
                "AwsSolutions-IAM5[Action::kms:ReEncrypt*]",
                "CDK's encrypt/decrypt grant on the broker secrets key, used by Secrets Manager "
                "when a secret is rotated; limited to that one key.",
            )

        self.session_refresh_rule = events.Rule(
            self,
            "SessionRefreshSchedule",
            rule_name=config.resource_name("session-refresh"),
            description=f"{ab.session_refresh_time_ist} IST MON-FRI; the handler skips holidays",
            schedule=daily_ist(ab.session_refresh_time_ist),
            targets=[self._target(self.session_refresh_fn)],
        )
        for action, at in (("remind", ab.login_reminder_time_ist), ("logout", ab.session_logout_time_ist)):
            events.Rule(
                self,
                f"Session{action.capitalize()}Schedule",
                rule_name=config.resource_name(f"session-{action}"),
                description=f"{at} IST MON-FRI: daily session {action} (holidays skipped by the handler)",
                schedule=daily_ist(at),
                targets=[targets.LambdaFunction(
                    self.session_daily_fn.function, event=events.RuleTargetInput.from_object({"detail": {"action": action}}),
                    dead_letter_queue=self.dead_letter_queue.queue, retry_attempts=2, max_event_age=Duration.minutes(10))],
            )
        self.health_check_rule = events.Rule(
            self,
            "HealthCheckSchedule",
            rule_name=config.resource_name("health-check"),
            description=f"{ab.health_check_time_ist} IST MON-FRI; the handler skips holidays",
            schedule=daily_ist(ab.health_check_time_ist),
            targets=[self._target(self.health_check_fn)],
        )

        # ---- exports ------------------------------------------------------------------------
        e = exports
        e.export(self, config, e.USER_POOL_ID, self.user_pool.user_pool_id, "Cognito user pool id")
        e.export(self, config, e.USER_POOL_ARN, self.user_pool.user_pool_arn, "Cognito user pool ARN")
        e.export(self, config, e.USER_POOL_CLIENT_ID, self.user_pool_client.user_pool_client_id, "Web app client id")
        e.export(self, config, e.BROKER_ACCOUNTS_TABLE_NAME, self.broker_accounts_table.table_name, "Broker accounts table")
        e.export(self, config, e.BROKER_ACCOUNTS_TABLE_ARN, self.broker_accounts_table.table_arn, "Broker accounts table ARN")
        e.export(self, config, e.ALERTS_TOPIC_ARN, self.alerts_topic.topic_arn, "Alerts SNS topic")
        e.export(self, config, e.BROKER_SECRETS_KEY_ARN, self.broker_secrets_key.key_arn, "Broker secrets KMS key")
        e.export(self, config, e.BROKER_ACCOUNTS_FUNCTION_ARN, self.broker_accounts_fn.function_arn, "Broker accounts API Lambda")
        e.export(self, config, e.BROKER_SESSIONS_FUNCTION_ARN, self.broker_sessions_fn.function_arn, "Zerodha OAuth callback Lambda")
        e.export(self, config, e.PROFILE_FUNCTION_ARN, self.profile_fn.function_arn, "Profile API Lambda")
        if self.vpc is not None:
            e.export(self, config, e.VPC_ID, self.vpc.vpc_id, "VPC of the broker-calling Lambdas")
            for i, subnet in enumerate(self.vpc.private_subnets):
                e.export(self, config, f"{e.PRIVATE_SUBNET_IDS}-{i}", subnet.subnet_id, f"Private subnet {i} (NAT egress)")
            for i, eip in enumerate(self.egress_ips):
                key = e.EGRESS_IP if i == 0 else f"{e.EGRESS_IP}-{i}"
                e.export(self, config, key, eip.attr_public_ip, "Static egress IP: register it with every broker")

    # ---- helpers ---------------------------------------------------------------------------

    def _target(self, fn: PythonFunction) -> targets.LambdaFunction:
        return targets.LambdaFunction(
            fn.function,
            dead_letter_queue=self.dead_letter_queue.queue,
            retry_attempts=2,
            max_event_age=Duration.minutes(10),
        )

    def function_vpc_props(self) -> dict:
        """``vpc``/``security_groups`` for broker-calling functions (empty without static egress)."""
        if self.vpc is None:
            return {}
        return {"vpc": self.vpc, "security_groups": [self.broker_security_group]}

    def _build_vpc(self, nat_gateways: int) -> None:
        config = self.config
        if nat_gateways < 1:
            raise ValueError(f"{config.name}: enable_static_egress_ip needs nat_gateways >= 1")
        self.egress_ips = [
            ec2.CfnEIP(self, f"EgressIp{i}", domain="vpc", tags=[{"key": "Name", "value": config.resource_name(f"egress-{i}")}])
            for i in range(nat_gateways)
        ]
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            vpc_name=config.resource_name("vpc"),
            ip_addresses=ec2.IpAddresses.cidr("10.40.0.0/16"),
            max_azs=2,
            nat_gateways=nat_gateways,
            nat_gateway_provider=ec2.NatProvider.gateway(
                eip_allocation_ids=[eip.attr_allocation_id for eip in self.egress_ips]
            ),
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=20),
            ],
            restrict_default_security_group=True,
            gateway_endpoints={
                "DynamoDb": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
            },
        )
        flow_logs = logs.LogGroup(
            self,
            "VpcFlowLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        self.broker_security_group = ec2.SecurityGroup(
            self,
            "BrokerEgressSg",
            vpc=self.vpc,
            security_group_name=config.resource_name("broker-egress"),
            description="Broker-calling Lambdas: HTTPS out through the static-IP NAT gateway, nothing in",
            allow_all_outbound=False,
        )
        self.broker_security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to broker APIs and AWS")
        # egress per trader (issue 16): one Elastic IP per declared group on a Squid proxy
        groups = egress_group_specs(config)
        if groups:
            self.egress_proxy = EgressProxy(self, "EgressProxy", vpc=self.vpc, groups=groups, name_prefix=config.prefix)
            self.egress_proxy.client_rule(self.broker_security_group)


def availability_zones(config: EnvironmentConfig) -> list[str]:
    """The static-egress VPC's two AZs, as the same ``Fn::GetAZs`` selections the VPC uses
    (the stacks are account-agnostic, so no AZ lookup and no hard-coded AZ names)."""
    del config  # same region for every stack of the app
    return [Fn.select(0, Fn.get_azs()), Fn.select(1, Fn.get_azs())]


def broker_secret_arn_pattern_token(stack: Stack, config: EnvironmentConfig) -> str:
    """How cdk-nag prints :func:`broker_secret_arn_pattern` in an IAM5 finding id."""
    return finding_value(stack, broker_secret_arn_pattern(stack, config))


def checksum_secret_arn_pattern_token(stack: Stack, config: EnvironmentConfig) -> str:
    """How cdk-nag prints :func:`checksum_secret_arn_pattern` in an IAM5 finding id."""
    return finding_value(stack, checksum_secret_arn_pattern(stack, config))
