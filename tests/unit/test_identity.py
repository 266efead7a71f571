import pytest

from wardgate.errors import ConfigError
from wardgate.identity import IdentityRejected, IdentityResolver, hash_key
from wardgate.identity.api_keys import ApiKeyValidator
from wardgate.identity.jwt_bearer import claim

KUBERNETES_CLAIMS = {
    "sub": "system:serviceaccount:payments:billing-agent",
    "kubernetes.io": {"namespace": "payments", "serviceaccount": {"name": "billing-agent", "uid": "u-1"}},
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("sub", "system:serviceaccount:payments:billing-agent"),
        ("kubernetes.io.namespace", "payments"),
        ("kubernetes.io.serviceaccount.name", "billing-agent"),
        ("kubernetes.io.missing", None),
        ("sub.deeper", None),
    ],
)
def test_claim_paths_handle_dotted_keys(path, expected):
    assert claim(KUBERNETES_CLAIMS, path) == expected


def write_keys(tmp_path, text):
    path = tmp_path / "keys.yaml"
    path.write_text(text)
    return path


class TestApiKeys:
    async def test_known_key_maps_to_its_identity_and_is_stripped(self, tmp_path):
        keys = write_keys(
            tmp_path, f"keys:\n  - {{sha256: {hash_key('k1')}, subject: bot, tenant: acme, roles: [a]}}\n"
        )
        validator = ApiKeyValidator(keys, locations=[("authorization", "Bearer"), ("x-api-key", None)])
        resolver = IdentityResolver([validator], default_tenant="default", workload={}, strip_credentials=True)
        headers = {"x-api-key": "k1", "other": "kept"}
        identity = await resolver.resolve(headers)
        assert (identity.subject, identity.tenant, identity.roles, identity.source) == (
            "bot",
            "acme",
            ("a",),
            "api_key",
        )
        assert headers == {"other": "kept"}

    async def test_unknown_key_is_rejected(self, tmp_path):
        keys = write_keys(tmp_path, f"keys:\n  - {{sha256: {hash_key('k1')}, subject: bot}}\n")
        validator = ApiKeyValidator(keys, locations=[("authorization", "Bearer")])
        with pytest.raises(IdentityRejected, match="not known"):
            await validator.identify({"authorization": "Bearer nope"})

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("keys:\n  - {sha256: abc, subject: x}\n", "64 hex digits"),
            (f"keys:\n  - {{sha256: {'a' * 64}}}\n", "needs a `subject`"),
            ("keys: [", "cannot read API key file"),
        ],
    )
    def test_bad_key_file_is_a_config_error(self, tmp_path, text, message):
        with pytest.raises(ConfigError, match=message):
            ApiKeyValidator(write_keys(tmp_path, text), locations=[("x-api-key", None)])


class TestResolver:
    async def test_no_credential_is_anonymous(self):
        identity = await IdentityResolver([], default_tenant="t", workload={}, strip_credentials=True).resolve({})
        assert (identity.subject, identity.authenticated, identity.tenant) == ("anonymous", False, "t")

    async def test_sidecar_pod_identity_when_no_credential(self):
        workload = {"namespace": "payments", "service_account": "billing-agent"}
        resolver = IdentityResolver([], default_tenant="t", workload=workload, strip_credentials=True)
        identity = await resolver.resolve({})
        assert (identity.subject, identity.source, identity.authenticated) == (
            "system:serviceaccount:payments:billing-agent", "pod", True
        )  # fmt: skip


async def test_a_jwks_endpoint_that_answers_garbage_is_not_fetched_per_request():
    from aiohttp import web

    from wardgate.identity.jwks import KeySet, UnknownKey
    from wardgate.testing._server import BackgroundServer

    class Garbage(BackgroundServer):
        hits = 0

        def routes(self, app: web.Application) -> None:
            app.router.add_get("/jwks", self._jwks)

        async def _jwks(self, request: web.Request) -> web.Response:
            Garbage.hits += 1
            return web.Response(text="<html>not a key set</html>", content_type="text/html")

    with Garbage() as server:
        keys = KeySet(url=server.url + "/jwks", ttl=300, min_refetch=30)
        for _ in range(5):
            with pytest.raises(UnknownKey):
                await keys.key("kid-1")
    assert Garbage.hits == 2  # the first fetch and one forced refetch for the unknown kid, then rate-limited
