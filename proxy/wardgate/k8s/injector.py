"""The sidecar injection itself: a pure function from a Pod to the JSON Patch that adds Wardgate to it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["ANNOTATION_EXCLUDE_PORTS", "ANNOTATION_INJECT", "ANNOTATION_STATUS", "InjectorSettings", "pod_patch"]

ANNOTATION_INJECT = "wardgate.dev/inject"
ANNOTATION_EXCLUDE_PORTS = "wardgate.dev/exclude-ports"
ANNOTATION_STATUS = "wardgate.dev/status"
SIDECAR, INIT = "wardgate", "wardgate-init"


@dataclasses.dataclass(frozen=True, slots=True)
class InjectorSettings:
    image: str = "ghcr.io/wardgate/wardgate:0.1.0"
    uid: int = 10001
    proxy_port: int = 8080
    admin_port: int = 8081
    config_map: str = "wardgate-config"
    policies_config_map: str = "wardgate-policies"
    ca_secret: str = "wardgate-ca"
    opa_image: str | None = None  # e.g. "openpolicyagent/opa:1.20.2" to add an OPA sidecar


def _escape(key: str) -> str:
    """JSON Pointer escaping (RFC 6901) for annotation keys such as `wardgate.dev/status`."""
    return key.replace("~", "~0").replace("/", "~1")


def _exclude_ports(annotations: Mapping[str, str]) -> str:
    raw = annotations.get(ANNOTATION_EXCLUDE_PORTS, "")
    ports = [part.strip() for part in raw.split(",") if part.strip()]
    for port in ports:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{ANNOTATION_EXCLUDE_PORTS}: {port!r} is not a port number")
    return ",".join(ports)


def _init_container(settings: InjectorSettings, exclude_ports: str) -> dict[str, Any]:
    args = ["iptables", "--apply", "--uid", str(settings.uid), "--port", str(settings.proxy_port)]
    if exclude_ports:
        args += ["--exclude-ports", exclude_ports]
    return {
        "name": INIT,
        "image": settings.image,
        "command": ["wardgate"],
        "args": args,
        "securityContext": {
            "runAsUser": 0,
            "runAsNonRoot": False,
            "allowPrivilegeEscalation": False,
            "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
    }


def _sidecar(settings: InjectorSettings) -> dict[str, Any]:
    def field(path: str) -> dict[str, Any]:
        return {"valueFrom": {"fieldRef": {"fieldPath": path}}}

    return {
        "name": SIDECAR,
        "image": settings.image,
        "args": ["--config", "/etc/wardgate/config/wardgate.yaml"],
        "env": [
            {"name": "WARDGATE_MODE", "value": "transparent"},
            {"name": "WARDGATE_PORT", "value": str(settings.proxy_port)},
            {"name": "WARDGATE_ADMIN_PORT", "value": str(settings.admin_port)},
            {"name": "WARDGATE_CONFDIR", "value": "/etc/wardgate/ca"},
            {"name": "WARDGATE_POLICY__DIR", "value": "/etc/wardgate/policies"},
            {"name": "WARDGATE_AUDIT__FILE", "value": ""},
            {"name": "WARDGATE_AUDIT__STDOUT", "value": "true"},
            {"name": "POD_NAMESPACE", **field("metadata.namespace")},
            {"name": "POD_SERVICE_ACCOUNT", **field("spec.serviceAccountName")},
        ],
        "ports": [
            {"name": "wardgate", "containerPort": settings.proxy_port},
            {"name": "wardgate-admin", "containerPort": settings.admin_port},
        ],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": settings.admin_port}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": settings.admin_port}, "periodSeconds": 10},
        "securityContext": {
            "runAsUser": settings.uid,
            "runAsGroup": settings.uid,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "volumeMounts": [
            {"name": "wardgate-config", "mountPath": "/etc/wardgate/config", "readOnly": True},
            {"name": "wardgate-policies", "mountPath": "/etc/wardgate/policies", "readOnly": True},
            {"name": "wardgate-ca", "mountPath": "/etc/wardgate/ca", "readOnly": True},
        ],
    }


def _opa(image: str) -> dict[str, Any]:
    return {
        "name": "opa",
        "image": image,
        # --ignore=.*: the ConfigMap mount holds each file twice more (..data/, a timestamped dir); load it once.
        "args": ["run", "--server", "--addr", "127.0.0.1:8181", "--watch", "--ignore=.*", "/policies"],
        "volumeMounts": [{"name": "wardgate-policies", "mountPath": "/policies", "readOnly": True}],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "allowPrivilegeEscalation": False},
    }


def _append(pod_spec: Mapping[str, Any], field: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not items:
        return []
    if not pod_spec.get(field):
        return [{"op": "add", "path": f"/spec/{field}", "value": items}]
    return [{"op": "add", "path": f"/spec/{field}/-", "value": item} for item in items]


def pod_patch(pod: Mapping[str, Any], settings: InjectorSettings) -> list[dict[str, Any]]:
    """The JSON Patch that injects Wardgate; empty when the pod did not ask for it or already has it.

    Raises `ValueError` for a pod Wardgate cannot inject (e.g. a malformed exclude-ports annotation).
    """
    metadata = pod.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    spec = pod.get("spec") or {}
    if annotations.get(ANNOTATION_INJECT) != "true":
        return []
    containers = [c.get("name") for c in [*spec.get("containers", []), *spec.get("initContainers", [])]]
    if SIDECAR in containers or INIT in containers or annotations.get(ANNOTATION_STATUS) == "injected":
        return []  # idempotent: reinvocation or a pod that carries the sidecar already
    exclude = _exclude_ports(annotations)
    volumes = [
        {"name": "wardgate-config", "configMap": {"name": settings.config_map}},
        {"name": "wardgate-policies", "configMap": {"name": settings.policies_config_map}},
        {"name": "wardgate-ca", "secret": {"secretName": settings.ca_secret}},
    ]
    sidecars = [_sidecar(settings)] + ([_opa(settings.opa_image)] if settings.opa_image else [])
    patch = _append(spec, "initContainers", [_init_container(settings, exclude)])
    patch += _append(spec, "containers", sidecars)
    patch += _append(spec, "volumes", volumes)
    # The inject annotation is there, so the annotations map exists: add one key to it.
    patch.append({"op": "add", "path": f"/metadata/annotations/{_escape(ANNOTATION_STATUS)}", "value": "injected"})
    return patch
