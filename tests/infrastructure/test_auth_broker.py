"""auth-broker: users, broker accounts, secrets key, alerts, schedules, static egress IP."""

from __future__ import annotations

from aws_cdk.assertions import Match

from shared_utils.persistence import table_schema as ts
from tests.infrastructure.helpers import ours

STACK = "auth-broker"


def test_user_pool_email_sign_in_password_policy_optional_totp(any_env):
    any_env.template(STACK).has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "UserPoolName": f"ql-algo-trading-{any_env.env}-users",
            "UsernameAttributes": ["email"],
            "MfaConfiguration": "OPTIONAL",
            "EnabledMfas": ["SOFTWARE_TOKEN_MFA"],
            "Policies": {"PasswordPolicy": Match.object_like({
                "MinimumLength": 12, "RequireLowercase": True, "RequireUppercase": True,
                "RequireNumbers": True, "RequireSymbols": True})},
            "Schema": Match.array_with([
                Match.object_like({"Name": "name", "Mutable": True}),
                Match.object_like({"Name": "phone_number", "Mutable": True}),
                Match.object_like({"Name": "state", "AttributeDataType": "String", "Mutable": True}),
            ]),
        },
    )


def test_plus_tier_where_real_traders_sign_in(dev, production):
    dev.template(STACK).has_resource_properties("AWS::Cognito::UserPool", {"UserPoolTier": "ESSENTIALS"})
    production.template(STACK).has_resource_properties("AWS::Cognito::UserPool", {"UserPoolTier": "PLUS"})


def test_groups_admin_and_trader(any_env):
    groups = {r["Properties"]["GroupName"] for r in any_env.resources(STACK, "AWS::Cognito::UserPoolGroup").values()}
    assert groups == {"ADMIN", "TRADER"}


def test_app_client_srp_refresh_no_secret_no_hosted_ui(any_env):
    clients = list(any_env.resources(STACK, "AWS::Cognito::UserPoolClient").values())
    assert len(clients) == 1
    props = clients[0]["Properties"]
    assert props["GenerateSecret"] is False
    assert set(props["ExplicitAuthFlows"]) == {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
    assert "AllowedOAuthFlows" not in props and "CallbackURLs" not in props


def test_broker_accounts_table_from_table_schema(any_env):
    request = ts.broker_accounts_create_table_kwargs(f"ql-algo-trading-{any_env.env}-broker-accounts")
    any_env.template(STACK).has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": request["TableName"],
            "KeySchema": request["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "GlobalSecondaryIndexes": [{
                "IndexName": ts.BROKER_ACCOUNTS_BY_CLIENT.name,
                "KeySchema": [{"AttributeName": ts.BROKER_ACCOUNTS_SORT_KEY, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }],
        },
    )
    assert ts.BROKER_ACCOUNTS_PARTITION_KEY == "user_id" and ts.BROKER_ACCOUNTS_SORT_KEY == "client_id"


def test_secrets_key_rotates_and_grants_are_by_prefix(dev):
    template = dev.template(STACK)
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True, "Description": Match.string_like_regexp("broker credential")})
    statements = [
        st for policy in dev.resources(STACK, "AWS::IAM::Policy").values()
        for st in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(str(a).startswith("secretsmanager:") for a in st["Action"])
    ]
    assert statements
    for st in statements:
        assert "secretsmanager:GetSecretValue" in st["Action"]
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        tails = [r["Fn::Join"][1][-1] for r in resources]
        assert tails[0].endswith(":secret:ql-algo-trading-dev/broker/*")
        # writers also keep each account's postback checksum secret (its own prefix)
        assert all(t.endswith((":secret:ql-algo-trading-dev/broker/*", ":secret:ql-algo-trading-dev/postback-checksum/*"))
                   for t in tails)
        if "secretsmanager:CreateSecret" in st["Action"]:
            assert len(tails) == 2
    assert any("secretsmanager:CreateSecret" in st["Action"] for st in statements)


def test_alerts_topic_kms_encrypted_and_ssl_only(any_env):
    template = any_env.template(STACK)
    template.has_resource_properties("AWS::SNS::Topic", {"TopicName": f"ql-algo-trading-{any_env.env}-alerts",
                                                         "KmsMasterKeyId": Match.any_value()})
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])}},
    )


def test_schedules_are_ist_converted_to_utc_weekdays(any_env):
    rules = {r["Properties"]["Name"]: r["Properties"] for r in any_env.resources(STACK, "AWS::Events::Rule").values()}
    p = f"ql-algo-trading-{any_env.env}-"
    assert rules[p + "session-refresh"]["ScheduleExpression"] == "cron(0 3 ? * MON-FRI *)"  # 08:30 IST
    assert rules[p + "health-check"]["ScheduleExpression"] == "cron(15 3 ? * MON-FRI *)"  # 08:45 IST
    for rule in rules.values():
        assert rule["Targets"][0]["DeadLetterConfig"]["Arn"]


def test_handlers(dev):
    handlers = {r["Properties"]["Handler"] for r in ours(dev, STACK)}
    assert handlers == {f"lambda_functions.auth_broker.{m}.handler" for m in
                        ("broker_accounts", "broker_sessions", "session_refresh", "health_check", "profile",
                              "session_daily")}


def _fn(synth, name: str) -> tuple[str, dict]:
    return next((k, r["Properties"]) for k, r in synth.resources(STACK, "AWS::Lambda::Function").items()
                if r["Properties"].get("FunctionName") == f"ql-algo-trading-{synth.env}-{name}")


def _policy_of(synth, function_name: str) -> str:
    import json

    _, props = _fn(synth, function_name)
    role = props["Role"]["Fn::GetAtt"][0]
    return json.dumps([r["Properties"]["PolicyDocument"] for r in synth.resources(STACK, "AWS::IAM::Policy").values()
                       if {"Ref": role} in r["Properties"]["Roles"]])


def test_profile_function_reads_and_updates_cognito_users(any_env):
    _, props = _fn(any_env, "profile")
    assert props["Handler"] == "lambda_functions.auth_broker.profile.handler"
    assert "USER_POOL_ID" in props["Environment"]["Variables"]
    policy = _policy_of(any_env, "profile")
    assert "cognito-idp:AdminGetUser" in policy and "cognito-idp:AdminUpdateUserAttributes" in policy
    assert "UserPool" in policy  # on this pool's ARN only
    assert "secretsmanager" not in policy and "dynamodb" not in policy
    outputs = any_env.templates[STACK]["Outputs"]
    assert any(o.get("Export", {}).get("Name") == f"ql-algo-trading-{any_env.env}-profile-function-arn"
               for o in outputs.values())


def test_health_check_reads_the_trading_table_and_both_scan_the_accounts(any_env):
    health = _policy_of(any_env, "health-check")
    assert f"table/ql-algo-trading-{any_env.env}-trading-configurations" in health
    for action in ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:Scan"):
        assert action in health
    assert "dynamodb:PutItem" not in health.split("trading-configurations")[0][-600:]  # read-only there
    refresh = _policy_of(any_env, "session-refresh")
    assert "dynamodb:Scan" in refresh


def test_broker_callers_send_the_smartapi_log_to_tmp(any_env):
    for name in ("broker-accounts", "broker-sessions", "session-refresh", "health-check"):
        assert _fn(any_env, name)[1]["Environment"]["Variables"]["SMARTAPI_LOG_DIR"] == "/tmp", name
    assert "SMARTAPI_LOG_DIR" not in _fn(any_env, "profile")[1]["Environment"]["Variables"]


def test_static_egress_ip_in_staging_and_production(staging, production):
    for synth in (staging, production):
        template = synth.template(STACK)
        template.resource_count_is("AWS::EC2::VPC", 1)
        template.resource_count_is("AWS::EC2::NatGateway", synth.config.settings.auth_broker.nat_gateways)
        template.resource_count_is("AWS::EC2::EIP", synth.config.settings.auth_broker.nat_gateways)
        template.resource_count_is("AWS::EC2::FlowLog", 1)
        nat = next(iter(synth.resources(STACK, "AWS::EC2::NatGateway").values()))
        assert "Fn::GetAtt" in nat["Properties"]["AllocationId"]  # our EIP, not an anonymous one
        outputs = synth.templates[STACK]["Outputs"]
        assert any(o.get("Export", {}).get("Name") == f"ql-algo-trading-{synth.env}-egress-ip" for o in outputs.values())
        for fn in ours(synth, STACK):
            if fn["Properties"]["Handler"].endswith(".profile.handler"):
                assert "VpcConfig" not in fn["Properties"]  # Cognito only: no broker, no NAT
                continue
            assert fn["Properties"]["VpcConfig"]["SubnetIds"], "broker Lambdas run in private subnets"


def test_no_vpc_in_dev(dev):
    template = dev.template(STACK)
    for cfn_type in ("AWS::EC2::VPC", "AWS::EC2::NatGateway", "AWS::EC2::EIP"):
        template.resource_count_is(cfn_type, 0)
    for fn in ours(dev, STACK):
        assert "VpcConfig" not in fn["Properties"]
