"""`wardgate ca` and `wardgate env`: a bundle that keeps the system's CAs and adds Wardgate's, and the variables
Python, Node, Go and curl read to use it and the proxy."""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import threading
from pathlib import Path

import certifi
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from mitmproxy.certs import CertStore

from wardgate.clients import build_bundle, client_env, system_cas, write_bundle
from wardgate.clients import bundle as bundle_module
from wardgate.errors import ConfigError
from wardgate.intercept.ca import ensure_ca


def der_certificates(pem: str) -> set[bytes]:
    return {ssl.PEM_cert_to_DER_cert(block) for block in bundle_module._PEM_BLOCK.findall(pem)}


@pytest.fixture
def confdir(tmp_path):
    ensure_ca(tmp_path / "ca")
    return tmp_path / "ca"


def test_the_bundle_keeps_every_system_ca_and_adds_wardgates(confdir, tmp_path):
    ours = ssl.PEM_cert_to_DER_cert((confdir / "mitmproxy-ca-cert.pem").read_text())
    bundle = build_bundle(confdir / "mitmproxy-ca-cert.pem")
    assert bundle.source == system_cas()
    system = der_certificates(bundle.source.read_text())
    assert bundle.system_count == len(system) > 100
    target = tmp_path / "out" / "bundle.pem"
    write_bundle(bundle, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    # What SSL_CERT_FILE does to a Python client: exactly this context. Every system CA is still trusted.
    context = ssl.create_default_context(cafile=str(target))
    loaded = set(context.get_ca_certs(binary_form=True))
    assert ours in loaded
    assert system <= loaded
    assert der_certificates(target.read_text()) == system | {ours}


def test_a_certificate_wardgate_signs_verifies_against_the_bundle(confdir, tmp_path):
    """A real TLS handshake: the leaf Wardgate's CA signs (as it does in forward mode) against the bundle alone."""
    target = tmp_path / "bundle.pem"
    write_bundle(build_bundle(confdir / "mitmproxy-ca-cert.pem"), target)
    leaf = CertStore.from_store(confdir, "mitmproxy", 2048).get_cert("api.openai.com", [x509.DNSName("api.openai.com")])
    (tmp_path / "leaf.pem").write_bytes(
        leaf.cert.to_pem()
        + leaf.privatekey.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "leaf.pem")
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def serve() -> None:
            conn, _ = listener.accept()
            with server_context.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"ok")

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        client_context = ssl.create_default_context(cafile=str(target))
        with (
            socket.create_connection(listener.getsockname()) as raw,
            client_context.wrap_socket(raw, server_hostname="api.openai.com") as tls,
        ):
            assert tls.recv(2) == b"ok"
        thread.join(5)


def test_certifi_is_the_fallback_without_a_system_bundle(confdir, monkeypatch):
    monkeypatch.setattr(bundle_module, "SYSTEM_CA_FILES", ())
    assert system_cas() == Path(certifi.where())
    bundle = build_bundle(confdir / "mitmproxy-ca-cert.pem")
    assert bundle.system_count > 100


def test_a_ca_the_system_already_trusts_is_not_added_twice(confdir, tmp_path):
    cert = confdir / "mitmproxy-ca-cert.pem"
    system = tmp_path / "system.pem"
    system.write_text(certifi.contents() + cert.read_text())
    bundle = build_bundle(cert, system)
    assert bundle.pem == system.read_text()


def test_a_file_without_certificates_is_refused(confdir, tmp_path):
    (tmp_path / "empty.pem").write_text("nothing here\n")
    with pytest.raises(ConfigError, match="no PEM certificates"):
        build_bundle(confdir / "mitmproxy-ca-cert.pem", tmp_path / "empty.pem")


def test_the_shell_form_sets_each_runtimes_variables(tmp_path):
    env = client_env("http://team:wg key@127.0.0.1:8080", tmp_path / "my bundle.pem")
    shown = subprocess.run(
        ["bash", "-c", env.shell() + "env"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout.splitlines()
    bundle = str(tmp_path / "my bundle.pem")
    for line in ("HTTPS_PROXY=http://team:wg key@127.0.0.1:8080", f"SSL_CERT_FILE={bundle}",
                 f"REQUESTS_CA_BUNDLE={bundle}", "NODE_USE_ENV_PROXY=1", f"NODE_EXTRA_CA_CERTS={bundle}",
                 f"CURL_CA_BUNDLE={bundle}"):  # fmt: skip
        assert line in shown
    assert "EnvHttpProxyAgent" in env.shell()
    assert env.readers["go"] == ("HTTPS_PROXY", "SSL_CERT_FILE")
    assert env.readers["curl"] == ("HTTPS_PROXY", "CURL_CA_BUNDLE")


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "socks5://127.0.0.1:1080", "http://127.0.0.1", "http://:8080"])
def test_a_proxy_url_that_is_not_http_host_port_is_refused(tmp_path, url):
    with pytest.raises(ConfigError):
        client_env(url, tmp_path / "bundle.pem")


def wardgate(*args: str, config) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wardgate", *args, "--config", str(config)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_the_commands(tmp_path):
    config = tmp_path / "wardgate.yaml"
    config.write_text(yaml.safe_dump({"confdir": str(tmp_path / "conf"), "port": 9099}))
    printed = wardgate("ca", config=config)
    assert printed.returncode == 0, printed.stderr
    assert f"CAs from {system_cas()}" in printed.stderr
    written = wardgate("ca", "--bundle", str(tmp_path / "b.pem"), config=config)
    assert written.stdout == f"{tmp_path / 'b.pem'}\n"
    assert (tmp_path / "b.pem").read_text() == printed.stdout
    cert_path = wardgate("ca", "--cert-path", config=config)
    assert cert_path.stdout == f"{tmp_path / 'conf' / 'mitmproxy-ca-cert.pem'}\n"

    shown = wardgate("env", "--format", "json", config=config)
    document = json.loads(shown.stdout)
    assert document["variables"]["HTTPS_PROXY"] == "http://127.0.0.1:9099"  # the configured port by default
    assert document["ca_bundle"] == str(tmp_path / "conf" / "ca-bundle.pem")
    assert (tmp_path / "conf" / "ca-bundle.pem").read_text() == printed.stdout
    refused = wardgate("env", "--proxy", "ftp://x", config=config)
    assert refused.returncode == 2
    assert "--proxy must be http://HOST:PORT" in refused.stderr
