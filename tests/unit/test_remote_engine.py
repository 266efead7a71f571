"""The remote engine against a stand-in OPA server (real HTTP on 127.0.0.1, OPA's own evaluator behind it)."""

import time

import pytest

from tests.conftest import POLICIES, free_port, write_policy
from wardgate.errors import PolicyError
from wardgate.policy import EmbeddedEngine, RemoteEngine
from wardgate.testing import FakeOpaServer

KNOWN = {"phase": "request", "identity": {"tenant": "default", "authenticated": True}, "request": {"model": "m"}}
SECRET = {"kind": "secret:aws-access-token", "family": "secret", "score": 1.0}
ANONYMOUS = {"tenant": "default", "authenticated": False}


@pytest.fixture(scope="module")
def opa():
    with FakeOpaServer(POLICIES) as server:
        yield server


@pytest.fixture
async def remote(opa):
    engine = RemoteEngine(opa.url, timeout=0.5)
    await engine.start()
    yield engine
    await engine.close()
    opa.delay, opa.force_status = 0.0, None


async def test_decision_and_revision_come_from_the_server(remote, opa):
    decision = await remote.evaluate({**KNOWN, "findings": []})
    assert decision.allow
    assert remote.revision == f"wardgate@{opa.revision}"
    assert "strict-builtin-errors=true" in opa.queries[-1]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"force_status": 500}, "OPA answered HTTP 500"),
        ({"force_status": 400}, "OPA answered HTTP 400"),
        ({"delay": 1.0}, "did not answer within 500 ms"),
    ],
)
async def test_faults_are_policy_errors(remote, opa, fault, message):
    for name, value in fault.items():
        setattr(opa, name, value)
    with pytest.raises(PolicyError, match=message):
        await remote.evaluate({**KNOWN, "findings": []})


async def test_connection_refused_is_a_policy_error():
    engine = RemoteEngine(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    await engine.start()
    with pytest.raises(PolicyError, match="cannot reach OPA"):
        await engine.evaluate(KNOWN)
    await engine.close()


async def test_undefined_decision_is_a_policy_error(tmp_path):
    bundle = write_policy(tmp_path, 'package wardgate\n\ndecision := {"allow": true} if input.never\n')
    with FakeOpaServer(bundle) as server:
        engine = RemoteEngine(server.url, timeout=0.5)
        await engine.start()
        with pytest.raises(PolicyError, match="undefined on the OPA server"):
            await engine.evaluate(KNOWN)
        await engine.close()


async def test_cache_reuses_a_decision_for_the_same_input_but_not_another(opa):
    engine = RemoteEngine(opa.url, timeout=0.5, cache_ttl=30)
    await engine.start()
    before = len(opa.queries)
    for now in (1, 2, 3):  # `now` and the request id change per request and are not part of the key
        await engine.evaluate({**KNOWN, "now": now, "findings": []})
    await engine.evaluate({**KNOWN, "now": 4, "findings": [SECRET]})
    assert len(opa.queries) - before == 2
    await engine.close()


PARITY_TABLE = [
    {**KNOWN, "findings": []},
    {**KNOWN, "findings": [SECRET]},
    {**KNOWN, "phase": "response", "findings": [SECRET]},
    {**KNOWN, "identity": ANONYMOUS, "findings": []},
    {**KNOWN, "identity": {"tenant": "nobody", "authenticated": True}, "findings": []},
    {
        **KNOWN,
        "findings": [{"kind": "injection", "family": "injection", "score": 0.99, "threshold": 0.5, "segment": 0}],
    },
    {**KNOWN, "findings": [{"kind": "injection", "family": "injection", "score": 0.1, "threshold": 0.5, "segment": 0}]},
    {**KNOWN, "phase": "bogus", "findings": []},
]


async def test_embedded_and_remote_engines_decide_identically(remote):
    embedded = EmbeddedEngine(POLICIES, timeout=1.0)
    embedded.load()
    for policy_input in PARITY_TABLE:
        local, served = await embedded.evaluate(policy_input), await remote.evaluate(policy_input)
        assert local.model_dump() == served.model_dump(), policy_input
    await embedded.close()


def test_the_decision_cache_is_bounded_and_expires():
    engine = RemoteEngine("http://127.0.0.1:1", timeout=0.1, cache_ttl=0.05)
    assert engine._cache.maxsize == 10_000
    engine._cache["k"] = object()  # type: ignore[assignment]
    time.sleep(0.1)
    assert "k" not in engine._cache  # expired entries are gone, not only ignored
