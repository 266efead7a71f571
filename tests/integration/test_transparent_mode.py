"""Transparent mode for real: network namespaces, a veth pair, iptables REDIRECT, and a client with no proxy setting.

Namespace `wgt-up` holds the HTTPS upstream at 10.231.0.2. Namespace `wgt-pod` plays the pod: Wardgate runs there as
root (the UID the rules exempt) and a client runs as `nobody`; `wardgate iptables --apply` redirects the client's
plain `https://10.231.0.2/...` to Wardgate, which decrypts, judges, audits and forwards it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import AWS_KEY, OPENAI_KEY
from tests.integration.helpers import audit_events
from tests.tls import self_signed

POD, UPSTREAM_NS = "wgt-pod", "wgt-up"
POD_IP, UPSTREAM_IP = "10.231.0.1", "10.231.0.2"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("iptables") or not shutil.which("ip"),
    reason="needs root, iproute2 and iptables (.ci/run installs them)",
)


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def namespaces():
    for namespace in (POD, UPSTREAM_NS):
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)
        sh("ip", "netns", "add", namespace)
    sh("ip", "link", "add", "wgt0", "type", "veth", "peer", "name", "wgt1")
    sh("ip", "link", "set", "wgt0", "netns", POD)
    sh("ip", "link", "set", "wgt1", "netns", UPSTREAM_NS)
    for namespace, device, address in ((POD, "wgt0", POD_IP), (UPSTREAM_NS, "wgt1", UPSTREAM_IP)):
        sh("ip", "-n", namespace, "addr", "add", f"{address}/30", "dev", device)
        sh("ip", "-n", namespace, "link", "set", device, "up")
        sh("ip", "-n", namespace, "link", "set", "lo", "up")
    yield
    for namespace in (POD, UPSTREAM_NS):
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory):
    """World-readable: the client runs as `nobody`."""
    directory = tmp_path_factory.mktemp("transparent")
    directory.chmod(0o755)
    for parent in directory.parents:
        if parent == directory.anchor or str(parent) in ("/", "/tmp"):
            break
        parent.chmod(parent.stat().st_mode | 0o055)
    return directory


@pytest.fixture(scope="module")
def upstream_in_namespace(namespaces, shared_dir):
    cert, key = self_signed(shared_dir, ip=UPSTREAM_IP)
    process = subprocess.Popen(
        ["ip", "netns", "exec", UPSTREAM_NS, sys.executable, "-m", "wardgate.testing", "--host", UPSTREAM_IP,
         "--port", "443", "--tls-cert", str(cert), "--tls-key", str(key)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    assert "listening on" in process.stdout.readline()
    yield cert
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def pod(start_proxy, upstream_in_namespace, shared_dir):
    config = {
        "mode": "transparent",
        "port": 8080,
        "listen_host": "0.0.0.0",
        "llm_hosts": [UPSTREAM_IP],
        "upstream_ca": str(upstream_in_namespace),
        "scanners": {"injection": {"enabled": False}},  # interception is under test here, not the classifier
    }
    proxy = start_proxy(config, prefix=["ip", "netns", "exec", POD])
    sh(
        "ip",
        "netns",
        "exec",
        POD,
        sys.executable,
        "-m",
        "wardgate",
        "iptables",
        "--uid",
        "0",
        "--port",
        "8080",
        "--apply",
    )
    ca = shared_dir / "wardgate-ca.pem"
    shutil.copy(proxy.workdir / "ca" / "mitmproxy-ca-cert.pem", ca)
    ca.chmod(0o644)
    proxy.ca = ca
    return proxy


def curl_as_nobody(pod, text: str) -> tuple[int, dict]:
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]})
    result = subprocess.run(
        ["ip", "netns", "exec", POD, *NOBODY, "curl", "-sS", "--noproxy", "*", "--cacert", str(pod.ca),
         "-H", "content-type: application/json", "-H", f"authorization: Bearer {OPENAI_KEY}", "--data", body,
         "-w", "\n%{http_code}", f"https://{UPSTREAM_IP}/v1/chat/completions"],
        capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload, status = result.stdout.rsplit("\n", 1)
    return int(status), json.loads(payload)


def test_plain_https_call_is_intercepted_judged_and_audited(pod):
    status, body = curl_as_nobody(pod, "what is the capital of France?")
    assert status == 200
    assert body["choices"][0]["message"]["content"] == "what is the capital of France?"
    status, body = curl_as_nobody(pod, f"use the key {AWS_KEY}")
    assert (status, body["error"]["code"]) == (403, "secret_detected")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(audit_events(pod.audit_file)) < 3:
        time.sleep(0.1)
    hosts = {event["request"]["host"] for event in audit_events(pod.audit_file)}
    assert hosts == {UPSTREAM_IP}


def test_without_the_ca_the_client_sees_the_interception(pod):
    result = subprocess.run(
        ["ip", "netns", "exec", POD, *NOBODY, "curl", "-sS", "--noproxy", "*", f"https://{UPSTREAM_IP}/v1/models"],
        capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]},
    )  # fmt: skip
    assert result.returncode != 0
    assert "certificate" in result.stderr.lower()


def test_rules_print_and_remove_cleanly(pod):
    printed = subprocess.run([sys.executable, "-m", "wardgate", "iptables", "--uid", "10001"],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "--uid-owner 10001 -j RETURN" in printed
    assert "REDIRECT --to-ports 8080" in printed
    listed = subprocess.run(["ip", "netns", "exec", POD, "iptables", "-t", "nat", "-S", "WARDGATE_OUTPUT"],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "--uid-owner 0 -j RETURN" in listed
