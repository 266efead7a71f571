"""The Helm chart as `helm template` renders it: schema-valid manifests that fit the code they deploy.

Every manifest is validated against the Kubernetes API schemas (kubernetes-validate); the parts the chart
generates are then used for real: the webhook serves AdmissionReviews with the chart's certificate, verified
against the chart's caBundle; mitmproxy loads the chart's CA from a read-only mount; Wardgate loads the chart's
config and policy ConfigMaps as Kubernetes mounts them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import shutil
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml
from cryptography import x509

from tests.conftest import POLICIES, ROOT
from wardgate.cli import webhook as webhook_command
from wardgate.config import load_settings
from wardgate.intercept.ca import CA_COMMON_NAME
from wardgate.k8s.injector import ANNOTATION_INJECT, InjectorSettings, pod_patch
from wardgate.k8s.webhook import WebhookServer
from wardgate.policy.bundle import load_bundle
from wardgate.policy.engine import EmbeddedEngine
from wardgate.telemetry import DecisionMetrics

CHART = ROOT / "deploy" / "helm" / "wardgate"
NAMESPACE = "wardgate-system"
KUBERNETES = "1.33"
# Custom resources have no schema in kubernetes-validate; their fields are checked by the tests below.
CUSTOM_KINDS = {("cert-manager.io/v1", "Issuer"), ("cert-manager.io/v1", "Certificate"),
                ("monitoring.coreos.com/v1", "ServiceMonitor"),
                ("monitoring.coreos.com/v1", "PrometheusRule")}  # fmt: skip
SCENARIOS = {
    "defaults": [],
    "sidecars": ["--set", "injection.namespaces={team-a,team-b}"],
    "gateway": ["--set", "gateway.enabled=true", "--set", "serviceMonitor.enabled=true"],
    "opa-deployment": ["--set", "opa.mode=deployment", "--set", "injection.namespaces={team-a}"],
    "opa-sidecar": ["--set", "opa.mode=sidecar", "--set", "injection.namespaces={team-a}"],
    "cert-manager": ["--set", "webhook.certManager.enabled=true"],
    "redis": ["--set", "gateway.enabled=true", "--set", "redis.enabled=true"],
    "observability": ["--set", "prometheusRule.enabled=true", "--set", "grafanaDashboard.enabled=true"],
    "everything": ["--set", "gateway.enabled=true", "--set", "serviceMonitor.enabled=true", "--set",
                   "opa.mode=deployment", "--set", "webhook.certManager.enabled=true", "--set",
                   "injection.namespaces={team-a}", "--set", "webhook.failClosed=true", "--set", "redis.enabled=true",
                   "--set", "prometheusRule.enabled=true", "--set", "grafanaDashboard.enabled=true"],
}  # fmt: skip


@pytest.fixture(scope="module")
def helm() -> str:
    # `make install` puts it beside the interpreter (requirements/helm.txt).
    found = shutil.which("helm", path=str(Path(sys.executable).parent)) or shutil.which("helm")
    assert found, "helm is missing: run `make install` (requirements/helm.txt)"
    return found


def run_helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=120)


def render(helm: str, *options: str) -> list[dict[str, Any]]:
    result = run_helm(helm, "template", "wg", str(CHART), "--namespace", NAMESPACE, *options)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def find(documents: list[dict[str, Any]], kind: str, name: str, namespace: str | None = NAMESPACE) -> dict[str, Any]:
    matches = [
        d
        for d in documents
        if d["kind"] == kind and d["metadata"]["name"] == name and d["metadata"].get("namespace") == namespace
    ]
    assert len(matches) == 1, f"{kind} {namespace}/{name}: {len(matches)} rendered"
    return matches[0]


def secret_file(secret: dict[str, Any], key: str) -> bytes:
    return base64.b64decode(secret["data"][key])


def configmap_mount(directory: Path, files: dict[str, str]) -> Path:
    """A ConfigMap volume as the kubelet writes it: a timestamped directory, `..data` -> it, a link per key."""
    stamped = directory / "..2026_11_21_10_00_00.000000001"
    stamped.mkdir(parents=True)
    for name, content in files.items():
        (stamped / name).write_text(content)
    (directory / "..data").symlink_to(stamped.name)
    for name in files:
        (directory / name).symlink_to(f"..data/{name}")
    return directory


@pytest.fixture(scope="module")
def rendered(helm: str) -> dict[str, list[dict[str, Any]]]:
    return {name: render(helm, *options) for name, options in SCENARIOS.items()}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lint_passes(helm, scenario):
    result = run_helm(helm, "lint", str(CHART), "--strict", *SCENARIOS[scenario])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_manifest_is_valid_for_the_kubernetes_api(rendered, scenario):
    documents = rendered[scenario]
    assert documents
    for document in documents:
        if (document["apiVersion"], document["kind"]) in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_bad_values_are_refused_with_the_reason(helm):
    result = run_helm(helm, "template", "wg", str(CHART), "--set", "opa.mode=sidecars")
    assert result.returncode != 0
    assert "/opa/mode" in result.stderr
    assert "'embedded', 'sidecar', 'deployment'" in result.stderr
    result = run_helm(helm, "template", "wg", str(CHART), "--set", "gateway.upstream=vllm:8000")
    assert result.returncode != 0
    assert "/gateway/upstream" in result.stderr


def test_webhook_serves_with_the_generated_certificate_and_ca_bundle(rendered, tmp_path):
    documents = rendered["sidecars"]
    secret = find(documents, "Secret", "wg-wardgate-webhook-tls")
    configuration = find(documents, "MutatingWebhookConfiguration", "wg-wardgate", namespace=None)
    (webhook,) = configuration["webhooks"]
    service = find(documents, "Service", webhook["clientConfig"]["service"]["name"])
    deployment = find(documents, "Deployment", "wg-wardgate-webhook")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    # The API server's route: the Service port, then the container port the webhook listens on.
    assert webhook["clientConfig"]["service"]["port"] == service["spec"]["ports"][0]["port"]
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]
    args = dict(arg.removeprefix("--").split("=", 1) for arg in container["args"][1:] if "=" in arg)
    assert int(args["port"]) == container["ports"][0]["containerPort"]
    volume = deployment["spec"]["template"]["spec"]["volumes"][0]
    mount = container["volumeMounts"][0]
    assert volume["secret"]["secretName"] == secret["metadata"]["name"]
    assert mount["name"] == volume["name"]
    assert args["cert"] == f"{mount['mountPath']}/tls.crt"
    assert args["key"] == f"{mount['mountPath']}/tls.key"
    (tmp_path / "tls.crt").write_bytes(secret_file(secret, "tls.crt"))
    (tmp_path / "tls.key").write_bytes(secret_file(secret, "tls.key"))
    ca_bundle = base64.b64decode(webhook["clientConfig"]["caBundle"]).decode()
    host = f"{service['metadata']['name']}.{NAMESPACE}.svc"

    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "1",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "object": {
                "metadata": {"name": "agent", "annotations": {"wardgate.dev/inject": "true"}},
                "spec": {"containers": [{"name": "agent", "image": "agent:1"}]},
            },
        },
    }

    async def admit() -> dict[str, Any]:
        settings = InjectorSettings(image=args["image"])
        server = WebhookServer(
            settings, cert=tmp_path / "tls.crt", key=tmp_path / "tls.key", host="127.0.0.1", port=0, fail_closed=False
        )
        await server.start()
        try:
            # Verified as the API server would: the caBundle as the only trust anchor, the Service's DNS name.
            async with httpx.AsyncClient(verify=ssl.create_default_context(cadata=ca_bundle)) as client:
                response = await client.post(
                    f"https://127.0.0.1:{server.port}{webhook['clientConfig']['service']['path']}",
                    json=review,
                    extensions={"sni_hostname": host},
                )
            return response.json()
        finally:
            await server.stop()

    answer = asyncio.run(admit())
    assert answer["response"]["allowed"]
    assert answer["response"]["patchType"] == "JSONPatch"
    patch = json.loads(base64.b64decode(answer["response"]["patch"]))
    (init_containers,) = [op["value"] for op in patch if op["path"] == "/spec/initContainers"]
    sidecar = next(container for container in init_containers if container["name"] == "wardgate")
    assert sidecar["image"] == "ghcr.io/wardgate/wardgate:0.1.0"


def test_webhook_arguments_are_options_of_the_webhook_command(rendered):
    known = {opt for param in webhook_command.params for opt in param.opts}
    for scenario in ("defaults", "opa-sidecar", "everything"):
        container = find(rendered[scenario], "Deployment", "wg-wardgate-webhook")["spec"]["template"]["spec"]
        command, *args = container["containers"][0]["args"]
        assert command == webhook_command.name
        assert {arg.split("=", 1)[0] for arg in args} <= known
    sidecar_args = find(rendered["opa-sidecar"], "Deployment", "wg-wardgate-webhook")["spec"]["template"]["spec"]
    assert "--opa-image=openpolicyagent/opa:1.20.2" in sidecar_args["containers"][0]["args"]
    everything = find(rendered["everything"], "Deployment", "wg-wardgate-webhook")["spec"]["template"]["spec"]
    assert "--fail-closed" in everything["containers"][0]["args"]


def test_cert_manager_issues_the_secret_the_webhook_mounts_and_injects_the_ca(rendered):
    documents = rendered["cert-manager"]
    assert not [d for d in documents if d["kind"] == "Secret" and d["metadata"]["name"] == "wg-wardgate-webhook-tls"]
    certificate = find(documents, "Certificate", "wg-wardgate-webhook")
    issuer = find(documents, "Issuer", certificate["spec"]["issuerRef"]["name"])
    assert issuer["spec"] == {"selfSigned": {}}
    deployment = find(documents, "Deployment", "wg-wardgate-webhook")
    assert (
        deployment["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"]
        == certificate["spec"]["secretName"]
    )
    configuration = find(documents, "MutatingWebhookConfiguration", "wg-wardgate", namespace=None)
    annotation = configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    assert annotation == f"{NAMESPACE}/{certificate['metadata']['name']}"
    assert "caBundle" not in configuration["webhooks"][0]["clientConfig"]
    service = configuration["webhooks"][0]["clientConfig"]["service"]
    assert f"{service['name']}.{NAMESPACE}.svc" in certificate["spec"]["dnsNames"]


def test_each_injection_namespace_gets_what_the_injected_sidecar_mounts(rendered):
    documents = rendered["sidecars"]
    injector = InjectorSettings()
    ca_certs = set()
    for namespace in ("team-a", "team-b"):
        find(documents, "ConfigMap", injector.config_map, namespace)
        find(documents, "ConfigMap", injector.policies_config_map, namespace)
        ca = find(documents, "Secret", injector.ca_secret, namespace)
        public = find(documents, "ConfigMap", "wardgate-ca-cert", namespace)["data"]["ca.crt"]
        assert secret_file(ca, "mitmproxy-ca-cert.pem").decode().strip() == public.strip()
        ca_certs.add(public)
    assert len(ca_certs) == 1  # one CA for every namespace, so one trust bundle
    # Nothing lands in the release namespace that nobody there mounts.
    assert not [d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["namespace"] == NAMESPACE]


def test_mitmproxy_loads_the_generated_ca_from_a_read_only_mount(rendered, tmp_path):
    from mitmproxy.certs import CertStore

    secret = find(rendered["sidecars"], "Secret", InjectorSettings().ca_secret, "team-a")
    for key in secret["data"]:
        (tmp_path / key).write_bytes(secret_file(secret, key))
    tmp_path.chmod(0o555)
    try:
        store = CertStore.from_store(tmp_path, "mitmproxy", 2048)
        assert store.default_ca.cn == CA_COMMON_NAME  # the name Wardgate gives a CA it creates itself
        entry = store.get_cert("api.openai.com", [x509.DNSName("api.openai.com")])
        assert entry.cert.issuer == store.default_ca.subject
    finally:
        tmp_path.chmod(0o755)


@pytest.mark.parametrize(
    ("scenario", "engine", "opa_url"),
    [
        ("sidecars", "embedded", None),
        ("opa-sidecar", "opa", "http://127.0.0.1:8181"),
        ("opa-deployment", "opa", f"http://wg-wardgate-opa.{NAMESPACE}.svc:8181"),
    ],
)
def test_config_map_is_a_valid_wardgate_config_for_the_opa_mode(
    rendered, tmp_path, monkeypatch, scenario, engine, opa_url
):
    config = find(rendered[scenario], "ConfigMap", "wardgate-config", "team-a")
    path = tmp_path / "wardgate.yaml"
    path.write_text(config["data"]["wardgate.yaml"])
    # Read as the injected sidecar reads it: with the environment the webhook gives that container.
    injected = pod_patch({"metadata": {"annotations": {ANNOTATION_INJECT: "true"}}, "spec": {}}, InjectorSettings())
    (sidecar,) = [
        c for op in injected if op["path"] == "/spec/initContainers" for c in op["value"] if c["name"] == "wardgate"
    ]
    for variable in sidecar["env"]:
        if "value" in variable:
            monkeypatch.setenv(variable["name"], variable["value"])
    settings = load_settings(path)
    assert settings.mode == "transparent"
    assert settings.policy.engine == engine
    assert settings.audit.stdout
    assert settings.audit.file is None
    if opa_url:
        assert settings.policy.opa_url == opa_url
    if scenario == "opa-deployment":
        service = find(rendered[scenario], "Service", "wg-wardgate-opa")
        assert service["spec"]["ports"][0]["port"] == 8181
        opa = find(rendered[scenario], "Deployment", "wg-wardgate-opa")["spec"]["template"]["spec"]["containers"][0]
        assert opa["image"] == "openpolicyagent/opa:1.20.2"
        assert "--ignore=.*" in opa["args"]


def test_user_config_merges_over_the_defaults(helm, tmp_path):
    documents = render(
        helm, "--set", "injection.namespaces={team-a}", "--set", "config.scanners.pii.enabled=false",
        "--set", "config.audit.record_input=true",
    )  # fmt: skip
    path = tmp_path / "wardgate.yaml"
    path.write_text(find(documents, "ConfigMap", "wardgate-config", "team-a")["data"]["wardgate.yaml"])
    settings = load_settings(path, mode="transparent")
    assert not settings.scanners.pii.enabled
    assert settings.audit.record_input
    assert settings.audit.stdout


def test_policy_config_map_mounted_as_kubernetes_does_is_the_default_bundle(rendered, tmp_path):
    files = find(rendered["sidecars"], "ConfigMap", "wardgate-policies", "team-a")["data"]
    mounted = load_bundle(configmap_mount(tmp_path / "policies", files))
    shipped = load_bundle(POLICIES)
    assert sorted(mounted.modules.values()) == sorted(shipped.modules.values())
    assert mounted.data == shipped.data
    engine = EmbeddedEngine(tmp_path / "policies", timeout=10)
    engine.load()  # compiles: no module loaded twice through ..data/
    asyncio.run(engine.close())


def test_user_policies_replace_the_default_bundle(helm, tmp_path):
    rego = tmp_path / "decision.rego"
    rego.write_text('package wardgate\n\ndecision := {"allow": true}\n')
    documents = render(
        helm, "--set", "injection.namespaces={team-a}", "--set-file", f"policies.files.decision\\.rego={rego}"
    )
    files = find(documents, "ConfigMap", "wardgate-policies", "team-a")["data"]
    assert files == {"decision.rego": rego.read_text()}


def test_gateway_settings_come_from_its_env_and_config(rendered, tmp_path, monkeypatch):
    documents = rendered["gateway"]
    deployment = find(documents, "Deployment", "wg-wardgate-gateway")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for variable in container["env"]:
        monkeypatch.setenv(variable["name"], variable["value"])
    path = tmp_path / "wardgate.yaml"
    path.write_text(find(documents, "ConfigMap", "wardgate-config")["data"]["wardgate.yaml"])
    assert container["args"][:1] == ["--config"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v.get("configMap", v.get("secret")) for v in pod["volumes"]}
    assert container["args"][1] == f"{mounts['config']}/wardgate.yaml"
    settings = load_settings(path)
    assert (settings.mode, settings.upstream, settings.listen_host) == (
        "reverse",
        "http://vllm.models.svc:8000",
        "0.0.0.0",
    )
    assert str(settings.policy.dir) == mounts["policies"]
    assert str(settings.confdir) == mounts["ca"]
    assert volumes["ca"] == {"secretName": InjectorSettings().ca_secret}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert (settings.port, settings.admin_port) == (ports["http"], ports["admin"])
    assert pod["securityContext"]["runAsUser"] == InjectorSettings().uid
    assert pod["enableServiceLinks"] is False  # WARDGATE_<SERVICE>_* variables are no settings


def test_gateway_api_keys_come_from_the_named_secret(helm, monkeypatch):
    """README: gateway clients authenticate with a Wardgate API key, which only a file can hold."""
    documents = render(helm, "--set", "gateway.enabled=true", "--set", "gateway.apiKeysSecret=wg-keys")
    pod = find(documents, "Deployment", "wg-wardgate-gateway")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    for variable in container["env"]:
        monkeypatch.setenv(variable["name"], variable["value"])
    settings = load_settings(None)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v.get("secret") for v in pod["volumes"]}
    assert settings.identity.api_keys.enabled
    assert str(settings.identity.api_keys.file) == f"{mounts['api-keys']}/api-keys.yaml"
    assert volumes["api-keys"] == {"secretName": "wg-keys"}


def test_service_monitor_scrapes_the_gateway_admin_port(rendered):
    documents = rendered["gateway"]
    monitor = find(documents, "ServiceMonitor", "wg-wardgate-gateway")
    service = find(documents, "Service", "wg-wardgate-gateway")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}


def test_usage_is_shared_through_the_charts_redis_or_yours(rendered, helm, tmp_path):
    documents = rendered["redis"]
    path = tmp_path / "wardgate.yaml"
    path.write_text(find(documents, "ConfigMap", "wardgate-config")["data"]["wardgate.yaml"])
    limits = load_settings(path, upstream="http://x").limits
    service = find(documents, "Service", "wg-wardgate-redis")
    assert limits.usage == "redis"
    assert (
        limits.redis_url
        == f"redis://{service['metadata']['name']}.{NAMESPACE}.svc:{service['spec']['ports'][0]['port']}/0"
    )
    redis = find(documents, "Deployment", "wg-wardgate-redis")["spec"]["template"]["spec"]["containers"][0]
    assert "--save" in redis["args"]
    # An existing Redis: the chart points at it and deploys none.
    external = render(helm, "--set", "gateway.enabled=true", "--set", "redis.url=redis://redis.infra.svc:6379/2")
    assert not [d for d in external if d["metadata"]["name"] == "wg-wardgate-redis"]
    path.write_text(find(external, "ConfigMap", "wardgate-config")["data"]["wardgate.yaml"])
    assert load_settings(path, upstream="http://x").limits.redis_url == "redis://redis.infra.svc:6379/2"


def test_disruption_budgets_select_the_pods_they_protect(rendered, helm):
    documents = rendered["gateway"]
    for component in ("webhook", "gateway"):
        budget = find(documents, "PodDisruptionBudget", f"wg-wardgate-{component}")
        pods = find(documents, "Deployment", f"wg-wardgate-{component}")["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= pods.items()
        assert budget["spec"]["minAvailable"] == 1
    single = render(helm, "--set", "webhook.replicas=1")
    assert not [d for d in single if d["kind"] == "PodDisruptionBudget"]


def exposed_metrics() -> dict[str, set[str]]:
    """Every series name `/metrics` serves, with its label names, once a decision has been counted."""
    metrics = DecisionMetrics()
    metrics.observe({"phase": "request", "result": {"allow": True, "reasons": [{"code": "x"}]},
                     "finding_counts": {"pii:PERSON": 1}, "scan_error": "timeout",
                     "metrics": {"scan_ms": 1.0, "policy_ms": 1.0, "total_ms": 2.0}})  # fmt: skip
    series: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


# What a PromQL expression may call, and the words that are neither functions nor metrics.
PROMQL_FUNCTIONS = {"sum", "rate", "increase", "histogram_quantile", "max", "min", "avg", "count"}
PROMQL_GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
PROMQL_WORDS = {"and", "or", "unless", "offset", "bool"}
PROMQL_TOKEN = re.compile(r'"[^"]*"|\[[^\]]*\]|[A-Za-z_:][\w:]*|\d+(?:\.\d+)?|[(){}]|[^\s\w"(){}\[\]]+')


def promql_problems(expr: str, series: dict[str, set[str]]) -> list[str]:
    """A PromQL check without Prometheus: brackets balance, calls are known functions, every metric is one
    Wardgate serves, and every label matched or grouped by is one that metric has."""
    tokens = PROMQL_TOKEN.findall(expr)
    problems, depth, metrics, labels = [], [], [], []
    grouping = selector = False
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if token in "({":
            depth.append(token)
        elif token in ")}":
            if not depth or depth.pop() != {")": "(", "}": "{"}[token]:
                problems.append(f"unbalanced {token}")
            grouping = grouping and token != ")"
            selector = selector and token != "}"
        if not re.fullmatch(r"[A-Za-z_:][\w:]*", token):
            selector = selector or token == "{"
            continue
        if selector or grouping:
            labels.append(token)
        elif token in PROMQL_GROUPING:
            grouping = following == "("
        elif token in PROMQL_FUNCTIONS or token in PROMQL_WORDS:
            continue  # an aggregation may be followed by its `by (...)` rather than its argument
        elif following == "(":
            problems.append(f"unknown function {token}")
        else:
            metrics.append(token)
            problems += [] if token in series else [f"no metric {token}"]
    problems += ["unclosed " + "".join(depth)] if depth else []
    known_labels = set().union(*(series.get(metric, set()) for metric in metrics))
    problems += [f"no label {label} on {metrics}" for label in labels if label not in known_labels]
    return problems + ([] if metrics else ["no metric at all"])


def test_promql_check_catches_what_it_should():
    series = exposed_metrics()
    assert promql_problems('sum by (phase) (rate(wardgate_scan_errors_total{phase="request"}[5m])) > 0', series) == []
    assert promql_problems("rate(wardgate_audit_failures_total[5m])", series) == [
        "no metric wardgate_audit_failures_total"
    ]
    assert promql_problems("sum by (tenant) (rate(wardgate_decisions_total[5m]))", series)[0].startswith("no label")
    assert promql_problems("sum(rate(wardgate_decisions_total[5m])", series) == ["unclosed ("]


def test_defaults_render_no_monitoring_objects(rendered):
    kinds = {(d["kind"], d["metadata"]["name"]) for d in rendered["defaults"]}
    assert not kinds & {("PrometheusRule", "wg-wardgate"), ("ConfigMap", "wg-wardgate-dashboard")}


def test_prometheus_rule_alerts_on_metrics_wardgate_serves(rendered):
    series = exposed_metrics()
    rule = find(rendered["observability"], "PrometheusRule", "wg-wardgate")
    (group,) = rule["spec"]["groups"]
    alerts = {alert["alert"]: alert for alert in group["rules"]}
    assert set(alerts) == {"WardgateFailOpen", "WardgateScannerErrors", "WardgateDenialSpike", "WardgateDecisionsSlow",
                           "WardgateAuditUnavailable", "WardgateOverloaded"}  # fmt: skip
    for name, alert in alerts.items():
        assert promql_problems(alert["expr"], series) == [], name
        assert re.fullmatch(r"\d+[smh]", alert.get("for", "0m")), name
        assert alert["labels"]["severity"] in {"warning", "critical"}
        assert alert["annotations"]["summary"]
        assert alert["annotations"]["description"]
        # Prometheus' own templates survived Helm, and name only labels the expression keeps.
        grouped = re.findall(r"by \(([^)]*)\)", alert["expr"])
        kept = set(grouped[0].replace(" ", "").split(",")) - {"le"} if grouped else set()
        assert set(re.findall(r"\$labels\.(\w+)", alert["annotations"]["summary"])) <= kept, name
    assert 'outcome="fail_open"' in alerts["WardgateFailOpen"]["expr"]
    assert alerts["WardgateDenialSpike"]["expr"].rstrip().endswith("> 0.25")


def test_grafana_dashboard_is_a_labelled_config_map_of_queries_on_wardgate_metrics(rendered):
    series = exposed_metrics()
    config_map = find(rendered["observability"], "ConfigMap", "wg-wardgate-dashboard")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    (document,) = config_map["data"].values()
    dashboard = json.loads(document)
    assert dashboard["uid"]
    assert dashboard["title"]
    assert [v["name"] for v in dashboard["templating"]["list"]] == ["datasource"]
    panel_ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(panel_ids) == len(set(panel_ids)) >= 6
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        for target in panel["targets"]:
            assert promql_problems(target["expr"], series) == [], panel["title"]
    queried = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for metric in ("wardgate_decisions_total", "wardgate_findings_total", "wardgate_scan_errors_total",
                   "wardgate_decision_duration_seconds_bucket", "wardgate_stage_duration_seconds_bucket"):  # fmt: skip
        assert metric in queried
