"""Identity through the real proxy: JWT/OIDC against a JWKS, Wardgate API keys, credential stripping and injection."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import OPENAI_KEY
from tests.integration.helpers import audit_events, event_for
from wardgate.testing import FakeIssuer

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module")
def issuer():
    with FakeIssuer() as fake:
        yield fake


@pytest.fixture(scope="module")
def proxy(start_proxy, upstream, issuer, tmp_path_factory):
    secret = tmp_path_factory.mktemp("secret") / "provider-key"
    secret.write_text("sk-real-provider-key\n")
    identity = {
        "jwt": {
            "enabled": True,
            "jwks_url": issuer.jwks_url,
            "issuer": issuer.issuer,
            "audience": issuer.audience,
            "claims": {"subject": "sub", "tenant": "org", "roles": "groups"},
        },
        "upstream_credential": {"value_file": str(secret)},
    }
    return start_proxy({"upstream": upstream.url, "identity": identity})


def call(proxy, headers):
    return httpx.post(proxy.url + "/v1/chat/completions", json=BODY, headers=headers)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_valid_token_is_mapped_into_the_policy_input(proxy, issuer, upstream):
    response = call(proxy, bearer(issuer.token(sub="alice", org="default", groups=["analyst", "dev"])))
    assert response.status_code == 200
    event = event_for(proxy.audit_file, response.headers["x-wardgate-decision-id"])
    assert (event["identity"]["subject"], event["identity"]["tenant"], event["identity"]["roles"]) == (
        "alice", "default", ["analyst", "dev"]
    )  # fmt: skip
    assert event["identity"]["source"] == "jwt"
    # The caller's token never reaches the provider; Wardgate's own provider key does.
    assert upstream.headers[-1]["Authorization"] == "Bearer sk-real-provider-key"


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda i: i.token(ttl=-120), "token_expired"),
        (lambda i: i.token(aud="someone-else"), "invalid_token"),
        (lambda i: i.token(iss="https://evil.test"), "invalid_token"),
        (lambda i: i.unsigned_token(), "invalid_token"),
        (lambda i: i.hmac_with_public_key(), "invalid_token"),
        (lambda i: i.token()[:-4] + "AAAA", "invalid_token"),
        (lambda i: "not-a-jwt-but.has.dots!", "invalid_token"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "alg-none", "hs-rs-confusion", "bad-signature", "garbage"],
)
def test_bad_tokens_get_401_in_provider_shape_and_are_audited(proxy, issuer, upstream, make_token, code):
    before = len(upstream.received)
    response = call(proxy, bearer(make_token(issuer)))
    assert response.status_code == 401
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("authentication_error", code)
    assert before == len(upstream.received)
    event = event_for(proxy.audit_file, error["wardgate"]["decision_id"])
    assert (event["result"]["code"], event["result"]["status"]) == (code, 401)


def test_rotated_key_is_fetched_once(proxy, issuer):
    assert call(proxy, bearer(issuer.token(org="default"))).status_code == 200
    fetches = issuer.jwks_fetches
    issuer.rotate()
    assert call(proxy, bearer(issuer.token(org="default"))).status_code == 200
    assert issuer.jwks_fetches == fetches + 1


def test_unpublished_kid_is_rejected_without_a_fetch_storm(proxy, issuer):
    published = issuer.current
    ghost = issuer.rotate()
    token = issuer.token(kid=ghost, org="default")
    del issuer.keys[ghost]  # signed by a key the issuer never publishes
    issuer.current = published
    fetches = issuer.jwks_fetches
    for _ in range(5):
        assert call(proxy, bearer(token)).json()["error"]["code"] == "invalid_token"
    assert issuer.jwks_fetches <= fetches + 1


def test_no_credential_is_anonymous_and_denied_401(proxy, upstream):
    before = len(upstream.received)
    response = call(proxy, {})
    assert (response.status_code, response.json()["error"]["code"]) == (401, "unauthenticated")
    assert before == len(upstream.received)


def test_api_key_still_works_beside_jwt(proxy):
    assert call(proxy, bearer(OPENAI_KEY)).status_code == 200


def test_unknown_api_key_is_rejected(proxy):
    response = call(proxy, {"x-api-key": "sk-not-issued"})
    assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_api_key")
    assert "sk-not-issued" not in proxy.audit_file.read_text()


def test_anthropic_clients_authenticate_with_x_api_key(proxy):
    import anthropic

    from tests.conftest import ANTHROPIC_KEY

    client = anthropic.Anthropic(base_url=proxy.url, api_key=ANTHROPIC_KEY, max_retries=0)
    reply = client.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=8,
                                   messages=[{"role": "user", "content": "hi"}])  # fmt: skip
    assert reply.content[0].text == "hi"
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=proxy.url, api_key="sk-ant-unknown", max_retries=0).messages.create(
            model="claude-sonnet-4-5-20250929", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )


def test_audit_never_holds_a_credential(proxy, issuer):
    token = issuer.token(org="default")
    call(proxy, bearer(token))
    text = proxy.audit_file.read_text()
    assert token not in text
    assert OPENAI_KEY not in text
    assert all("authorization" not in str(e).lower() for e in audit_events(proxy.audit_file))


@pytest.fixture(scope="module")
def cluster_proxy(start_proxy, upstream, issuer):
    kubernetes = {"enabled": True, "jwks_url": issuer.jwks_url, "issuer": issuer.issuer, "audience": "wardgate"}
    return start_proxy({"upstream": upstream.url, "identity": {"kubernetes": kubernetes}})


class TestKubernetesServiceAccount:
    def sa_token(self, issuer, **claims):
        service_account = {"namespace": "payments", "serviceaccount": {"name": "billing-agent", "uid": "u1"}}
        return issuer.token(
            sub="system:serviceaccount:payments:billing-agent",
            aud="wardgate",
            **{"kubernetes.io": service_account},
            **claims,
        )

    def test_projected_token_names_namespace_and_service_account(self, cluster_proxy, issuer):
        response = call(cluster_proxy, {"x-wardgate-sa-token": self.sa_token(issuer)})
        # The namespace is the tenant, and the default policy knows no tenant "payments".
        assert (response.status_code, response.json()["error"]["code"]) == (403, "unknown_tenant")
        event = event_for(cluster_proxy.audit_file, response.json()["error"]["wardgate"]["decision_id"])
        assert event["identity"]["workload"] == {"namespace": "payments", "service_account": "billing-agent"}
        assert event["identity"]["source"] == "kubernetes"

    def test_token_for_another_audience_is_rejected(self, cluster_proxy, issuer):
        token = issuer.token(sub="system:serviceaccount:x:y", aud="kubernetes")
        response = call(cluster_proxy, {"x-wardgate-sa-token": token})
        assert response.status_code == 401


SPIFFE = "spiffe://cluster.local/ns/payments/sa/billing-agent"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    from tests.tls import client_pki

    return client_pki(tmp_path_factory.mktemp("pki"), SPIFFE)


@pytest.fixture(scope="module")
def mtls_proxy(start_proxy, upstream, pki):
    return start_proxy(
        {"upstream": upstream.url, "identity": {"mtls": {"enabled": True, "trust_bundle": str(pki["ca"])}}}
    )


class TestMutualTls:
    def client(self, proxy, cert, key):
        import ssl

        context = ssl.create_default_context(cafile=str(proxy.workdir / "ca" / "mitmproxy-ca-cert.pem"))
        context.load_cert_chain(str(cert), str(key))
        return httpx.Client(verify=context, headers={"authorization": f"Bearer {OPENAI_KEY}"})

    def test_verified_certificate_names_the_workload(self, mtls_proxy, pki):
        with self.client(mtls_proxy, pki["trusted_cert"], pki["trusted_key"]) as http:
            response = http.post(mtls_proxy.url.replace("http://", "https://") + "/v1/chat/completions", json=BODY)
        assert response.status_code == 200
        event = event_for(mtls_proxy.audit_file, response.headers["x-wardgate-decision-id"])
        assert event["identity"]["workload"] == {"namespace": "payments", "service_account": "billing-agent"}
        assert event["identity"]["subject"] == "test-client"  # the API key names the caller

    def test_untrusted_certificate_is_rejected(self, mtls_proxy, pki):
        with self.client(mtls_proxy, pki["untrusted_cert"], pki["untrusted_key"]) as http:
            response = http.post(mtls_proxy.url.replace("http://", "https://") + "/v1/chat/completions", json=BODY)
        assert (response.status_code, response.json()["error"]["code"]) == (401, "invalid_client_certificate")
