from collections.abc import Iterator

import pytest
import yaml

from wardgate.config import Settings, check_serving, load_settings
from wardgate.errors import ConfigError


def test_priority_is_flags_then_env_then_yaml(tmp_path, monkeypatch):
    config = tmp_path / "w.yaml"
    config.write_text(
        "upstream: https://api.openai.com\nport: 9000\nadmin_port: 9001\npolicy:\n  timeout_ms: 100\n  dir: p\n"
    )
    monkeypatch.setenv("WARDGATE_PORT", "9100")
    monkeypatch.setenv("WARDGATE_POLICY__TIMEOUT_MS", "250")
    settings = load_settings(config, port=9200)
    assert (
        settings.port,
        settings.admin_port,
        settings.policy.timeout_ms,
        str(settings.policy.dir),
    ) == (9200, 9001, 250, "p")


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("mode: reverse\n", "reverse mode needs `upstream`"),
        ("upstream: ftp://x\n", "upstream: Value error, must be an http"),
        ("upstream: http://x\nport: 70000\n", "port: Input should be less than or equal to 65535"),
        ("upstream: http://x\npolicy:\n  timeout_ms: 0\n", "policy.timeout_ms"),
        ("upstream: http://x\nbogus: 1\n", "bogus: Extra inputs are not permitted"),
        ("upstream: http://x\nfail_closed:\n  policy_error: [later]\n", "fail_closed.policy_error.0"),
        ("- a list\n", "must hold a mapping"),
        ("upstream: [unclosed\n", "not valid YAML"),
        ("upstream: http://x\nidle_timeout_s: 60\n", "upstream_timeout_s must be below idle_timeout_s"),
    ],
)
def test_invalid_config_names_the_problem(tmp_path, yaml_text, message):
    config = tmp_path / "w.yaml"
    config.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_settings(config)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "nope.yaml")


def test_bad_env_value_is_a_config_error(monkeypatch):
    monkeypatch.setenv("WARDGATE_ADMIN_PORT", "abc")
    with pytest.raises(ConfigError, match="admin_port"):
        load_settings(None, upstream="http://x")


def test_an_empty_audit_file_variable_turns_the_file_off(tmp_path, monkeypatch):
    # What the sidecar injector and the Helm chart set: a pod logs its audit trail to stdout only.
    (tmp_path / "wardgate.yaml").write_text("audit: {file: audit.jsonl}\n")
    monkeypatch.setenv("WARDGATE_AUDIT__FILE", "")
    assert load_settings(tmp_path / "wardgate.yaml", upstream="http://x").audit.file is None


def test_the_readme_configuration_example_is_valid(tmp_path):
    """The documented YAML is what users copy: it must load as it stands."""
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    example = readme.split("## Configuration", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    (tmp_path / "wardgate.yaml").write_text(example)
    settings = load_settings(tmp_path / "wardgate.yaml")
    assert settings.scanners.pii.ner.model is not None
    assert settings.masking.operators == {"US_SSN": "redact", "CREDIT_CARD": "partial"}
    # Every other value it shows is the default: a user who copies it must not get weaker settings (an outside
    # review: its fail_closed phases and llm_hosts were fewer than the defaults).
    shown = yaml.safe_load(example)
    defaults = Settings(upstream=shown["upstream"]).model_dump(mode="json")
    examples = {"scanners.links.allowed_hosts", "masking.operators"}
    assert list(_differences(shown, defaults, examples)) == []


def _differences(shown: dict, defaults: dict, examples: set[str], path: str = "") -> Iterator[str]:
    for key, value in shown.items():
        where = f"{path}.{key}" if path else key
        if where in examples:
            continue
        if isinstance(value, dict) and isinstance(defaults.get(key), dict):
            yield from _differences(value, defaults[key], examples, where)
        elif value != defaults.get(key):
            yield f"{where}: README {value!r}, default {defaults.get(key)!r}"


@pytest.mark.parametrize(
    ("value", "expected"), [("INJECTION", "INJECTION"), ('["INJECTION", "JAILBREAK"]', ["INJECTION", "JAILBREAK"])]
)
def test_positive_label_from_the_environment_is_one_label_or_a_json_list(monkeypatch, value, expected):
    monkeypatch.setenv("WARDGATE_SCANNERS__INJECTION__POSITIVE_LABEL", value)
    assert load_settings(None, upstream="http://x").scanners.injection.positive_label == expected


@pytest.mark.parametrize(
    "name", ["WARDGATE_PORTT", "WARDGATE_POLCY__TIMEOUT_MS", "WARDGATE_GATEWAY__PORT", "WARDGATE_AMDIN_PORT"]
)
def test_a_misspelt_environment_variable_is_a_config_error(monkeypatch, name):
    monkeypatch.setenv(name, "9000")
    with pytest.raises(ConfigError, match=f"{name} names no setting"):
        load_settings(None, upstream="http://x")


def test_kubernetes_service_links_are_not_settings(monkeypatch):
    """Every pod gets these for each Service of its namespace: the chart's own are named wardgate-*."""
    for name, value in {"WARDGATE_GATEWAY_SERVICE_HOST": "10.0.0.1", "WARDGATE_GATEWAY_SERVICE_PORT": "8080",
                        "WARDGATE_GATEWAY_SERVICE_PORT_HTTP": "8080", "WARDGATE_REDIS_PORT": "tcp://10.0.0.2:6379",
                        "WARDGATE_REDIS_PORT_6379_TCP": "tcp://10.0.0.2:6379",
                        "WARDGATE_REDIS_PORT_6379_TCP_ADDR": "10.0.0.2", "WARDGATE_REDIS_PORT_6379_TCP_PORT": "6379",
                        "WARDGATE_REDIS_PORT_6379_TCP_PROTO": "tcp", "WARDGATE_SERVICE_HOST": "10.0.0.3",
                        "WARDGATE_PORT_8080_TCP": "tcp://10.0.0.3:8080"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    assert load_settings(None, upstream="http://x").port == 8080


@pytest.mark.parametrize("value", ["", "null"])
def test_an_empty_or_null_environment_value_is_none(monkeypatch, value):
    monkeypatch.setenv("WARDGATE_ADMIN_PORT", value)
    monkeypatch.setenv("WARDGATE_UPSTREAM_CA", value)
    monkeypatch.setenv("WARDGATE_AUDIT__FILE", value)  # `null` was a file named null in the working directory
    settings = load_settings(None, upstream="http://x")
    assert (settings.admin_port, settings.upstream_ca, settings.audit.file) == (None, None, None)


@pytest.mark.parametrize("mode", ["forward", "transparent"])
def test_one_provider_key_for_every_inspected_host_is_refused_before_serving(tmp_path, mode):
    config = tmp_path / "w.yaml"
    config.write_text(f"mode: {mode}\nidentity:\n  upstream_credential: {{value_env: K}}\n")
    settings = load_settings(config)  # `wardgate ca` and `env` still read such a file
    with pytest.raises(ConfigError, match="is for reverse mode"):
        check_serving(settings)
