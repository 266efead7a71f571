"""The sidecar injection itself: a pure function from a Pod to the JSON Patch that adds Wardgate to it.

Wardgate (and OPA, when injected) are Kubernetes native sidecars: init containers with `restartPolicy: Always`
(Kubernetes >= 1.29). The kubelet starts init containers in order and waits for each sidecar's startup probe, so
the order is: the iptables init container, OPA, Wardgate, then the pod's own init containers and its containers.
Everything the pod runs, its own init containers included, starts behind a listening Wardgate, and a Job still
completes: native sidecars are stopped once the main containers have exited.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["ANNOTATION_EXCLUDE_PORTS", "ANNOTATION_INJECT", "ANNOTATION_STATUS", "InjectorSettings", "pod_patch"]

ANNOTATION_INJECT = "wardgate.dev/inject"
ANNOTATION_EXCLUDE_PORTS = "wardgate.dev/exclude-ports"
ANNOTATION_STATUS = "wardgate.dev/status"
SIDECAR, INIT, OPA = "wardgate", "wardgate-init", "opa"
OPA_DIAGNOSTIC_PORT = 8282


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


def _probe(path: str, port: int, period: int, failures: int = 3) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "failureThreshold": failures}


def _sidecar(settings: InjectorSettings) -> dict[str, Any]:
    def field(path: str) -> dict[str, Any]:
        return {"valueFrom": {"fieldRef": {"fieldPath": path}}}

    return {
        "name": SIDECAR,
        "image": settings.image,
        "restartPolicy": "Always",
        "args": ["--config", "/etc/wardgate/config/wardgate.yaml"],
        "env": [
            {"name": "WARDGATE_MODE", "value": "transparent"},
            {"name": "WARDGATE_PORT", "value": str(settings.proxy_port)},
            {"name": "WARDGATE_ADMIN_PORT", "value": str(settings.admin_port)},
            # The kubelet probes the pod IP; the proxy itself stays on loopback, where iptables redirects to.
            {"name": "WARDGATE_ADMIN_HOST", "value": "0.0.0.0"},
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
        # The next init container (and so the application) starts only once /readyz answers: the proxy is
        # listening and the policy is loaded. Models load first, hence up to two minutes.
        "startupProbe": _probe("/readyz", settings.admin_port, period=1, failures=120),
        "readinessProbe": _probe("/readyz", settings.admin_port, period=5),
        "livenessProbe": _probe("/healthz", settings.admin_port, period=10),
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
        "name": OPA,
        "image": image,
        "restartPolicy": "Always",
        # --ignore=.*: the ConfigMap mount holds each file twice more (..data/, a timestamped dir); load it once.
        # The API stays on loopback; the diagnostic listener serves only /health and /metrics, for the probes.
        "args": [
            *("run", "--server", "--addr", "127.0.0.1:8181", f"--diagnostic-addr=0.0.0.0:{OPA_DIAGNOSTIC_PORT}"),
            # Its version check would go out through the redirect before Wardgate listens: off.
            *("--disable-telemetry", "--watch", "--ignore=.*", "/policies"),
        ],
        "startupProbe": _probe("/health", OPA_DIAGNOSTIC_PORT, period=1, failures=60),
        "readinessProbe": _probe("/health", OPA_DIAGNOSTIC_PORT, period=5),
        "volumeMounts": [{"name": "wardgate-policies", "mountPath": "/policies", "readOnly": True}],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "allowPrivilegeEscalation": False},
    }


def _insert(
    pod_spec: Mapping[str, Any], field: str, items: list[dict[str, Any]], *, first: bool
) -> list[dict[str, Any]]:
    """Add `items` to a list of the pod spec, before what is there (`first`) or after it, keeping their order."""
    if not pod_spec.get(field):
        return [{"op": "add", "path": f"/spec/{field}", "value": items}]
    positions = [str(index) for index in range(len(items))] if first else ["-"] * len(items)
    return [
        {"op": "add", "path": f"/spec/{field}/{at}", "value": item} for at, item in zip(positions, items, strict=True)
    ]


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
    # OPA before Wardgate: Wardgate's first decisions need the policy server up.
    opa = [_opa(settings.opa_image)] if settings.opa_image else []
    patch = _insert(spec, "initContainers", [_init_container(settings, exclude), *opa, _sidecar(settings)], first=True)
    patch += _insert(spec, "volumes", volumes, first=False)
    # The inject annotation is there, so the annotations map exists: add one key to it.
    patch.append({"op": "add", "path": f"/metadata/annotations/{_escape(ANNOTATION_STATUS)}", "value": "injected"})
    return patch
