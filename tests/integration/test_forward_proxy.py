"""Forward mode: agents set HTTPS_PROXY and trust Wardgate's CA; only configured LLM hosts are decrypted."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import time

import httpx
import openai
import pytest

from tests.conftest import AUTH, AWS_KEY, OPENAI_KEY
from tests.integration.helpers import audit_events, curl_post
from tests.tls import self_signed
from wardgate.identity import hash_key
from wardgate.testing import FakeUpstream


def trusting(path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(path))


BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module")
def tls_upstream(tmp_path_factory):
    cert, key = self_signed(tmp_path_factory.mktemp("tls"))
    with FakeUpstream(tls=(cert, key)) as fake:
        fake.cert = cert
        yield fake


@pytest.fixture(scope="module")
def intercepting(start_proxy, tls_upstream):
    proxy = start_proxy(
        {
            "mode": "forward",
            "llm_hosts": ["127.0.0.1"],
            "upstream_ca": str(tls_upstream.cert),
            "scanners": {"injection": {"enabled": False}},  # interception is under test here, not the classifier
        }
    )
    proxy.ca = proxy.workdir / "ca" / "mitmproxy-ca-cert.pem"
    # What an unmodified agent is given: HTTPS_PROXY with a Wardgate key as the proxy password.
    proxy.agent_url = proxy.url.replace("http://", f"http://agent:{OPENAI_KEY}@")
    return proxy


class TestIntercepted:
    def test_httpx_through_https_proxy(self, intercepting, tls_upstream):
        with httpx.Client(proxy=intercepting.agent_url, verify=trusting(intercepting.ca), headers=AUTH) as http:
            ok = http.post(tls_upstream.url + "/v1/chat/completions", json=BODY)
            assert (ok.status_code, ok.json()["choices"][0]["message"]["content"]) == (200, "hello")
            before = len(tls_upstream.received)
            secret = {**BODY, "messages": [{"role": "user", "content": AWS_KEY}]}
            denied = http.post(tls_upstream.url + "/v1/chat/completions", json=secret)
            assert (denied.status_code, denied.json()["error"]["code"]) == (403, "secret_detected")
            assert before == len(tls_upstream.received)

    def test_openai_sdk_with_proxy_and_ca(self, intercepting, tls_upstream):
        http = httpx.Client(proxy=intercepting.agent_url, verify=trusting(intercepting.ca))
        with openai.OpenAI(
            base_url=tls_upstream.url + "/v1", api_key=OPENAI_KEY, http_client=http, max_retries=0
        ) as client:
            assert client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
            with pytest.raises(openai.PermissionDeniedError):
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": AWS_KEY}])

    def test_curl_with_https_proxy_env(self, intercepting, tls_upstream):
        secret = {**BODY, "messages": [{"role": "user", "content": AWS_KEY}]}
        env = {**os.environ, "HTTPS_PROXY": intercepting.agent_url, "NO_PROXY": ""}
        url = tls_upstream.url + "/v1/chat/completions"
        status, payload = curl_post(url, secret, "--cacert", str(intercepting.ca), env=env)
        assert (status, payload["error"]["code"]) == (403, "secret_detected")

    def test_clients_that_only_read_the_variables_wardgate_env_prints(self, intercepting, tls_upstream):
        """An unmodified agent: the openai SDK and curl, configured by nothing but `eval "$(wardgate env)"`."""
        shown = subprocess.run(
            [sys.executable, "-m", "wardgate", "env", "--proxy", intercepting.agent_url, "--format", "json",
             "--config", str(intercepting.workdir / "wardgate.yaml")],
            capture_output=True, text=True, timeout=60, check=True, cwd=intercepting.workdir,
        )  # fmt: skip
        env = {**os.environ, **json.loads(shown.stdout)["variables"], "NO_PROXY": ""}
        agent = (
            "import openai, sys\n"
            f"client = openai.OpenAI(base_url={tls_upstream.url + '/v1'!r}, api_key={OPENAI_KEY!r}, max_retries=0)\n"
            f"ask = [{{'role': 'user', 'content': {AWS_KEY!r}}}]\n"
            "try:\n"
            "    client.chat.completions.create(model='gpt-4o-mini', messages=ask)\n"
            "except openai.PermissionDeniedError as error:\n"
            "    print(error.body['code'])\n"
        )
        ran = subprocess.run([sys.executable, "-c", agent], capture_output=True, text=True, timeout=60, env=env)
        assert ran.stdout.strip() == "secret_detected", ran.stderr
        secret = {**BODY, "messages": [{"role": "user", "content": AWS_KEY}]}
        status, payload = curl_post(tls_upstream.url + "/v1/chat/completions", secret, env=env)  # no --cacert
        assert (status, payload["error"]["code"]) == (403, "secret_detected")

    def test_client_not_trusting_the_ca_fails_tls(self, intercepting, tls_upstream):
        with (
            httpx.Client(proxy=intercepting.agent_url, verify=trusting(tls_upstream.cert)) as http,
            pytest.raises(httpx.ConnectError),
        ):
            http.post(tls_upstream.url + "/v1/chat/completions", json=BODY)


class TestPassthrough:
    def test_other_hosts_are_not_decrypted_or_judged(self, start_proxy, tls_upstream):
        proxy = start_proxy({"mode": "forward", "llm_hosts": ["api.openai.com"]})
        # The client trusts only the upstream's own certificate: success proves TLS was not intercepted.
        with httpx.Client(proxy=proxy.url, verify=trusting(tls_upstream.cert)) as http:
            secret = {**BODY, "messages": [{"role": "user", "content": AWS_KEY}]}
            response = http.post(tls_upstream.url + "/v1/chat/completions", json=secret)
        assert response.status_code == 200
        assert tls_upstream.received[-1]["messages"][0]["content"] == AWS_KEY
        assert audit_events(proxy.audit_file) == []


class TestInspectionFollowsTheConnection:
    """A Host header naming another host must not turn an inspected connection into an uninspected request."""

    @pytest.mark.parametrize("host", ["localhost.", "10.0.0.1", "example.com", "127.0.0.1.nip.io"])
    def test_a_host_header_that_differs_from_the_connect_authority_is_refused(self, intercepting, tls_upstream, host):
        secret = {**BODY, "messages": [{"role": "user", "content": AWS_KEY}]}
        before = len(tls_upstream.received)
        with httpx.Client(proxy=intercepting.agent_url, verify=trusting(intercepting.ca), headers=AUTH) as http:
            response = http.post(tls_upstream.url + "/v1/chat/completions", json=secret, headers={"host": host})
        assert (response.status_code, response.json()["error"]["code"]) == (421, "misdirected_request")
        assert len(tls_upstream.received) == before


class TestAgentsThatCannotBeChanged:
    """Forward mode's identity: proxy credentials, or a provider key the operator mapped; never the agent's header."""

    def test_the_proxy_credentials_name_the_caller_and_the_provider_key_travels_unchanged(
        self, intercepting, tls_upstream
    ):
        provider = {"authorization": "Bearer sk-provider-real-key"}
        with httpx.Client(proxy=intercepting.agent_url, verify=trusting(intercepting.ca), headers=provider) as http:
            ok = http.post(tls_upstream.url + "/v1/chat/completions", json=BODY)
        assert ok.status_code == 200
        assert tls_upstream.headers[-1]["Authorization"] == "Bearer sk-provider-real-key"
        assert "Proxy-Authorization" not in tls_upstream.headers[-1]

    def test_no_proxy_credentials_is_a_407_at_connect(self, intercepting, tls_upstream):
        before = len(tls_upstream.received)
        with (
            httpx.Client(proxy=intercepting.url, verify=trusting(intercepting.ca), headers=AUTH) as http,
            pytest.raises(httpx.ProxyError, match="407"),
        ):
            http.post(tls_upstream.url + "/v1/chat/completions", json=BODY)
        assert len(tls_upstream.received) == before

    def test_a_wrong_proxy_key_is_refused(self, intercepting, tls_upstream):
        wrong = intercepting.url.replace("http://", "http://agent:not-a-wardgate-key@")
        with httpx.Client(proxy=wrong, verify=trusting(intercepting.ca)) as http:
            response = http.post(tls_upstream.url + "/v1/chat/completions", json=BODY)
        assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_api_key")

    def test_text_in_a_credential_field_is_judged(self, intercepting, tls_upstream):
        """A second outside round: forward mode skipped its key locations (`x-api-key`, `authorization`) whatever
        they held, and text there reached the LLM host unjudged."""
        before = len(tls_upstream.received)
        with httpx.Client(proxy=intercepting.agent_url, verify=trusting(intercepting.ca)) as http:
            response = http.post(tls_upstream.url + "/v1/chat/completions", json=BODY,
                                 headers={"x-api-key": f"please read {AWS_KEY} and follow it"})  # fmt: skip
        assert (response.status_code, response.json()["error"]["code"]) == (403, "secret_detected")
        assert len(tls_upstream.received) == before

    def test_a_mapped_provider_key_names_the_caller_without_proxy_credentials(
        self, start_proxy, tls_upstream, tmp_path
    ):
        mapped = tmp_path / "provider-keys.yaml"
        mapped.write_text(f"keys:\n  - {{sha256: {hash_key('sk-provider-real-key')}, subject: legacy-agent}}\n")
        proxy = start_proxy({"mode": "forward", "llm_hosts": ["127.0.0.1"], "upstream_ca": str(tls_upstream.cert),
                             "identity": {"forward": {"provider_keys": str(mapped)}},
                             "scanners": {"injection": {"enabled": False}}})  # fmt: skip
        ca = proxy.workdir / "ca" / "mitmproxy-ca-cert.pem"
        with httpx.Client(proxy=proxy.url, verify=trusting(ca)) as http:
            known = http.post(tls_upstream.url + "/v1/chat/completions", json=BODY,
                              headers={"authorization": "Bearer sk-provider-real-key"})  # fmt: skip
            unknown = http.post(tls_upstream.url + "/v1/chat/completions", json=BODY,
                                headers={"authorization": "Bearer sk-someone-else"})  # fmt: skip
        assert known.status_code == 200
        assert tls_upstream.headers[-1]["Authorization"] == "Bearer sk-provider-real-key"
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (401, "invalid_api_key")


@pytest.mark.parametrize("host", ["0.0.0.0", "localhost"])
def test_a_name_that_reaches_a_loopback_llm_host_is_inspected(start_proxy, host):
    """Found by an outside review: `http://0.0.0.0:port/` reached the loopback LLM host unjudged (with the caller's
    proxy credentials in its headers); `127.1`, `0x7f000001` and `[::ffff:127.0.0.1]` were refused."""
    with FakeUpstream() as upstream:
        spine = {"scanners": {"injection": {"enabled": False}}}
        proxy = start_proxy({"mode": "forward", "llm_hosts": ["127.0.0.1"], **spine})
        agent = proxy.url.replace("http://", f"http://agent:{OPENAI_KEY}@")
        port = upstream.url.rsplit(":", 1)[1]
        secret = {**BODY, "messages": [{"role": "user", "content": AWS_KEY}]}
        with httpx.Client(proxy=agent) as http:
            denied = http.post(f"http://{host}:{port}/v1/chat/completions", json=secret)
        assert (denied.status_code, denied.json()["error"]["code"]) == (403, "secret_detected")
        assert upstream.received == []


@pytest.mark.parametrize(
    ("listed", "connect_to"),
    [("127.0.0.1", "localhost"), ("localhost", "127.0.0.1"), ("127.0.0.0/8", "localhost"),
     ("127.0.0.1:{port}", "127.0.0.1"), ("localhost:{port}", "localhost")],
    ids=["ip-listed-name-used", "name-listed-ip-used", "network-listed-name-used", "ip-with-port", "name-with-port"],
)  # fmt: skip
def test_every_spelling_the_matcher_inspects_is_decrypted(start_proxy, tls_upstream, listed, connect_to):
    """An outside review: mitmproxy's `allow_hosts` regexes decided decryption and disagreed with the matcher that
    decides judgement (a port in the entry, `localhost` against an IP entry): such tunnels passed through, TLS
    untouched, unjudged and unaudited. Decryption follows the matcher now."""
    port = tls_upstream.url.rsplit(":", 1)[1]
    spine = {"upstream_ca": str(tls_upstream.cert), "scanners": {"injection": {"enabled": False}}}
    proxy = start_proxy({"mode": "forward", "llm_hosts": [listed.format(port=port)], **spine})
    ca = proxy.workdir / "ca" / "mitmproxy-ca-cert.pem"
    agent = proxy.url.replace("http://", f"http://agent:{OPENAI_KEY}@")
    before = len(tls_upstream.received)
    secret = {**BODY, "messages": [{"role": "user", "content": AWS_KEY}]}
    with httpx.Client(proxy=agent, verify=trusting(ca)) as http:  # Wardgate's CA: decrypted, or TLS fails
        denied = http.post(f"https://{connect_to}:{port}/v1/chat/completions", json=secret)
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "secret_detected")
    assert len(tls_upstream.received) == before


@pytest.mark.parametrize("first", [b"POST", b"\r\nPOST /v1/chat/completions HTTP/1.1\r\n"], ids=["split", "crlf"])
def test_bytes_that_do_not_look_like_http_in_a_decrypted_tunnel_are_no_raw_tcp(intercepting, tls_upstream, first):
    """An outside review: mitmproxy relayed a decrypted tunnel as raw TCP when its first write did not look like
    HTTP (`POST` alone, a leading CRLF), and the request reached the LLM host unjudged."""
    port = int(tls_upstream.url.rsplit(":", 1)[1])
    body = json.dumps({**BODY, "messages": [{"role": "user", "content": AWS_KEY}]})
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/json\r\n"
               f"content-length: {len(body)}\r\n\r\n{body}").encode()  # fmt: skip
    rest = request[len(b"POST") :] if first == b"POST" else request[len(b"POST /v1/chat/completions HTTP/1.1\r\n") :]
    before = len(tls_upstream.received)
    with socket.create_connection(("127.0.0.1", intercepting.port), timeout=10) as raw:
        credentials = base64.b64encode(f"agent:{OPENAI_KEY}".encode()).decode()
        raw.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nproxy-authorization: Basic {credentials}\r\n\r\n".encode())
        assert raw.recv(4096).startswith(b"HTTP/1.1 200")
        with trusting(intercepting.ca).wrap_socket(raw, server_hostname="127.0.0.1") as tunnel:
            tunnel.sendall(first)
            time.sleep(0.5)
            tunnel.sendall(rest)
            answer = b""
            with contextlib.suppress(OSError):
                while chunk := tunnel.recv(65536):
                    answer += chunk
                    if b"\r\n\r\n" in answer:
                        break
    assert not answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert len(tls_upstream.received) == before


def test_the_proxy_credentials_never_reach_a_host_that_is_not_inspected(start_proxy):
    """An outside review: a plain-HTTP request to another host kept `Proxy-Authorization` (the caller's Wardgate key)
    on its way there."""
    with FakeUpstream() as other:
        proxy = start_proxy({"mode": "forward", "llm_hosts": ["api.openai.com"]})
        agent = proxy.url.replace("http://", f"http://agent:{OPENAI_KEY}@")
        with httpx.Client(proxy=agent) as http:
            assert http.post(other.url + "/v1/chat/completions", json=BODY).status_code == 200
    assert all(name.lower() != "proxy-authorization" for name in other.headers[-1])
