import json

import pytest

from shared_utils.config import CONFIG_FILE, ConfigError, load_environment


def test_every_environment_loads_and_names_resources():
    for name in ("local", "dev", "staging", "production"):
        env = load_environment(name)
        assert env.table_name == f"ql-algo-trading-{name}-trading-configurations"
        assert env.stack_name("execution-engine") == f"ql-algo-trading-{name}-execution-engine-stack"
    assert load_environment("production").retain and not load_environment("dev").retain
    assert load_environment("staging").settings.auth_broker.enable_static_egress_ip
    assert not load_environment("dev").settings.auth_broker.enable_static_egress_ip


def _write(tmp_path, mutate):
    data = json.loads(CONFIG_FILE.read_text())
    mutate(data)
    path = tmp_path / "environments.json"
    path.write_text(json.dumps(data))
    return path


def test_missing_key_is_named(tmp_path):
    path = _write(tmp_path, lambda d: d["environments"]["dev"]["options_platform"].pop("max_legs_per_strategy"))
    with pytest.raises(ConfigError, match=r"environments\.dev\.options_platform\.max_legs_per_strategy"):
        load_environment("dev", path)


def test_bad_value_is_named(tmp_path):
    path = _write(tmp_path, lambda d: d["environments"]["staging"].update(removal_policy="KEEP"))
    with pytest.raises(ConfigError, match=r"environments\.staging\.removal_policy"):
        load_environment("staging", path)


def test_unknown_key_and_environment(tmp_path):
    path = _write(tmp_path, lambda d: d["environments"]["dev"]["execution_engine"].update(typo_key=1))
    with pytest.raises(ConfigError, match=r"typo_key"):
        load_environment("dev", path)
    with pytest.raises(ConfigError, match=r"'qa' is not in environments.json"):
        load_environment("qa")


def test_resource_names_refuse_bad_characters():
    with pytest.raises(ConfigError, match="resource name"):
        load_environment("dev").resource_name("Bad_Name")
