"""The refusals Wardgate answers with carry what clients act on: Retry-After on a budget denial, a 401's challenge."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests.conftest import POLICIES
from tests.integration.helpers import policy_copy
from wardgate.intercept.responses import CHALLENGE, refusal
from wardgate.pipeline import RequestContext
from wardgate.policy import Decision, EmbeddedEngine

IDENTITY = {"subject": "svc", "tenant": "default", "authenticated": True, "roles": []}
AT_23H = 1795302000 * 10**9  # 2026-11-21T23:00:00Z: an hour before the budget day ends


def context(provider: str = "openai") -> RequestContext:
    return RequestContext("POST", "api.openai.com", "/v1/chat/completions", provider, IDENTITY)


def decide(policies, policy_input) -> Decision:
    engine = EmbeddedEngine(policies, timeout=5)
    engine.load()
    try:
        return engine.evaluate_blocking(policy_input)
    finally:
        engine.shutdown()


@pytest.fixture(scope="module")
def budget_policies(tmp_path_factory):
    policies = policy_copy(tmp_path_factory.mktemp("budget"), budgets={"default": {"tokens_per_day": 100}})
    (policies / "wardgate" / "extensions").mkdir()
    shutil.copy(POLICIES / "examples" / "budget" / "budget.rego", policies / "wardgate" / "extensions")
    return policies


def request_input(**overrides):
    return {"phase": "request", "identity": IDENTITY, "findings": [], "now": AT_23H,
            "request": {"model": "gpt-4o-mini", "parsed": True, "tools": [], "segments": []}, **overrides}  # fmt: skip


def test_a_budget_denial_is_a_429_with_retry_after_until_utc_midnight(budget_policies):
    assert time.strftime("%H:%M:%S", time.gmtime(AT_23H / 10**9)) == "23:00:00"
    decision = decide(budget_policies, request_input(usage={"tokens_today": 100, "requests_today": 3}))
    response = refusal(context(), decision)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3600"
    assert json.loads(response.content)["error"]["code"] == "budget_exceeded"


def test_under_budget_nothing_is_denied(budget_policies):
    assert decide(budget_policies, request_input(usage={"tokens_today": 99, "requests_today": 3})).allow


@pytest.mark.parametrize("provider", ["mcp", "openai", "anthropic"])
def test_a_401_names_its_challenge(provider):
    decision = decide(POLICIES, request_input(identity={"subject": None, "tenant": "default", "authenticated": False}))
    response = refusal(context(provider), decision)
    assert response.status_code == 401
    assert response.headers.get_all("www-authenticate") == [CHALLENGE]


def test_other_refusals_have_no_challenge():
    response = refusal(context("mcp"), Decision.deny("tool_denied", "no"))
    assert (response.status_code, response.headers.get("www-authenticate")) == (200, None)


def test_a_policy_header_replaces_ours_whatever_its_case():
    decision = Decision.deny("unauthenticated", "sign in", status=401).model_copy(
        update={"headers": {"WWW-Authenticate": 'Bearer resource_metadata="https://wardgate.example/.well-known"'}}
    )
    response = refusal(context("mcp"), decision)
    assert response.headers.get_all("www-authenticate") == [
        'Bearer resource_metadata="https://wardgate.example/.well-known"'
    ]
