"""options-platform: the single table (from table_schema) and the REST API."""

from __future__ import annotations

from aws_cdk.assertions import Match

from cdk_stacks.options_platform_stack import HANDLERS, PUBLIC_ROUTES, ROUTES
from shared_utils.persistence import table_schema as ts
from tests.infrastructure.helpers import methods

STACK = "options-platform"


def _table(synth):
    tables = synth.resources(STACK, "AWS::DynamoDB::Table")
    assert len(tables) == 1
    return next(iter(tables.values()))


def test_table_keys_billing_stream_ttl_pitr(any_env):
    table = _table(any_env)
    props = table["Properties"]
    assert props["TableName"] == f"ql-algo-trading-{any_env.env}-trading-configurations"
    assert props["KeySchema"] == [
        {"AttributeName": ts.PARTITION_KEY, "KeyType": "HASH"},
        {"AttributeName": ts.SORT_KEY, "KeyType": "RANGE"},
    ]
    assert sorted(props["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        ts.attribute_definitions(), key=lambda a: a["AttributeName"]
    )
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": ts.TTL_ATTRIBUTE, "Enabled": True}


def test_table_gsis_match_table_schema(any_env):
    gsis = {g["IndexName"]: g for g in _table(any_env)["Properties"]["GlobalSecondaryIndexes"]}
    assert set(gsis) == {i.name for i in ts.INDEXES}
    for index in ts.INDEXES:
        g = gsis[index.name]
        expected_keys = [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
        if index.sort_key:
            expected_keys.append({"AttributeName": index.sort_key, "KeyType": "RANGE"})
        assert g["KeySchema"] == expected_keys
        assert g["Projection"]["ProjectionType"] == index.projection
    gsi2 = gsis[ts.GSI2.name]["Projection"]
    assert gsi2["ProjectionType"] == "INCLUDE"
    assert sorted(gsi2["NonKeyAttributes"]) == sorted(ts.GSI2_PROJECTED)
    # The same request the local platform sends to moto.
    request = ts.create_table_kwargs("x")
    assert {g["IndexName"]: g["Projection"]["ProjectionType"] for g in request["GlobalSecondaryIndexes"]} == {
        n: g["Projection"]["ProjectionType"] for n, g in gsis.items()
    }


def test_table_retention_by_environment(dev, staging, production):
    assert _table(dev)["DeletionPolicy"] == "Delete"
    assert "DeletionProtectionEnabled" not in _table(dev)["Properties"] or not _table(dev)["Properties"]["DeletionProtectionEnabled"]
    for synth in (staging, production):
        assert _table(synth)["DeletionPolicy"] == "Retain"
        assert _table(synth)["UpdateReplacePolicy"] == "Retain"
        assert _table(synth)["Properties"]["DeletionProtectionEnabled"] is True


def test_stage_named_after_env_with_logs_throttling_tracing(any_env):
    any_env.template(STACK).has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": any_env.env,
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "MethodSettings": Match.array_with([
                Match.object_like({"LoggingLevel": "INFO", "ThrottlingRateLimit": Match.any_value(),
                                   "ThrottlingBurstLimit": Match.any_value(), "HttpMethod": "*"})
            ]),
        },
    )


def test_cognito_authorizer_on_the_imported_pool(any_env):
    any_env.template(STACK).has_resource_properties(
        "AWS::ApiGateway::Authorizer",
        {"Type": "COGNITO_USER_POOLS",
         "ProviderARNs": [{"Fn::ImportValue": f"ql-algo-trading-{any_env.env}-user-pool-arn"}]},
    )


def test_every_route_exists_and_every_non_public_method_is_cognito_authorized(dev):
    found = methods(dev.templates[STACK])
    expected = {(path, m) for path, ms, _ in ROUTES for m in ms}
    assert expected <= set(found), sorted(expected - set(found))
    for key, props in found.items():
        if key[1] == "OPTIONS":
            assert props["AuthorizationType"] == "NONE"  # CORS preflight
        elif key in PUBLIC_ROUTES:
            assert props["AuthorizationType"] == "NONE", key
        else:
            assert props["AuthorizationType"] == "COGNITO_USER_POOLS", key
            assert "AuthorizerId" in props, key
    assert PUBLIC_ROUTES == {("/postbacks/{broker}", "POST"), ("/broker-sessions/zerodha/callback", "GET"),
                             ("/broker-sessions/finvasia/callback", "GET"), ("/broker-sessions/zebu/callback", "GET")}


def test_route_families_use_lambda_proxy_integrations(dev):
    found = methods(dev.templates[STACK])
    for path, ms, _family in ROUTES:
        for m in ms:
            integration = found[(path, m)]["Integration"]
            assert integration["Type"] == "AWS_PROXY"
            assert integration["IntegrationHttpMethod"] == "POST"


def test_handlers_and_imported_broker_functions(dev):
    template = dev.template(STACK)
    for handler in HANDLERS.values():
        template.has_resource_properties("AWS::Lambda::Function", {"Handler": handler, "Runtime": "python3.12"})
    # API Gateway may invoke the auth-broker functions (permissions live in this stack).
    for key in ("broker-accounts-function-arn", "broker-sessions-function-arn", "profile-function-arn"):
        template.has_resource_properties(
            "AWS::Lambda::Permission",
            {"FunctionName": {"Fn::ImportValue": f"ql-algo-trading-dev-{key}"}, "Principal": "apigateway.amazonaws.com"},
        )


def _integration_import(props: dict) -> str:
    import json

    return json.dumps(props["Integration"]["Uri"])


def test_auth_broker_routes_reach_the_functions_that_serve_them(dev):
    """POST .../login is served by broker_accounts.handler (it defines the route), the Zerodha
    callback by broker_sessions, /profile GET/PUT by profile.handler; no GET login route."""
    found = methods(dev.templates[STACK])
    assert "broker-accounts-function-arn" in _integration_import(found[("/broker-accounts/{client_id}/login", "POST")])
    assert ("/broker-accounts/{client_id}/login", "GET") not in found
    assert "broker-sessions-function-arn" in _integration_import(found[("/broker-sessions/zerodha/callback", "GET")])
    for m in ("GET", "PUT"):
        assert "profile-function-arn" in _integration_import(found[("/profile", m)])
        assert found[("/profile", m)]["AuthorizationType"] == "COGNITO_USER_POOLS"


def test_executions_api_reads_only_the_executions_archive(dev):
    import json

    fn = next(r["Properties"] for r in dev.resources(STACK, "AWS::Lambda::Function").values()
              if r["Properties"]["Handler"] == HANDLERS["executions"])
    bucket = json.dumps(fn["Environment"]["Variables"]["ARCHIVE_BUCKET_NAME"])
    assert "ql-algo-trading-dev-archive-" in bucket and "AWS::AccountId" in bucket
    role = fn["Role"]["Fn::GetAtt"][0]
    policy = json.dumps([r["Properties"]["PolicyDocument"] for r in dev.resources(STACK, "AWS::IAM::Policy").values()
                         if {"Ref": role} in r["Properties"]["Roles"]])
    assert "s3:GetObject" in policy and "archive/entity=executions/*" in policy and "s3:PutObject" not in policy
    others = [r for r in dev.resources(STACK, "AWS::Lambda::Function").values()
              if r["Properties"]["Handler"] not in (HANDLERS["executions"], HANDLERS["analytics"])]
    assert all("ARCHIVE_BUCKET_NAME" not in r["Properties"]["Environment"]["Variables"] for r in others)


def test_analytics_api_reads_the_table_and_the_executions_and_orders_archive_only(dev):
    """Issue 18's read routes: their own function, read-only on the table (no PutItem), the
    archive's executions and orders prefixes only (no PutObject), every route Cognito-authorized."""
    import json

    fn = next(r["Properties"] for r in dev.resources(STACK, "AWS::Lambda::Function").values()
              if r["Properties"]["Handler"] == HANDLERS["analytics"])
    assert "ql-algo-trading-dev-archive-" in json.dumps(fn["Environment"]["Variables"]["ARCHIVE_BUCKET_NAME"])
    role = fn["Role"]["Fn::GetAtt"][0]
    policy = json.dumps([r["Properties"]["PolicyDocument"] for r in dev.resources(STACK, "AWS::IAM::Policy").values()
                         if {"Ref": role} in r["Properties"]["Roles"]])
    assert "archive/entity=orders/*" in policy and "archive/entity=executions/*" in policy
    assert "archive/entity=positions" not in policy
    for forbidden in ("s3:PutObject", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "events:PutEvents"):
        assert forbidden not in policy, forbidden
    found = methods(dev.templates[STACK])
    for path in ("/options/orders", "/options/orders/{order_id}", "/options/pnl/{strategy_id}",
                 "/options/reports/monthly", "/options/executions/dashboard"):
        assert found[(path, "GET")]["AuthorizationType"] == "COGNITO_USER_POOLS"


def test_postbacks_decrypt_only_through_secrets_manager(dev):
    """The public webhook may decrypt its checksum secret, never the broker credentials that are
    KMS-sealed in the broker-accounts table with the same key (issue 14 finding 8 + issue 16):
    every kms:Decrypt its role holds is conditioned on kms:ViaService = Secrets Manager."""
    functions = dev.resources(STACK, "AWS::Lambda::Function")
    postbacks = [lid for lid, fn in functions.items() if "postbacks" in fn["Properties"].get("FunctionName", "")]
    assert len(postbacks) == 1
    role = functions[postbacks[0]]["Properties"]["Role"]["Fn::GetAtt"][0]
    decrypts = []
    for policy in dev.resources(STACK, "AWS::IAM::Policy").values():
        if {"Ref": role} not in policy["Properties"].get("Roles", []):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a in ("kms:Decrypt", "kms:*") for a in actions):
                decrypts.append(statement)
    assert decrypts, "the webhook needs Decrypt for its checksum secret"
    for statement in decrypts:
        via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
        assert via is not None and "secretsmanager" in str(via), statement
