"""`policy.engine: opa` through the real proxy: decisions from an OPA server over HTTP; every fault fails closed."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import AUTH, POLICIES, free_port
from tests.integration.helpers import event_for
from wardgate.testing import FakeOpaServer

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module")
def opa():
    with FakeOpaServer(POLICIES) as server:
        yield server


@pytest.fixture(autouse=True)
def healthy(opa):
    opa.delay, opa.force_status = 0.0, None


def remote(opa_url: str, fail_open: bool = False) -> dict[str, object]:
    config: dict[str, object] = {"policy": {"engine": "opa", "opa_url": opa_url, "timeout_ms": 300}}
    if fail_open:
        config["fail_closed"] = {"policy_error": []}
    return config


@pytest.fixture(scope="module")
def closed(start_proxy, upstream, opa):
    return start_proxy({"upstream": upstream.url, **remote(opa.url)})


@pytest.fixture(scope="module")
def open_(start_proxy, upstream, opa):
    return start_proxy({"upstream": upstream.url, **remote(opa.url, fail_open=True)})


def post(proxy):
    return httpx.post(proxy.url + "/v1/chat/completions", json=BODY, headers=AUTH, timeout=10)


def test_decisions_come_from_the_opa_server(closed, opa):
    response = post(closed)
    assert response.status_code == 200
    event = event_for(closed.audit_file, response.headers["x-wardgate-decision-id"])
    assert event["bundle_revision"] == f"wardgate@{opa.revision}"
    assert "strict-builtin-errors=true" in opa.queries[-1]


def test_slow_but_within_budget_is_still_answered(closed, opa):
    opa.delay = 0.1
    assert post(closed).status_code == 200


@pytest.mark.parametrize("fault", [{"force_status": 500}, {"delay": 1.0}], ids=["http-500", "timeout"])
def test_faults_fail_closed_and_are_audited(closed, opa, upstream, fault):
    for name, value in fault.items():
        setattr(opa, name, value)
    before = len(upstream.received)
    response = post(closed)
    error = response.json()["error"]
    assert (response.status_code, error["code"]) == (503, "policy_engine_error")
    assert before == len(upstream.received)
    event = event_for(closed.audit_file, error["wardgate"]["decision_id"])
    assert event["result"]["source"] == "fail_closed"


@pytest.mark.parametrize("fault", [{"force_status": 500}, {"delay": 1.0}], ids=["http-500", "timeout"])
def test_faults_fail_open_when_configured(open_, opa, upstream, fault):
    for name, value in fault.items():
        setattr(opa, name, value)
    response = post(open_)
    assert response.status_code == 200
    event = event_for(open_.audit_file, response.headers["x-wardgate-decision-id"])
    assert (event["result"]["source"], event["result"]["code"]) == ("fail_open", "policy_engine_error")


def test_unreachable_opa_fails_closed(start_proxy, upstream):
    proxy = start_proxy({"upstream": upstream.url, **remote(f"http://127.0.0.1:{free_port()}")})
    response = post(proxy)
    assert (response.status_code, response.json()["error"]["code"]) == (503, "policy_engine_error")
    assert "cannot reach OPA" in response.json()["error"]["message"]


def test_undefined_decision_fails_closed(start_proxy, upstream, tmp_path):
    from tests.conftest import write_policy

    bundle = write_policy(tmp_path, 'package wardgate\n\ndecision := {"allow": true} if input.never\n')
    with FakeOpaServer(bundle) as empty:
        proxy = start_proxy({"upstream": upstream.url, **remote(empty.url)})
        response = post(proxy)
    assert response.status_code == 503
    assert "undefined" in response.json()["error"]["message"]
