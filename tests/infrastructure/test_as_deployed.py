"""Issue 14 as deployed: what the synthesized templates allow each function, the public routes'
limits apart from the traders', the WAF, the postback follow-up queue."""

from __future__ import annotations

import json

from cdk_stacks.options_platform_stack import public_route_throttles, stage_throttle

OPTIONS = "options-platform"
ENGINE = "execution-engine"


def function_by_handler(synth, stack: str, handler: str) -> tuple[str, dict]:
    (found,) = [(k, r) for k, r in synth.resources(stack, "AWS::Lambda::Function").items()
                if r["Properties"].get("Handler") == handler]
    return found


def statements_of(synth, stack: str, handler: str) -> list[dict]:
    """Every IAM statement attached to the role of the function whose handler is ``handler``."""
    _, fn = function_by_handler(synth, stack, handler)
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    out = []
    for policy in synth.resources(stack, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            out += policy["Properties"]["PolicyDocument"]["Statement"]
    return out


def actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


POSTBACKS = "lambda_functions.execution_engine.postbacks.handler"
ORDER_POLLER = "lambda_functions.execution_engine.order_poller.handler"


def test_postbacks_reads_only_the_checksum_secrets(any_env):
    """Finding 8: the public webhook's role could read every user's broker secrets (API key,
    password, TOTP seed, access token). It may now read only the checksum secrets."""
    statements = statements_of(any_env, OPTIONS, POSTBACKS)
    secret_statements = [s for s in statements if any(a.startswith("secretsmanager:") for a in actions(s))]
    assert secret_statements
    for st in secret_statements:
        assert actions(st) == ["secretsmanager:GetSecretValue"]
        assert json.dumps(st["Resource"]).endswith(f':secret:ql-algo-trading-{any_env.env}/postback-checksum/*"]]}}')
    assert "/broker/" not in json.dumps(statements)


def test_postbacks_never_call_a_broker_and_enqueue_follow_ups(any_env):
    """It runs outside the VPC: it gets no broker layer's network path to order with, and the
    follow-ups go to a queue the VPC order poller consumes."""
    _, fn = function_by_handler(any_env, OPTIONS, POSTBACKS)
    assert "VpcConfig" not in fn["Properties"]
    assert "POSTBACK_QUEUE_URL" in fn["Properties"]["Environment"]["Variables"]
    statements = statements_of(any_env, OPTIONS, POSTBACKS)
    assert any("sqs:SendMessage" in actions(s) for s in statements)
    queues = {r["Properties"]["QueueName"]: r["Properties"] for r in any_env.resources(OPTIONS, "AWS::SQS::Queue").values()}
    queue = queues[f"ql-algo-trading-{any_env.env}-postback-follow-ups"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3
    mappings = list(any_env.resources(ENGINE, "AWS::Lambda::EventSourceMapping").values())
    poller_id, poller = function_by_handler(any_env, ENGINE, ORDER_POLLER)
    (mapping,) = [m for m in mappings if m["Properties"]["FunctionName"] == {"Ref": poller_id}]
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::ImportValue": f"ql-algo-trading-{any_env.env}-postback-queue-arn"}
    if any_env.env == "staging":  # static egress: the poller (and so every stop) is in the VPC
        assert "VpcConfig" in poller["Properties"]


def test_public_routes_are_throttled_apart_from_the_traders_routes(any_env):
    """Finding: one stage-wide 200/400 rps limit for everything. Each method has its own bucket
    of the stage default; the public routes have lower method-level throttles of their own."""
    (stage,) = any_env.resources(OPTIONS, "AWS::ApiGateway::Stage").values()
    settings = {(s["ResourcePath"], s["HttpMethod"]): s for s in stage["Properties"]["MethodSettings"]}
    rate, burst = stage_throttle(any_env.config)
    assert settings[("/*", "*")]["ThrottlingRateLimit"] == rate
    for (path, method), (public_rate, public_burst) in public_route_throttles(any_env.config).items():
        s = settings[("/" + path.replace("/", "~1"), method)]
        assert (s["ThrottlingRateLimit"], s["ThrottlingBurstLimit"]) == (public_rate, public_burst)
        assert public_rate < rate and public_burst < burst
        assert s["LoggingLevel"] == "INFO" and s["MetricsEnabled"] is True


def test_waf_rate_based_rules_in_staging_and_production(dev, staging, production):
    assert not dev.resources(OPTIONS, "AWS::WAFv2::WebACL")
    for synth in (staging, production):
        (acl_id, acl), = synth.resources(OPTIONS, "AWS::WAFv2::WebACL").items()
        props = acl["Properties"]
        assert props["Scope"] == "REGIONAL" and "Allow" in props["DefaultAction"]
        rules = {r["Name"]: r for r in props["Rules"]}
        assert set(rules) == {"PublicRoutesPerIp", "TraderRoutesPerIp"}
        for rule in rules.values():
            rate = rule["Statement"]["RateBasedStatement"]
            assert rate["AggregateKeyType"] == "IP" and "Block" in rule["Action"]
        public = json.dumps(rules["PublicRoutesPerIp"]["Statement"])
        assert "/postbacks/" in public and "/broker-sessions/" in public
        assert "NotStatement" in json.dumps(rules["TraderRoutesPerIp"]["Statement"])
        (assoc,) = synth.resources(OPTIONS, "AWS::WAFv2::WebACLAssociation").values()
        assert assoc["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
        assert "restapis" in json.dumps(assoc["Properties"]["ResourceArn"])
