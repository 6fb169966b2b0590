"""Live updates in the stacks (issue 19; cdk_stacks/constructs/websocket.py): the WebSocket API
is authorized by the Cognito token on $connect, the table's stream feeds a consumer that only
order/execution/position writes invoke, and that consumer may post to this API's connections
(``execute-api:ManageConnections``) while no engine function can.

The grant test runs the stream consumer's handler AS DEPLOYED (the synthesized function's
environment, moto behind boto3, the Management API stubbed with botocore's Stubber answering as
API Gateway does, a GoneException included) and checks every AWS request it makes against the
policy CloudFormation attaches to its role.
"""

from __future__ import annotations

import fnmatch
import json
from datetime import datetime, timezone


from tests.infrastructure.test_as_deployed import function_by_handler, statements_of

STACK = "options-platform"
STREAM_HANDLER = "lambda_functions.live.stream.handler"
AUTHORIZER_HANDLER = "lambda_functions.live.authorizer.handler"
CONNECTIONS_HANDLER = "lambda_functions.live.connections.handler"


def _one(resources: dict) -> dict:
    assert len(resources) == 1, list(resources)
    return next(iter(resources.values()))


def _routes(synth) -> dict[str, dict]:
    return {r["Properties"]["RouteKey"]: r["Properties"]
            for r in synth.resources(STACK, "AWS::ApiGatewayV2::Route").values()}


def _render(node, names: dict[str, str]) -> str:
    if isinstance(node, str):
        return node
    if "Ref" in node:
        return names.get(node["Ref"], {"AWS::AccountId": "123456789012", "AWS::Region": "ap-south-1",
                                       "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}.get(node["Ref"], f"?{node['Ref']}"))
    if "Fn::GetAtt" in node:
        return names.get(node["Fn::GetAtt"][0], f"?{node['Fn::GetAtt'][0]}")
    if "Fn::Join" in node:
        sep, parts = node["Fn::Join"]
        return sep.join(_render(p, names) for p in parts)
    return f"?{json.dumps(node)}"


def _allowed(synth, handler: str, names: dict[str, str]) -> list[tuple[list[str], list[str]]]:
    out = []
    for st in statements_of(synth, STACK, handler):
        if st.get("Effect") != "Allow":
            continue
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        out.append((acts, [_render(r, names) for r in res]))
    return out


def _is_allowed(statements, action: str, resource: str) -> bool:
    return any(any(fnmatch.fnmatchcase(action, a) for a in acts) and
               any(fnmatch.fnmatchcase(resource, r) for r in res) for acts, res in statements)


def test_connect_is_authorized_by_the_cognito_token_and_the_other_routes_ride_on_it(dev):
    api = _one(dev.resources(STACK, "AWS::ApiGatewayV2::Api"))["Properties"]
    assert api["ProtocolType"] == "WEBSOCKET" and api["Name"] == dev.config.resource_name("live")
    routes = _routes(dev)
    assert set(routes) == {"$connect", "$disconnect", "$default"}
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    authorizer = _one(dev.resources(STACK, "AWS::ApiGatewayV2::Authorizer"))["Properties"]
    assert authorizer["AuthorizerType"] == "REQUEST"
    assert authorizer["IdentitySource"] == ["route.request.querystring.token"]
    # the authorizer verifies against this environment's pool and web client
    _, fn = function_by_handler(dev, STACK, AUTHORIZER_HANDLER)
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["USER_POOL_CLIENT_ID"] == {"Fn::ImportValue": dev.config.resource_name("user-pool-client-id")}
    assert "USER_POOL_ID" in env


def test_stage_logs_without_the_token_and_is_throttled(dev):
    stage_resource = _one(dev.resources(STACK, "AWS::ApiGatewayV2::Stage"))
    # execution logging needs the account's CloudWatch role set first (the REST API's Account)
    account = next(iter(dev.resources(STACK, "AWS::ApiGateway::Account")))
    assert account in stage_resource.get("DependsOn", [])
    stage = stage_resource["Properties"]
    assert stage["StageName"] == dev.config.name and stage["AutoDeploy"] is True
    log_format = json.loads(stage["AccessLogSettings"]["Format"])
    assert "connectionId" in log_format and not any("querystring" in v.lower() for v in log_format.values())
    settings = stage["DefaultRouteSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
    assert settings["DataTraceEnabled"] is False  # message bodies never logged


def test_only_order_execution_and_position_writes_invoke_the_stream_consumer(dev):
    mapping = _one(dev.resources(STACK, "AWS::Lambda::EventSourceMapping"))["Properties"]
    assert mapping["StartingPosition"] == "LATEST"
    table_id = next(iter(dev.resources(STACK, "AWS::DynamoDB::Table")))
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    prefixes = sorted(p["dynamodb"]["Keys"]["sort_key"]["S"][0]["prefix"] for p in patterns)
    assert prefixes == ["CONTROL#KILL_SWITCH", "EXECUTION_ENTRY#", "EXECUTION_EXIT#", "ORDER#", "POSITION#"]
    assert all(p["eventName"] == ["INSERT", "MODIFY"] for p in patterns)
    assert mapping["MaximumRecordAgeInSeconds"] == 60


def test_manage_connections_is_granted_to_the_stream_consumer_only(dev):
    stage_arn_suffix = f"/{dev.config.name}/POST/@connections/*"
    holders = []
    for stack in ("options-platform", "execution-engine", "auth-broker"):
        for policy in dev.resources(stack, "AWS::IAM::Policy").values():
            for st in policy["Properties"]["PolicyDocument"]["Statement"]:
                acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                if "execute-api:ManageConnections" in acts:
                    holders.append((stack, policy["Properties"]["Roles"], json.dumps(st["Resource"])))
    assert len(holders) == 1, holders
    assert holders[0][0] == STACK and stage_arn_suffix in holders[0][2]
    assert f"/{dev.config.name}/DELETE/@connections/*" in holders[0][2] and "/GET/" not in holders[0][2]
    stream_role = function_by_handler(dev, STACK, STREAM_HANDLER)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert holders[0][1] == [{"Ref": stream_role}]


def test_every_aws_request_of_the_stream_consumer_is_granted(dev, aws, monkeypatch):
    """The handler as deployed, on a batch with two users' orders: each message goes to its own
    user's connection only, a gone connection is deleted, and every request is allowed."""
    import boto3
    from botocore.stub import ANY, Stubber

    from shared_utils.live.connections import ConnectionStore
    from shared_utils.persistence.table import DynamoTable, reset_clients, serialize
    from shared_utils.persistence.table_schema import create_table_kwargs

    config = dev.config
    table_id, _ = next(iter(dev.resources(STACK, "AWS::DynamoDB::Table").items()))
    api_id = next(iter(dev.resources(STACK, "AWS::ApiGatewayV2::Api")))
    names = {table_id: f"arn:aws:dynamodb:ap-south-1:123456789012:table/{config.table_name}",
             api_id: "liveapi123"}
    _, fn = function_by_handler(dev, STACK, STREAM_HANDLER)
    for key, value in fn["Properties"]["Environment"]["Variables"].items():
        monkeypatch.setenv(key, value if isinstance(value, str) else _render(value, names))
    monkeypatch.setenv("TABLE_NAME", config.table_name)
    reset_clients()
    boto3.client("dynamodb", region_name="ap-south-1").create_table(**create_table_kwargs(config.table_name))
    store = ConnectionStore(DynamoTable(config.table_name))
    now = datetime(2026, 8, 17, 3, 59, tzinfo=timezone.utc)
    store.add("user-a", "connA1=", now, token_exp=4102444800)  # 2100: valid
    store.add("user-a", "goneA2=", now)
    store.add("user-a", "expiredA3=", now, token_exp=1786939200)  # 2026-08-17: its token has expired
    store.add("user-b", "connB1=", now)

    from lambda_functions.live import stream

    stream.publisher.cache_clear()
    publisher = stream.publisher()
    client = publisher.sender.client
    assert client.meta.endpoint_url == f"https://liveapi123.execute-api.ap-south-1.amazonaws.com/{config.name}"
    calls: list[tuple[str, str]] = []

    def record(event_name, params, **_):
        service, operation = event_name.split(".")[1:3]
        if service == "dynamodb":
            calls.append((f"dynamodb:{operation}", names[table_id]))
        elif service == "apigatewaymanagementapi":
            method = {"PostToConnection": "POST", "DeleteConnection": "DELETE"}[operation]
            calls.append(("execute-api:ManageConnections",
                          f"arn:aws:execute-api:ap-south-1:123456789012:liveapi123/{config.name}/{method}/@connections/"
                          f"{params['ConnectionId']}"))
    for c in (client, publisher.store.table.client):
        c.meta.events.register("provide-client-params.*.*", record)

    def order_record(user_id: str, leg: int) -> dict:
        from shared_utils.persistence import keys

        execution_id = "stg_x.20260817.E"
        key = keys.order_sk(execution_id, "ZERODHA123", leg)
        item = {"user_id": user_id, "sort_key": key, "order_key": key, "execution_id": execution_id,
                "status": "OPEN", "tag": keys.order_tag(key), "quantity": 65, "purpose": "ENTRY", "leg_no": leg,
                "execute_at": "2026-08-17T04:00:00+00:00", "sent_at": "2026-08-17T04:00:00.012000+00:00"}
        return {"eventName": "INSERT", "eventSource": "aws:dynamodb",
                "dynamodb": {"Keys": serialize({"user_id": user_id, "sort_key": key}), "NewImage": serialize(item)}}

    posted: dict[str, list[dict]] = {}
    with Stubber(client) as stub:
        # user-a's connections in table order: connA1=, expiredA3= (closed, never sent to), goneA2= (gone)
        stub.add_response("delete_connection", {}, {"ConnectionId": "expiredA3="})
        stub.add_response("post_to_connection", {}, {"ConnectionId": "connA1=", "Data": ANY})
        stub.add_client_error("post_to_connection", "GoneException", http_status_code=410,
                              expected_params={"ConnectionId": "goneA2=", "Data": ANY})
        stub.add_response("post_to_connection", {}, {"ConnectionId": "connB1=", "Data": ANY})
        original = client.post_to_connection

        def spy(**kwargs):
            posted.setdefault(kwargs["ConnectionId"], []).append(json.loads(kwargs["Data"]))
            return original(**kwargs)

        monkeypatch.setattr(client, "post_to_connection", spy)
        result = stream.handler({"Records": [order_record("user-a", 1), order_record("user-b", 2)]}, _Context())
        stub.assert_no_pending_responses()
    assert result == {"messages": 2, "delivered": 2, "gone": 1, "expired": 1, "failed": 0, "users": 2}
    assert [m["data"]["leg_no"] for m in posted["connA1="]] == [1]
    assert [m["data"]["leg_no"] for m in posted["connB1="]] == [2]  # never user-a's order
    assert store.of_user("user-a") == ["connA1="]  # the gone and the expired ones are forgotten
    assert "expiredA3=" not in posted
    statements = _allowed(dev, STREAM_HANDLER, names)
    denied = [c for c in calls if not _is_allowed(statements, *c)]
    assert calls and denied == []


class _Context:
    function_name = "live-stream"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:ap-south-1:123456789012:function:live-stream"
    aws_request_id = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 30000


def test_connection_functions_touch_only_what_they_need(dev):
    """$connect/$disconnect put and delete connection items; the authorizer reads no table and
    the connections function may not post to connections (only the stream consumer does)."""
    table_id = next(iter(dev.resources(STACK, "AWS::DynamoDB::Table")))
    names = {table_id: f"arn:aws:dynamodb:ap-south-1:123456789012:table/{dev.config.table_name}"}
    table = names[table_id]
    connections = _allowed(dev, CONNECTIONS_HANDLER, names)
    for action in ("dynamodb:PutItem", "dynamodb:DeleteItem"):
        assert _is_allowed(connections, action, table)
    for action in ("dynamodb:Query", "dynamodb:Scan", "dynamodb:GetItem", "execute-api:ManageConnections"):
        assert not _is_allowed(connections, action, table) and not _is_allowed(connections, action, "*")
    authorizer = _allowed(dev, AUTHORIZER_HANDLER, names)
    assert not any(a.startswith(("dynamodb:", "execute-api:")) for acts, _ in authorizer for a in acts)
