"""Sidecar injection on real AdmissionReview v1 documents; the patched pod is checked with the kubernetes models."""

import base64
import copy
import json

import jsonpatch
import kubernetes_validate
import pytest
from kubernetes.client import ApiClient

from wardgate.config import load_settings
from wardgate.k8s.injector import InjectorSettings
from wardgate.k8s.webhook import review_response

SETTINGS = InjectorSettings(image="registry.example/wardgate:0.1.0")
KUBERNETES = "1.33"  # native sidecars (restartPolicy on init containers) are GA here


def review(pod: dict, kind: str = "Pod") -> dict:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": kind},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "payments",
            "operation": "CREATE",
            "object": pod,
        },
    }


def pod(annotations: dict | None = None, init: bool = False) -> dict:
    spec = {
        "serviceAccountName": "billing-agent",
        "containers": [{"name": "agent", "image": "registry.example/agent:1.4", "ports": [{"containerPort": 9000}]}],
    }
    if init:
        spec["initContainers"] = [{"name": "migrate", "image": "registry.example/migrate:1"}]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "agent-0", "namespace": "payments", "annotations": annotations or {}},
        "spec": spec,
    }


def patched(document: dict, **options) -> tuple[dict, dict]:
    answer = review_response(review(document), SETTINGS, **options)
    response = answer["response"]
    if "patch" not in response:
        return response, document
    patch = json.loads(base64.b64decode(response["patch"]))
    return response, jsonpatch.apply_patch(copy.deepcopy(document), patch)


class _Raw:
    def __init__(self, document: dict) -> None:
        self.data = json.dumps(document)


def as_model(document: dict):
    return ApiClient().deserialize(_Raw(document), "V1Pod")


INJECT = {"wardgate.dev/inject": "true"}


def test_annotated_pod_gets_native_sidecar_after_the_iptables_init_container_and_volumes():
    response, result = patched(pod(INJECT))
    assert (response["allowed"], response["patchType"], response["uid"]) == (
        True, "JSONPatch", "705ab4f5-6393-11e8-b7cc-42010a800002"
    )  # fmt: skip
    kubernetes_validate.validate(result, KUBERNETES, strict=True)
    model = as_model(result)
    assert [c.name for c in model.spec.containers] == ["agent"]
    # The kubelet runs init containers in order: the redirect first, then Wardgate, which keeps running
    # (restartPolicy Always: a native sidecar) and is stopped after the app's containers, so a Job completes.
    init, sidecar = model.spec.init_containers
    assert init.args[:2] == ["iptables", "--apply"]
    assert init.restart_policy is None  # runs to completion before anything else starts
    assert "NET_ADMIN" in init.security_context.capabilities.add
    assert sidecar.name == "wardgate"
    assert sidecar.restart_policy == "Always"
    assert sidecar.security_context.run_as_user == 10001
    # The next container starts only once the startup probe passes: /readyz answers when Wardgate listens.
    assert sidecar.startup_probe.http_get.path == "/readyz"
    assert sidecar.readiness_probe.http_get.path == "/readyz"
    assert sidecar.liveness_probe.http_get.path == "/healthz"
    ports = {p.name: p.container_port for p in sidecar.ports}
    for probe in (sidecar.startup_probe, sidecar.readiness_probe, sidecar.liveness_probe):
        assert probe.http_get.port == ports["wardgate-admin"]
    assert {e.name for e in sidecar.env} >= {"POD_NAMESPACE", "POD_SERVICE_ACCOUNT", "WARDGATE_MODE"}
    assert {v.name for v in model.spec.volumes} == {"wardgate-config", "wardgate-policies", "wardgate-ca"}
    assert model.metadata.annotations["wardgate.dev/status"] == "injected"


def test_sidecar_environment_keeps_the_proxy_on_loopback_and_opens_the_admin_port_to_the_probes(monkeypatch):
    _, result = patched(pod(INJECT))
    sidecar = result["spec"]["initContainers"][1]
    for variable in sidecar["env"]:
        if "value" in variable:
            monkeypatch.setenv(variable["name"], variable["value"])
    settings = load_settings(None)
    assert (settings.mode, settings.listen_host, settings.admin_host) == ("transparent", "127.0.0.1", "0.0.0.0")
    assert settings.admin_port == sidecar["startupProbe"]["httpGet"]["port"]


def test_injection_is_idempotent():
    _, once = patched(pod(INJECT))
    response, twice = patched(once)
    assert "patch" not in response
    assert twice == once


def test_existing_init_containers_run_after_wardgate_so_their_traffic_is_guarded_too():
    _, result = patched(pod(INJECT, init=True))
    assert [c["name"] for c in result["spec"]["initContainers"]] == ["wardgate-init", "wardgate", "migrate"]
    kubernetes_validate.validate(result, KUBERNETES, strict=True)


def test_exclude_ports_reach_the_iptables_rules():
    _, result = patched(pod({**INJECT, "wardgate.dev/exclude-ports": "5432, 6379"}))
    init = result["spec"]["initContainers"][0]
    assert init["args"][-2:] == ["--exclude-ports", "5432,6379"]


def test_opa_sidecar_on_request_starts_before_wardgate():
    answer = review_response(review(pod(INJECT, init=True)), InjectorSettings(opa_image="openpolicyagent/opa:1.20.2"))
    patch = json.loads(base64.b64decode(answer["response"]["patch"]))
    result = jsonpatch.apply_patch(pod(INJECT, init=True), patch)
    kubernetes_validate.validate(result, KUBERNETES, strict=True)
    model = as_model(result)
    assert [c.name for c in model.spec.containers] == ["agent"]
    assert [c.name for c in model.spec.init_containers] == ["wardgate-init", "opa", "wardgate", "migrate"]
    opa = model.spec.init_containers[1]
    assert opa.restart_policy == "Always"
    # The policies come from a ConfigMap mount: OPA must skip its hidden ..data copies or load every module twice.
    assert "--ignore=.*" in opa.args
    assert opa.args[-1] == opa.volume_mounts[0].mount_path
    # The API stays on loopback; the probes reach OPA's diagnostic listener, which serves /health.
    assert "127.0.0.1:8181" in opa.args
    assert f"--diagnostic-addr=0.0.0.0:{opa.startup_probe.http_get.port}" in opa.args
    assert opa.startup_probe.http_get.path == "/health"


@pytest.mark.parametrize("annotations", [{}, {"wardgate.dev/inject": "false"}])
def test_pods_that_did_not_ask_are_untouched(annotations):
    response, result = patched(pod(annotations))
    assert response == {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002", "allowed": True}
    assert result == pod(annotations)


def test_bad_annotation_fails_open_with_a_warning_or_closed_when_configured():
    bad = pod({**INJECT, "wardgate.dev/exclude-ports": "http"})
    response, _ = patched(bad)
    assert response["allowed"] is True
    assert "not a port number" in response["warnings"][0]
    response, _ = patched(bad, fail_closed=True)
    assert response["allowed"] is False
    assert response["status"]["code"] == 400


@pytest.mark.parametrize("document", [None, {"kind": "Something"}, review(pod(INJECT), kind="Deployment")])
def test_anything_else_is_admitted_unchanged(document):
    response = review_response(document, SETTINGS)["response"]
    assert response["allowed"] is True
    assert "patch" not in response


def test_a_renewed_certificate_is_served_without_a_restart_and_a_broken_one_is_not(tmp_path):
    import asyncio
    import ssl

    from tests.tls import self_signed
    from wardgate.k8s.webhook import WebhookServer

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    cert, key = self_signed(first)
    renewed_cert, renewed_key = self_signed(second)

    def served(port: int) -> str:
        return ssl.get_server_certificate(("127.0.0.1", port))

    async def scenario() -> None:
        server = WebhookServer(SETTINGS, cert=cert, key=key, host="127.0.0.1", port=0, fail_closed=False)
        await server.start()
        try:
            assert await asyncio.to_thread(served, server.port) == cert.read_text()
            assert not server.reload_certificate()  # unchanged files: nothing to do
            # What the kubelet does when cert-manager renews the Secret: both files change.
            cert.write_bytes(renewed_cert.read_bytes())
            key.write_bytes(renewed_key.read_bytes())
            assert server.reload_certificate()
            assert await asyncio.to_thread(served, server.port) == renewed_cert.read_text()
            key.write_text("not a key")
            assert not server.reload_certificate()
            assert await asyncio.to_thread(served, server.port) == renewed_cert.read_text()
        finally:
            await server.stop()

    asyncio.run(scenario())
