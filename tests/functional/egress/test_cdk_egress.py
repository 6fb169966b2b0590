"""Issue 16, "done when": a deployment with three traders synthesizes three egress IPs (one per
group on the Squid proxy), and every broker-calling function routes by group (QL_EGRESS_GROUPS
naming every group's proxy port, inside the VPC, allowed to reach the proxy). cdk-nag runs as in
tests/infrastructure (a rejected synth raises)."""

from __future__ import annotations

import json

import pytest

GROUPS = {
    "family-rao": {"users": ["sub-asha", "sub-ravi"], "ip_since": "2026-11-02"},
    "trader-iyer": {"users": ["sub-meera"], "ip_since": "2026-11-09"},
    "trader-khan": {"users": ["sub-imran"], "ip_since": "2026-11-16"},
}


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    import os

    from tests.infrastructure.conftest import _synth

    config = tmp_path_factory.mktemp("egress") / "egress.json"
    config.write_text(json.dumps({"production": {"groups": GROUPS}}))
    old = os.environ.get("QL_EGRESS_CONFIG")
    os.environ["QL_EGRESS_CONFIG"] = str(config)
    try:
        yield _synth("production", tmp_path_factory.mktemp("cdk-egress"))
    finally:
        if old is None:
            os.environ.pop("QL_EGRESS_CONFIG", None)
        else:
            os.environ["QL_EGRESS_CONFIG"] = old


def test_three_groups_synthesize_three_egress_ips_on_one_proxy(synth):
    eips = synth.resources("auth-broker", "AWS::EC2::EIP")
    group_eips = {k: v for k, v in eips.items()
                  if any(t["Key"] == "egress-group" for t in v["Properties"].get("Tags", []))}
    assert sorted(t["Value"] for v in group_eips.values() for t in v["Properties"]["Tags"]
                  if t["Key"] == "egress-group") == sorted(GROUPS)
    assert all(v.get("DeletionPolicy") == "Retain" for v in group_eips.values())  # registered with brokers
    associations = synth.resources("auth-broker", "AWS::EC2::EIPAssociation")
    assert sorted(a["Properties"]["PrivateIpAddress"] for a in associations.values()) == [
        "10.40.0.10", "10.40.0.11", "10.40.0.12"]
    [instance] = synth.resources("auth-broker", "AWS::EC2::Instance").values()
    assert instance["Properties"]["InstanceType"] == "t4g.small"
    user_data = json.dumps(instance["Properties"]["UserData"])
    for i, ip in enumerate(["10.40.0.10", "10.40.0.11", "10.40.0.12"]):
        assert f"http_port {3128 + i} name=g{i}" in user_data and f"tcp_outgoing_address {ip} g{i}" in user_data


def _broker_functions(synth, stack):
    return {k: v for k, v in synth.resources(stack, "AWS::Lambda::Function").items()
            if "SMARTAPI_LOG_DIR" in v["Properties"].get("Environment", {}).get("Variables", {})}


def _routing(value, synth, stack):
    """QL_EGRESS_GROUPS as JSON (the auth-broker's embeds the EIP refs via Fn::Join)."""
    if isinstance(value, str):
        return json.loads(value)
    parts = value["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else '"EIP"' for p in parts).replace('""EIP""', '"EIP"'))


def test_every_broker_calling_function_routes_by_group(synth):
    seen = 0
    for stack in ("auth-broker", "execution-engine", "options-platform"):
        functions = _broker_functions(synth, stack)
        assert functions, stack
        for logical, fn in functions.items():
            props = fn["Properties"]
            assert props.get("VpcConfig"), f"{stack}/{logical} is outside the VPC"
            assert props["Environment"]["Variables"].get("QL_EGRESS_REQUIRED") == "1"
            routing = _routing(props["Environment"]["Variables"].get("QL_EGRESS_GROUPS", "{}"), synth, stack)
            assert sorted(routing) == sorted(GROUPS), f"{stack}/{logical} does not route by group"
            proxies = sorted(g["proxy"] for g in routing.values())
            assert proxies == ["http://10.40.0.10:3128", "http://10.40.0.11:3129", "http://10.40.0.12:3130"]
            users = [u for g in routing.values() for u in g["users"]]
            assert len(users) == len(set(users)) == 4
            seen += 1
    assert seen >= 9  # incl. the market function (broker quotes and margins); postbacks call no broker
    # the engine's broker security group may reach the proxy's group ports
    rules = [r for r in synth.resources("execution-engine", "AWS::EC2::SecurityGroup").values()
             for r in r["Properties"].get("SecurityGroupEgress", [])]
    assert any(r.get("FromPort") == 3128 and r.get("ToPort") == 3130 for r in rules)


def test_runtime_reads_the_synthesized_routing(synth):
    from shared_utils.egress import EgressConfig

    fn = next(iter(_broker_functions(synth, "execution-engine").values()))
    config = EgressConfig.from_mapping(json.loads(fn["Properties"]["Environment"]["Variables"]["QL_EGRESS_GROUPS"]))
    assert config.route_for("sub-ravi").name == "family-rao"
    assert config.route_for("sub-imran").proxy == "http://10.40.0.12:3130"


def test_required_without_a_routing_table_refuses(monkeypatch):
    from shared_utils.egress import EgressConfig, NoEgressGroup

    monkeypatch.delenv("QL_EGRESS_GROUPS", raising=False)
    monkeypatch.setenv("QL_EGRESS_REQUIRED", "1")
    with pytest.raises(NoEgressGroup):
        EgressConfig.from_env().route_for("sub-asha", "ZX1")
