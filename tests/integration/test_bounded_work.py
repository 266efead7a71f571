"""Work Wardgate does for a request is bounded: by the body's structure, by its deadlines, and by the life of the
request itself (a request that is refused, times out or whose client hangs up leaves no work running)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.conftest import AUTH
from tests.integration.helpers import wait_for_events

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
# Secrets and links only: what a structure test needs, without the models' start-up.
LIGHT = {"scanners": {"injection": {"enabled": False}, "pii": {"enabled": False}}}


def agent_conversation(turns: int = 1_000, tools: int = 20) -> dict:
    """The largest real traffic: a long agent run with tool calls, tool results and offered tools."""
    offered = [
        {"type": "function", "function": {"name": f"tool_{i}", "description": f"Looks things up, kind {i}.",
         "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}
        for i in range(tools)
    ]  # fmt: skip
    messages: list[dict] = [{"role": "system", "content": "You are a careful research agent."}]
    for turn in range(turns // 4):
        arguments = json.dumps({"query": f"item {turn}"})
        call = {"id": f"call_{turn}", "type": "function", "function": {"name": "tool_1", "arguments": arguments}}
        messages += [
            {"role": "user", "content": f"Step {turn}: look up item {turn}."},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"call_{turn}", "content": f"Item {turn} is on shelf {turn % 40}."},
            {"role": "assistant", "content": f"Item {turn} is available."},
        ]
    return {"model": "gpt-4o-mini", "messages": messages, "tools": offered}


@pytest.fixture(scope="module")
def light(start_proxy, upstream):
    return start_proxy({"upstream": upstream.url, **LIGHT})


class TestHostileStructure:
    @pytest.mark.parametrize(
        "body",
        [
            {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}] * 100_000},
            {**BODY, "metadata": {f"k{i}": 1 for i in range(300_000)}},
        ],
        ids=["100k-messages", "300k-keys"],
    )
    def test_a_body_of_too_many_pieces_is_a_413_before_any_scan(self, light, upstream, body):
        raw = json.dumps(body).encode()
        before = len(upstream.received)
        started = time.perf_counter()
        response = httpx.post(light.url + "/v1/chat/completions", content=raw, headers=AUTH, timeout=30)
        elapsed = time.perf_counter() - started
        assert (response.status_code, response.json()["error"]["code"]) == (413, "body_too_complex")
        assert elapsed < 1.5, f"refused after {elapsed:.2f} s"  # measured ~0.1 s with the upload; seconds before
        assert len(upstream.received) == before
        decision_id = response.headers["x-wardgate-decision-id"]
        events = wait_for_events(light.audit_file, lambda e: e["decision_id"] == decision_id)
        assert [e["result"]["code"] for e in events] == ["body_too_complex"]
        assert events[0]["findings"] == []

    def test_a_thousand_turn_agent_conversation_passes(self, light, upstream):
        response = httpx.post(light.url + "/v1/chat/completions", json=agent_conversation(), headers=AUTH, timeout=30)
        assert response.status_code == 200, response.text
        assert len(upstream.received[-1]["messages"]) == 1 + 1_000
