"""Grants as tests (issue 14, "grants and limits as tests"; finding 2).

Every execution-engine handler runs here AS DEPLOYED (its own composition root, the environment
variables of its synthesized function, moto behind boto3) through a trading morning: the emitter
announces the seed's strategy, Prepare/Resolve/PlaceOrders/Finalize enter it, the order poller,
stop-loss and duplicate checks follow it, the archiver runs (not the market-data refresher: it
downloads the brokers' masters over the internet, which no test reaches). Every
AWS request a handler makes is recorded and must be allowed by the IAM policy CloudFormation
attaches to THAT function's role (actions and resources from the synthesized template). Moto
enforces no IAM, so without this test a missing grant shows first in production (finding 2: every
engine function loads the instrument master from S3, only two could read it, the others silently
fell back to a stale bundled extract).
"""

from __future__ import annotations

import fnmatch
import json
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import boto3
import botocore.client
import pytest

from tests.infrastructure.test_as_deployed import function_by_handler, statements_of

STACK = "execution-engine"
BUCKET = "ql-archive-under-test"
REGION = "ap-south-1"


# ---- the synthesized side -------------------------------------------------------------------------


class Names:
    """Concrete names for the template's tokens (moto resources created under these names)."""

    def __init__(self, synth, topic_arn: str) -> None:
        self.config = synth.config
        template = synth.templates[STACK]
        resources = template["Resources"]
        self.logical = {}
        for logical_id, resource in resources.items():
            kind, props = resource["Type"], resource.get("Properties", {})
            if kind == "AWS::S3::Bucket" and "BucketName" in props:
                self.logical[logical_id] = f"bucket:{BUCKET}"
            elif kind == "AWS::Events::EventBus":
                self.logical[logical_id] = f"bus:{props['Name']}"
            elif kind == "AWS::SQS::Queue":
                self.logical[logical_id] = f"queue:{props.get('QueueName', logical_id)}"
        c = self.config
        self.imports = {
            c.resource_name("trading-table-arn"): f"table:{c.table_name}",
            c.resource_name("broker-accounts-table-arn"): f"table:{c.broker_accounts_table_name}",
            c.resource_name("alerts-topic-arn"): f"topic:{topic_arn}",
            c.resource_name("broker-secrets-key-arn"): "kms:broker-secrets",
            c.resource_name("postback-queue-arn"): "queue:postback-follow-ups",
        }

    def render(self, node: Any) -> str:
        """A policy Resource (string or intrinsic) in the recorder's namespace."""
        if isinstance(node, str):
            return node
        if "Fn::ImportValue" in node:
            return self.imports.get(node["Fn::ImportValue"], f"?import:{node['Fn::ImportValue']}")
        if "Fn::GetAtt" in node:
            return self.logical.get(node["Fn::GetAtt"][0], f"?{node['Fn::GetAtt'][0]}")
        if "Ref" in node and node["Ref"] in self.logical:
            return self.logical[node["Ref"]]
        if "Ref" in node:
            return {"AWS::AccountId": "123456789012", "AWS::Region": REGION, "AWS::Partition": "aws"}.get(
                node["Ref"], f"?{node['Ref']}")
        if "Fn::Join" in node:
            separator, parts = node["Fn::Join"]
            return separator.join(self.render(p) for p in parts)
        return f"?{json.dumps(node)}"

    def allowed(self, synth, handler: str) -> list[tuple[list[str], list[str]]]:
        """(actions, rendered resources) of each Allow statement of the function's role."""
        out = []
        for st in statements_of(synth, STACK, handler):
            if st.get("Effect") != "Allow":
                continue
            acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            rendered = []
            for r in res:
                text = self.render(r)
                if ":secret:" in text:
                    text = "secret:" + text.split(":secret:", 1)[1]
                rendered.append(text)
            out.append((acts, rendered))
        return out


def is_allowed(statements, action: str, resource: str) -> bool:
    return any(any(fnmatch.fnmatchcase(action, a) for a in acts) and
               any(fnmatch.fnmatchcase(resource, r) for r in res) for acts, res in statements)


# ---- the recorded side ----------------------------------------------------------------------------


def requests_of(service: str, operation: str, params: dict) -> list[tuple[str, str]]:
    """The (IAM action, resource) pairs one API call needs, in the namespace of :class:`Names`."""
    def table(name, index=None):
        return f"table:{name}" + (f"/index/{index}" if index else "")

    if service == "dynamodb":
        if operation == "TransactWriteItems":
            kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
            return [(f"dynamodb:{kinds[k]}", table(v["TableName"])) for item in params["TransactItems"] for k, v in item.items()]
        if operation == "TransactGetItems":
            return [("dynamodb:GetItem", table(i["Get"]["TableName"])) for i in params["TransactItems"]]
        if operation in ("BatchWriteItem", "BatchGetItem"):
            return [(f"dynamodb:{operation}", table(name)) for name in params["RequestItems"]]
        return [(f"dynamodb:{operation}", table(params["TableName"], params.get("IndexName")))]
    if service == "s3":
        action = {"HeadObject": "GetObject", "GetObject": "GetObject", "PutObject": "PutObject",
                  "ListObjectsV2": "ListBucket", "ListObjects": "ListBucket", "DeleteObject": "DeleteObject"}[operation]
        key = params.get("Key")
        return [(f"s3:{action}", f"bucket:{params['Bucket']}" + (f"/{key}" if key else ""))]
    if service == "secretsmanager":
        return [(f"secretsmanager:{operation}", f"secret:{params.get('SecretId') or params['Name']}")]
    if service == "events":
        return [("events:PutEvents", f"bus:{e.get('EventBusName', 'default')}") for e in params["Entries"]]
    if service == "sns":
        return [(f"sns:{operation}", f"topic:{params.get('TopicArn')}")]
    if service == "sqs":
        return [(f"sqs:{operation}", f"queue:{params.get('QueueUrl', '').rsplit('/', 1)[-1]}")]
    if service == "cloudwatch":
        return [(f"cloudwatch:{operation}", "*")]
    raise AssertionError(f"unmapped AWS call {service}:{operation}: teach requests_of() its IAM action")


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict]] = []
        self._original = botocore.client.BaseClient._make_api_call

    @contextmanager
    def installed(self):
        recorder = self

        def record(client, operation, params):
            recorder.calls.append((client.meta.service_model.service_name, operation, params))
            return recorder._original(client, operation, params)

        botocore.client.BaseClient._make_api_call = record
        try:
            yield self
        finally:
            botocore.client.BaseClient._make_api_call = self._original


# ---- the trading morning --------------------------------------------------------------------------


HANDLER = "lambda_functions.execution_engine.{}.handler"


class _Context:
    memory_limit_in_mb = 1024
    aws_request_id = "grants"

    def __init__(self, module: str) -> None:
        self.function_name = module
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:{module}"


@pytest.fixture
def deployed_world(dev, aws, monkeypatch):
    """moto resources named as the dev stacks name them, the seed's strategy on PAPER accounts,
    the platform clock at Monday 17 Aug 2026 09:28:05 IST."""
    from shared_utils.clock import IST, FixedClock, set_default_clock, default_clock
    from shared_utils.config import current_environment
    from shared_utils.persistence.table import reset_clients
    from shared_utils.persistence.table_schema import broker_accounts_create_table_kwargs, create_table_kwargs

    config = dev.config
    monkeypatch.setenv("QL_ENV", "dev")
    monkeypatch.setenv("AWS_REGION", REGION)
    current_environment.cache_clear()
    reset_clients()
    ddb = boto3.client("dynamodb", region_name=REGION)
    ddb.create_table(**create_table_kwargs(config.table_name))
    ddb.create_table(**broker_accounts_create_table_kwargs(config.broker_accounts_table_name))
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    boto3.client("events", region_name=REGION).create_event_bus(Name=config.event_bus_name)
    topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name="alerts")["TopicArn"]
    previous_clock = default_clock()
    clock = FixedClock(datetime(2026, 8, 17, 9, 28, 5, tzinfo=IST))
    set_default_clock(clock)
    seeded = _seed(config, clock)
    names = Names(dev, topic_arn)
    names.seed = seeded
    yield names, clock
    set_default_clock(previous_clock)
    current_environment.cache_clear()
    reset_clients()


def _seed(config, clock) -> None:
    from shared_utils.models.allocation import AdvancedAllocationRequest
    from shared_utils.models.basket import BasketCreate
    from shared_utils.models.broker_account import BrokerAccount
    from shared_utils.models.leg import LegsCreate, LegUpdate
    from shared_utils.models.strategy import StrategySpec
    from shared_utils.persistence.repositories import Repositories
    from shared_utils.services.options import OptionsService
    from tests.conftest import seed_request
    from tests.functional.api.journey import COMPLETE_SELECTION

    repos = Repositories.for_environment(config)
    service = OptionsService(repos, config, clock)
    user = "user-a"
    for client_id in ("ZERODHA123", "ANGELONE456"):
        repos.accounts.create(BrokerAccount(user_id=user, client_id=client_id, broker="paper"))
    basket = service.create_basket(user, BasketCreate.model_validate(seed_request("01_create_basket.json")["body"]))
    strategy = service.create_strategy(user, basket.basket_id, StrategySpec.model_validate(
        {**seed_request("02_create_strategy.json")["body"], "entry_time": "09:30", "exit_time": "15:20"}))
    service.add_legs(user, strategy.strategy_id, LegsCreate.model_validate(seed_request("03_add_legs.json")["body"]))
    for leg_no, selection in COMPLETE_SELECTION.items():
        service.update_leg(user, strategy.strategy_id, leg_no, LegUpdate.model_validate({"strike_selection_config": selection}))
    service.add_advanced_allocations(user, strategy.strategy_id, AdvancedAllocationRequest.model_validate(
        seed_request("04_leg_level_allocations.json")["body"]))
    return basket.basket_id, strategy.strategy_id


def _function_environment(synth, names: Names, handler: str) -> dict[str, str]:
    _, fn = function_by_handler(synth, STACK, handler)
    out = {}
    for key, value in fn["Properties"].get("Environment", {}).get("Variables", {}).items():
        if isinstance(value, str):
            out[key] = value
        elif key == "ARCHIVE_BUCKET_NAME":
            out[key] = BUCKET
        elif key == "ALERTS_TOPIC_ARN":
            out[key] = names.render(value).removeprefix("topic:")
        elif key == "EVENT_BUS_NAME":
            out[key] = names.render(value).removeprefix("bus:")
        else:
            out[key] = names.render(value)
    return out


def _fresh_container() -> None:
    """Forget what a previous invocation cached at module level (the instrument master, the
    engine context, clients): each function runs in its own container."""
    import sys

    for name, module in list(sys.modules.items()):
        if not name.startswith(("shared_utils.", "lambda_functions.")) or module is None:
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", None) == name:
                value.cache_clear()


def _invoke(synth, names, monkeypatch, module: str, event: dict) -> tuple[Any, list[tuple[str, str, dict]]]:
    """Invoke one engine handler in a fresh 'container' with its function's environment."""
    import importlib

    from shared_utils.persistence.table import reset_clients

    handler = HANDLER.format(module)
    with monkeypatch.context() as env:
        for key, value in _function_environment(synth, names, handler).items():
            env.setenv(key, value)
        _fresh_container()
        reset_clients()
        recorder = Recorder()
        with recorder.installed():
            result = importlib.import_module(f"lambda_functions.execution_engine.{module}").handler(event, _Context(module))
    return json.loads(json.dumps(result, default=str)), recorder.calls


def test_every_aws_request_of_each_engine_handler_is_granted(dev, deployed_world, monkeypatch):
    names, clock = deployed_world
    seen: dict[str, list[tuple[str, str]]] = {}

    def run(module, event, calls_out=None):
        result, calls = _invoke(dev, names, monkeypatch, module, event)
        seen.setdefault(module, []).extend(r for c in calls for r in requests_of(*c))
        if calls_out is not None:
            calls_out.extend(calls)
        return result

    emitter_calls: list = []
    emitted = run("emitter", {}, emitter_calls)
    assert emitted["due"] == 1, emitted
    (detail,) = [json.loads(e["Detail"]) for service, op, params in emitter_calls
                 if (service, op) == ("events", "PutEvents") for e in params["Entries"]
                 if e["DetailType"] == "Strategy Execution Due"]
    state = run("prepare", {**detail, "run_id": "arn:grants-run"})
    assert state["claimed_count"] == 1
    clock.sleep_until(datetime.fromisoformat(detail["wait_until"].replace("Z", "+00:00")))
    state = run("resolve", state)
    state["placements"] = [run("place_orders", item) for item in state["work_items"]]
    final = run("finalize", state)
    assert {r["status"] for r in final["results"]} == {"COMPLETED"}
    strategy = {"user_id": final["results"][0]["user_id"], "strategy_id": final["results"][0]["strategy_id"]}
    run("order_poller", {"detail": strategy})
    run("order_poller", {"Records": [{"body": json.dumps(strategy)}]})
    clock.advance(timedelta(minutes=1))
    run("stop_loss_checker", {})
    run("duplicate_checker", {})
    # the exit at 15:20: Prepare sets cancel_at, PreCancel cancels the resting stops ahead of the
    # second (the state machine's WaitUntilCancel -> PreCancel), then Resolve/PlaceOrders/Finalize
    # (the seed's weekly exit is on Fridays: a square-off of the Monday, as the emitter announces
    # a holiday-moved exit, goes through the same states)
    clock.sleep_until(datetime(2026, 8, 17, 9, 48, 5, tzinfo=clock.now().tzinfo))  # 15:18:05 IST
    detail = {**detail, "batch_id": "X202608171520-grants", "execution_type": "EXIT", "slot": "15:20",
              "execute_at": "2026-08-17T09:50:00.000Z", "wait_until": "2026-08-17T09:49:58.000Z",
              "trigger": "SQUARE_OFF", "reason": "grants: the day's square-off"}
    state = run("prepare", {**detail, "run_id": "arn:grants-exit"})
    assert state["claimed_count"] == 1 and "cancel_at" in state, state
    clock.sleep_until(datetime.fromisoformat(state["cancel_at"].replace("Z", "+00:00")))
    state = run("pre_cancel", state)
    assert state["precancelled"] == 1, state
    clock.sleep_until(datetime.fromisoformat(state["wait_until"].replace("Z", "+00:00")))
    state = run("resolve", state)
    state["placements"] = [run("place_orders", item) for item in state["work_items"]]
    run("finalize", state)
    # (each handler runs in a fresh 'container', so the paper book of the morning is gone and the
    # stops cannot be cancelled here: that takes PreCancel and Resolve through the alert they
    # publish, 'Order Alert' EXIT_CANCELS, which needs events:PutEvents on the bus)
    assert ("events:PutEvents", f"bus:{dev.config.event_bus_name}") in seen["pre_cancel"]
    # (the market-data refresher is not run: it downloads the brokers' masters over the internet)
    run("archiver", {"trade_date": "2026-08-17"})

    missing = {}
    for module, requests in seen.items():
        allowed = names.allowed(dev, HANDLER.format(module))
        gaps = sorted({(a, r) for a, r in requests if not is_allowed(allowed, a, r)})
        if gaps:
            missing[module] = gaps
    assert not missing, "AWS requests the function's role does not allow:\n" + json.dumps(missing, indent=1)
    # the instrument master (finding 2): every function that builds the engine context reads it
    readers = {m for m, reqs in seen.items()
               if any(a == "s3:GetObject" and r.startswith(f"bucket:{BUCKET}/instruments/") for a, r in reqs)}
    assert "resolve" in readers, seen


def test_postbacks_requests_are_granted_and_touch_no_broker_secret(dev, deployed_world, monkeypatch):
    """The public webhook (options-platform stack), as deployed: a verified Kite postback for an
    order of a Zerodha account is verified and enqueued (202); each AWS request it makes is allowed
    by its role, and none reaches a broker secret."""
    import hashlib
    import importlib

    from shared_utils.accounts.secrets import AccountSecret, BrokerSecretStore
    from shared_utils.brokers.base import BrokerCredentials
    from shared_utils.models.enums import OrderPurpose
    from shared_utils.persistence.repositories import Repositories

    names, clock = deployed_world
    config = dev.config
    repos = Repositories.for_environment(config)
    account = repos.accounts.get("user-a", "ZERODHA123")
    repos.accounts.save(account.model_copy(update={"broker": "zerodha"}), account.version)  # still PAPER
    # credentials are KMS-sealed in the broker accounts table (issue 16): the key the stack creates
    kms = boto3.client("kms", region_name=REGION)
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=f"alias/{config.prefix}/broker-secrets", TargetKeyId=key_arn)
    store = BrokerSecretStore(config)
    store.create(store.name_for("user-a", "ZERODHA123"),
                 AccountSecret(broker="zerodha", credentials=BrokerCredentials(api_key="k", api_secret="kite_secret")))
    # an entry order to report on: the morning's entry, through the deployed handlers
    def run(module, event):
        result, calls = _invoke(dev, names, monkeypatch, module, event)
        return result, calls

    emitted, calls = run("emitter", {})
    (detail,) = [json.loads(e["Detail"]) for s, o, p in calls if (s, o) == ("events", "PutEvents")
                 for e in p["Entries"] if e["DetailType"] == "Strategy Execution Due"]
    state, _ = run("prepare", {**detail, "run_id": "arn:grants-postback"})
    clock.sleep_until(datetime.fromisoformat(detail["wait_until"].replace("Z", "+00:00")))
    state, _ = run("resolve", state)
    state["placements"] = [run("place_orders", item)[0] for item in state["work_items"]]
    final, _ = run("finalize", state)
    execution_id = final["results"][0]["execution_id"]
    order = next(o for o in repos.orders.list_for_execution("user-a", execution_id, "ZERODHA123")
                 if o.purpose is OrderPurpose.ENTRY)
    stamp = "2026-08-17 09:30:00"
    payload = {"order_id": order.broker_order_id, "order_timestamp": stamp, "exchange_timestamp": stamp,
               "status": "COMPLETE", "tag": order.tag, "tradingsymbol": order.tradingsymbol, "exchange": "NFO",
               "transaction_type": order.transaction_type.value, "product": "NRML", "order_type": "LIMIT",
               "quantity": order.quantity, "filled_quantity": order.quantity, "pending_quantity": 0,
               "average_price": str(order.price or order.ltp), "price": str(order.price or 0),
               "checksum": hashlib.sha256(f"{order.broker_order_id}{stamp}kite_secret".encode()).hexdigest()}

    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="postback-follow-ups")["QueueUrl"]
    handler = "lambda_functions.execution_engine.postbacks.handler"
    _, fn = function_by_handler(dev, "options-platform", handler)
    with monkeypatch.context() as env:
        for key, value in fn["Properties"]["Environment"]["Variables"].items():
            env.setenv(key, value if isinstance(value, str) else
                       {"TABLE_NAME": config.table_name, "POSTBACK_QUEUE_URL": queue_url}[key])
        _fresh_container()
        module = importlib.import_module("lambda_functions.execution_engine.postbacks")
        module.set_context(None)
        recorder = Recorder()
        with recorder.installed():
            answer = module.handler({"path": "/postbacks/zerodha", "pathParameters": {"broker": "zerodha"},
                                     "body": json.dumps(payload)}, _Context("postbacks"))
        module._deployed.cache_clear()
    # verified and enqueued only (issue 13 item 14, issue 14 finding 8): the order poller applies it
    assert answer["statusCode"] == 202, answer
    requests = sorted({r for c in recorder.calls for r in requests_of(*c)})
    assert ("sqs:SendMessage", "queue:postback-follow-ups") in requests
    # it records nothing: reads only
    assert not [r for r in requests if r[0].startswith("dynamodb:") and
                r[0] not in ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem")], requests
    assert [r for a, r in requests if a.startswith("secretsmanager:")] == \
        [f"secret:{config.prefix}/postback-checksum/user-a/ZERODHA123"]
    statements = []
    for st in statements_of(dev, "options-platform", handler):
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        rendered = []
        for r in res:
            text = _render_options(dev, r)
            rendered.append("secret:" + text.split(":secret:", 1)[1] if ":secret:" in text else text)
        statements.append((acts, rendered))
    gaps = [(a, r) for a, r in requests if not is_allowed(statements, a, r)]
    assert not gaps, gaps


def _render_options(synth, node) -> str:
    """A policy Resource of the options-platform template in the recorder's namespace."""
    config = synth.config
    if isinstance(node, str):
        return node
    if "Fn::ImportValue" in node:
        return {config.resource_name("broker-accounts-table-arn"): f"table:{config.broker_accounts_table_name}",
                config.resource_name("broker-secrets-key-arn"): "kms:broker-secrets"}.get(node["Fn::ImportValue"], "?")
    if "Fn::GetAtt" in node:
        target = synth.templates["options-platform"]["Resources"][node["Fn::GetAtt"][0]]
        if target["Type"] == "AWS::DynamoDB::Table":
            return f"table:{config.table_name}"
        if target["Type"] == "AWS::SQS::Queue":
            return f"queue:{target['Properties']['QueueName'].removeprefix(config.prefix + '-')}"
        return "?"
    if "Ref" in node:
        return {"AWS::AccountId": "123456789012", "AWS::Region": REGION, "AWS::Partition": "aws"}.get(node["Ref"], "?")
    if "Fn::Join" in node:
        separator, parts = node["Fn::Join"]
        text = separator.join(_render_options(synth, p) for p in parts)
        return "bucket:" + text.removeprefix("arn:aws:s3:::") if text.startswith("arn:aws:s3:::") else text
    return "?"


def _options_statements(synth, handler: str) -> list[tuple[list[str], list[str]]]:
    out = []
    for st in statements_of(synth, "options-platform", handler):
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        rendered = []
        for r in res:
            text = _render_options(synth, r)
            rendered.append("secret:" + text.split(":secret:", 1)[1] if ":secret:" in text else text)
        out.append((acts, rendered))
    return out


def test_every_aws_request_of_the_trader_routes_is_granted(dev, deployed_world, monkeypatch):
    """The options API's route families as deployed (one function each): the trader's reads and
    changes of the seeded basket, strategy, legs and allocations, the schedule and positions;
    every AWS request is allowed by the policy of the function that serves the route."""
    from local.apigw import call, handler_module_for

    names, _clock = deployed_world
    basket_id, strategy_id = names.seed
    s = f"/options/strategies/{strategy_id}"
    requests = [("GET", "/options/baskets", None), ("GET", f"/options/baskets/{basket_id}", None),
                ("GET", f"/options/baskets/{basket_id}/strategies", None),
                ("PUT", f"/options/baskets/{basket_id}", {"description": "grants"}),
                ("GET", "/options/strategies", None), ("GET", s, None), ("GET", f"{s}/legs", None),
                ("GET", f"{s}/legs/1", None), ("PUT", f"{s}/legs/1", {"stop_loss": 40}),
                ("POST", f"{s}/pause", None), ("GET", f"{s}/allocations", None),
                ("GET", f"{s}/allocations/ZERODHA123", None), ("GET", f"{s}/allocations/summary", None),
                ("PUT", f"{s}/allocations/ZERODHA123", {"priority": 3}),
                ("GET", "/options/executions/schedule", None), ("GET", "/options/positions", None),
                ("GET", f"/options/executions/{strategy_id}.20260817.E", None),
                ("DELETE", s, None)]
    seen: dict[str, set] = {}
    for method, path, body in requests:
        module = handler_module_for(path)
        _fresh_container()
        recorder = Recorder()
        with recorder.installed():
            status, answer = call(method, path, body)
        assert status < 500, (method, path, status, answer)
        seen.setdefault(module, set()).update(r for c in recorder.calls for r in requests_of(*c))
    missing = {}
    for module, reqs in seen.items():
        statements = _options_statements(dev, f"{module}.handler")
        gaps = sorted((a, r) for a, r in reqs if not is_allowed(statements, a, r))
        if gaps:
            missing[module] = gaps
    assert not missing, json.dumps(missing, indent=1)
    assert set(seen) == {f"lambda_functions.options_platform.{f}" for f in ("baskets", "strategies", "allocations", "executions")}
    assert all(any(a.startswith("dynamodb:") for a, _ in reqs) for reqs in seen.values()), seen


def test_linking_a_zerodha_account_is_granted_both_secrets(dev, deployed_world, monkeypatch):
    """The auth-broker's broker-accounts function, as deployed, links a Zerodha account: it
    seals the credentials into the broker accounts table and writes the postback checksum secret
    (the api_secret alone); each
    request is allowed by its synthesized policy (the checksum prefix is granted to the writers)."""
    from local.apigw import call

    names, _clock = deployed_world
    config = dev.config
    kms = boto3.client("kms", region_name=REGION)
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    handler = "lambda_functions.auth_broker.broker_accounts.handler"
    template = dev.templates["auth-broker"]
    (fn,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
             and r["Properties"].get("Handler") == handler]
    concrete = {"BROKER_ACCOUNTS_TABLE_NAME": config.broker_accounts_table_name, "BROKER_SECRETS_KMS_KEY_ARN": key_arn,
                "ALERTS_TOPIC_ARN": names.imports[config.resource_name("alerts-topic-arn")].removeprefix("topic:"),
                "USER_POOL_ID": "ap-south-1_grants",
                # issue 16: the daily session reminders' topic (not published to when linking)
                "LOGIN_REMINDERS_TOPIC_ARN": f"arn:aws:sns:{REGION}:123456789012:login-reminders"}
    body = {"broker": "zerodha", "client_id": "ZX9999", "display_name": "Kite",
            "credentials": {"api_key": "kite_key", "api_secret": "kite_secret"}}
    with monkeypatch.context() as env:
        for key, value in fn["Properties"]["Environment"]["Variables"].items():
            env.setenv(key, value if isinstance(value, str) else concrete[key])
        _fresh_container()
        recorder = Recorder()
        with recorder.installed():
            status, answer = call("POST", "/broker-accounts", body)
    assert status == 201, answer
    requests = sorted({r for c in recorder.calls if c[0] != "kms" for r in requests_of(*c)})
    secrets = {r for a, r in requests if a.startswith("secretsmanager:")}
    # issue 16: the credentials are KMS-sealed into the broker accounts table (no Secrets Manager
    # secret of their own); the checksum secret (the api_secret alone) is kept in step
    assert secrets == {f"secret:{config.prefix}/postback-checksum/user-a/ZX9999"}, requests
    assert ("dynamodb:PutItem", f"table:{config.broker_accounts_table_name}") in requests
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = []
    for policy in template["Resources"].values():
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role} in policy["Properties"]["Roles"]:
            for st in policy["Properties"]["PolicyDocument"]["Statement"]:
                acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
                rendered = []
                for r in res:
                    text = _render_auth(dev, r)
                    rendered.append("secret:" + text.split(":secret:", 1)[1] if ":secret:" in text else text)
                statements.append((acts, rendered))
    gaps = [(a, r) for a, r in requests if not is_allowed(statements, a, r)]
    assert not gaps, gaps


def _render_auth(synth, node) -> str:
    if isinstance(node, str):
        return node
    if "Fn::GetAtt" in node:
        target = synth.templates["auth-broker"]["Resources"][node["Fn::GetAtt"][0]]
        if target["Type"] == "AWS::DynamoDB::Table":
            return f"table:{target['Properties']['TableName']}"
        return "?"
    if "Fn::ImportValue" in node:
        return "?import"
    if "Ref" in node:
        return {"AWS::AccountId": "123456789012", "AWS::Region": REGION, "AWS::Partition": "aws"}.get(node["Ref"], "?")
    if "Fn::Join" in node:
        separator, parts = node["Fn::Join"]
        return separator.join(_render_auth(synth, p) for p in parts)
    return "?"
