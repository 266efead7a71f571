"""Tool calls inside LLM traffic: denied tools stripped from requests, denied calls turned into refusals."""

from __future__ import annotations

import json

import anthropic
import httpx
import openai
import pytest

from tests.conftest import ANTHROPIC_KEY, AUTH, AWS_KEY, OPENAI_KEY
from tests.integration.helpers import policy_copy, wait_for_events
from wardgate.testing import FakeUpstream

FAST = {"scanners": {"injection": {"enabled": False}}}
TOOLS = [
    {"type": "function", "function": {"name": "search", "parameters": {"type": "object", "properties": {}}}},
    {"type": "function", "function": {"name": "shell_exec", "parameters": {"type": "object", "properties": {}}}},
]


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    return policy_copy(tmp_path_factory.mktemp("tools"), tools={"deny": ["shell_*"]})


def test_a_denied_tool_is_stripped_from_the_request(start_proxy, upstream, policies):
    proxy = start_proxy({"upstream": upstream.url, **FAST}, policies=policies)
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "list the files"}],
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "shell_exec"}},
    )
    sent = upstream.received[-1]
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["search"]
    assert sent["tool_choice"] == "auto"


@pytest.mark.parametrize("path", ["/v1/chat/%63ompletions", "/v1/chat/completion%73", "/v1/x/%2e%2e/chat/completions"])
def test_a_path_spelled_otherwise_is_judged_and_forwarded_as_the_route_it_is(start_proxy, upstream, policies, path):
    """Upstream routers decode paths: Wardgate judges, and forwards, the path in that decoded spelling."""
    proxy = start_proxy({"upstream": upstream.url, **FAST}, policies=policies)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "list the files"}], "tools": TOOLS}
    response = httpx.post(proxy.url + path, json=body, headers=AUTH, timeout=30)
    assert response.status_code == 200
    assert [tool["function"]["name"] for tool in upstream.received[-1]["tools"]] == ["search"]
    assert upstream.paths[-1] == "/v1/chat/completions"


@pytest.mark.parametrize("name", ["shell_exec", "search"])
def test_a_call_the_model_asks_for_is_judged_and_a_denied_one_becomes_a_refusal(start_proxy, policies, name):
    with FakeUpstream(tool_call=(name, ['{"command": "ls -la"}'])) as agentic:
        proxy = start_proxy({"upstream": agentic.url, **FAST}, policies=policies)
        client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "list the files"}], tools=TOOLS
        )
        anthropic_reply = anthropic.Anthropic(base_url=proxy.url, api_key=ANTHROPIC_KEY, max_retries=0).messages.create(
            model="claude-3-5-haiku-latest", max_tokens=64, messages=[{"role": "user", "content": "list the files"}]
        )
    choice = reply.choices[0]
    if name == "search":
        assert choice.message.tool_calls[0].function.name == "search"
        assert anthropic_reply.content[0].type == "tool_use"
        return
    assert choice.message.tool_calls is None
    assert choice.finish_reason == "stop"
    assert "Wardgate refused the call to shell_exec" in choice.message.content
    assert [block.type for block in anthropic_reply.content] == ["text"]
    assert anthropic_reply.stop_reason == "end_turn"
    events = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "tool_call", count=2)
    assert [(e["tool"]["name"], e["result"]["code"]) for e in events] == [("shell_exec", "tool_denied")] * 2
    assert "ls -la" not in json.dumps(events)  # arguments are judged, never recorded


def test_a_streamed_call_to_a_denied_tool_stops_the_stream(start_proxy, policies):
    with FakeUpstream(tool_call=("shell_exec", ['{"command": ', '"rm -rf /"}'])) as agentic:
        proxy = start_proxy({"upstream": agentic.url, **FAST}, policies=policies)
        client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "clean up"}], tools=TOOLS, stream=True
        )
        with pytest.raises(openai.APIError, match="shell_exec"):
            list(stream)


def test_anthropic_tools_are_stripped_and_a_responses_call_becomes_a_refusal(start_proxy, policies):
    with FakeUpstream(tool_call=("shell_exec", ['{"command": "id"}'])) as agentic:
        proxy = start_proxy({"upstream": agentic.url, **FAST}, policies=policies)
        anthropic.Anthropic(base_url=proxy.url, api_key=ANTHROPIC_KEY, max_retries=0).messages.create(
            model="claude-3-5-haiku-latest",
            max_tokens=64,
            messages=[{"role": "user", "content": "list the files"}],
            tools=[{"name": name, "input_schema": {"type": "object"}} for name in ("search", "shell_exec")],
            tool_choice={"type": "tool", "name": "shell_exec"},
        )
        sent = agentic.received[-1]
        client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
        response = client.responses.create(
            model="gpt-4o-mini",
            input="list the files",
            tools=[{"type": "function", "name": "shell_exec", "parameters": {"type": "object", "properties": {}}}],
        )
    assert [tool["name"] for tool in sent["tools"]] == ["search"]
    assert sent["tool_choice"] == {"type": "auto"}
    assert [item.type for item in response.output] == ["message"]
    assert "Wardgate refused the call to shell_exec" in response.output_text


def test_legacy_functions_and_hosted_tools_are_governed_by_the_same_tool_policy(start_proxy, upstream, tmp_path):
    policies = policy_copy(tmp_path, tools={"deny": ["shell_*", "mcp:*", "code_interpreter"]})
    proxy = start_proxy({"upstream": upstream.url, **FAST}, policies=policies)
    client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
    client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "list the files"}],
        functions=[{"name": "search", "parameters": {"type": "object"}}, {"name": "shell_exec", "parameters": {}}],
        function_call={"name": "shell_exec"},
    )
    sent = upstream.received[-1]
    assert [function["name"] for function in sent["functions"]] == ["search"]
    assert sent["function_call"] == "auto"
    client.responses.create(
        model="gpt-4o-mini",
        input="what changed?",
        tools=[
            {
                "type": "mcp",
                "server_label": "github",
                "server_url": "https://mcp.example/sse",
                "require_approval": "never",
            },
            {"type": "code_interpreter", "container": {"type": "auto"}},
            {"type": "web_search"},
        ],
    )
    assert [tool["type"] for tool in upstream.received[-1]["tools"]] == ["web_search"]


def test_a_legacy_function_call_in_an_answer_is_judged_like_a_tool_call(start_proxy, tmp_path):
    from aiohttp import web

    from wardgate.testing._server import BackgroundServer

    class LegacyAnswer(BackgroundServer):
        def routes(self, app: web.Application) -> None:
            app.router.add_post("/v1/chat/completions", self._answer)

        async def _answer(self, request: web.Request) -> web.Response:
            message = {"role": "assistant", "content": None,
                       "function_call": {"name": "shell_exec", "arguments": '{"command": "rm -rf /"}'}}  # fmt: skip
            return web.json_response(
                {
                    "id": "c",
                    "object": "chat.completion",
                    "model": "gpt-4o-mini",
                    "choices": [{"index": 0, "message": message, "finish_reason": "function_call"}],
                }
            )

    policies = policy_copy(tmp_path, tools={"deny": ["shell_*"]})
    with LegacyAnswer() as upstream:
        proxy = start_proxy({"upstream": upstream.url, **FAST}, policies=policies)
        client = openai.OpenAI(base_url=proxy.url + "/v1", api_key=OPENAI_KEY, max_retries=0)
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "clean"}])
    message = reply.choices[0].message
    assert message.function_call is None
    assert "Wardgate refused the call to shell_exec" in (message.content or "")
    events = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "tool_call")
    assert [(e["tool"]["name"], e["result"]["code"]) for e in events] == [("shell_exec", "tool_denied")]


GEMINI = "/v1beta/models/gemini-2.0-flash"
GEMINI_TOOLS = [
    {"functionDeclarations": [{"name": "search", "parameters": {"type": "object"}}, {"name": "shell_exec"}]},
    {"function_declarations": [{"name": "shell_run"}]},  # Google reads the proto's snake_case spelling too
    {"googleSearch": {}},
    {"code_execution": {}},
]


def test_gemini_tools_are_stripped_in_both_spellings_and_a_forced_call_is_released(start_proxy, upstream, tmp_path):
    """Found while closing the gap the README named: Gemini's tools reached the upstream ungoverned."""
    policies = policy_copy(tmp_path, tools={"deny": ["shell_*", "code_execution"]})
    proxy = start_proxy({"upstream": upstream.url, **FAST}, policies=policies)
    body = {
        "contents": [{"role": "user", "parts": [{"text": "list the files"}]}],
        "tools": GEMINI_TOOLS,
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["shell_exec"]}},
    }
    response = httpx.post(f"{proxy.url}{GEMINI}:generateContent", json=body, headers=AUTH, timeout=30)
    assert response.status_code == 200
    sent = upstream.received[-1]
    assert sent["tools"] == [{"functionDeclarations": [{"name": "search", "parameters": {"type": "object"}}]},
                             {"googleSearch": {}}]  # fmt: skip
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    event = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "request")[-1]
    assert event["model"] == event["input"]["request"]["model"] == "gemini-2.0-flash"
    # A cached content's tools run later, in a request that offers none: governed when the cache is made.
    cached = {"model": "models/gemini-2.0-flash", "tools": GEMINI_TOOLS, "contents": body["contents"]}
    assert httpx.post(f"{proxy.url}/v1beta/cachedContents", json=cached, headers=AUTH, timeout=30).status_code == 200
    assert upstream.received[-1]["tools"] == sent["tools"]


@pytest.mark.parametrize("name", ["shell_exec", "search"])
def test_a_gemini_call_is_judged_and_a_denied_one_becomes_a_refusal(start_proxy, policies, name):
    with FakeUpstream(tool_call=(name, ['{"command": "ls -la"}'])) as agentic:
        proxy = start_proxy({"upstream": agentic.url, **FAST}, policies=policies)
        body = {"contents": [{"role": "user", "parts": [{"text": "list the files"}]}], "tools": GEMINI_TOOLS[:1]}
        reply = httpx.post(f"{proxy.url}{GEMINI}:generateContent", json=body, headers=AUTH, timeout=30).json()
    parts = reply["candidates"][0]["content"]["parts"]
    if name == "search":
        assert parts == [{"functionCall": {"name": "search", "args": {"command": "ls -la"}}}]
        return
    assert [list(part) for part in parts] == [["text"]]
    assert "Wardgate refused the call to shell_exec" in parts[0]["text"]
    events = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "tool_call")
    assert [(e["tool"]["name"], e["result"]["code"]) for e in events] == [("shell_exec", "tool_denied")]


@pytest.mark.parametrize("name", ["shell_exec", "search"])
def test_a_streamed_gemini_call_is_judged_whole(start_proxy, policies, name):
    with FakeUpstream(tool_call=(name, ['{"command": "rm -rf /"}'])) as agentic:
        proxy = start_proxy({"upstream": agentic.url, **FAST}, policies=policies)
        body = {"contents": [{"role": "user", "parts": [{"text": "clean up"}]}]}
        url = f"{proxy.url}{GEMINI}:streamGenerateContent?alt=sse"
        with httpx.stream("POST", url, json=body, headers=AUTH, timeout=30) as response:
            received = response.read()
        sent = agentic.streamed[-1]
    if name == "search":
        assert received == sent  # an allowed call passes byte for byte
        return
    assert b"rm -rf" not in received
    error = json.loads(received.decode().strip().splitlines()[-1].removeprefix("data: "))["error"]
    assert error["status"] == "tool_denied"
    event = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "response" and e["stream"])[-1]
    assert (event["tool"]["name"], event["result"]["code"], event["streamed"]["stopped"]) == (
        "shell_exec",
        "tool_denied",
        True,
    )


def test_a_model_named_by_the_path_is_governed_by_the_tenant_s_models(start_proxy, upstream, tmp_path):
    """Gemini names its model in the path and an Azure deployment runs whatever its body says: both went unchecked."""
    policies = policy_copy(tmp_path, tenants={"default": {"models": ["gemini-2.0-flash", "gpt-4o-mini"]}})
    proxy = start_proxy({"upstream": upstream.url, **FAST}, policies=policies)
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    assert httpx.post(f"{proxy.url}{GEMINI}:generateContent", json=body, headers=AUTH, timeout=30).status_code == 200
    refused = httpx.post(f"{proxy.url}/v1beta/models/gemini-2.5-pro:generateContent", json=body, headers=AUTH,
                         timeout=30)  # fmt: skip
    assert refused.status_code == 403
    assert refused.json()["error"]["status"] in ("PERMISSION_DENIED", "model_not_allowed")
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    azure = httpx.post(f"{proxy.url}/openai/deployments/gpt-4-32k/chat/completions?api-version=2024-10-21", json=chat,
                       headers=AUTH, timeout=30)  # fmt: skip
    assert azure.status_code == 403
    assert azure.json()["error"]["code"] == "model_not_allowed"
    converse = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    bedrock = httpx.post(f"{proxy.url}/model/anthropic.claude-opus-4-v1:0/converse", json=converse, headers=AUTH,
                         timeout=30)  # fmt: skip
    assert bedrock.status_code == 403
    assert bedrock.json()["__type"] == "AccessDeniedException"


def test_ollama_tools_are_stripped_and_its_refusals_are_in_its_error_shape(start_proxy, upstream, policies):
    proxy = start_proxy({"upstream": upstream.url, **FAST}, policies=policies)
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "list the files"}], "tools": TOOLS}
    assert httpx.post(f"{proxy.url}/api/chat", json=body, headers=AUTH, timeout=30).status_code == 200
    assert [tool["function"]["name"] for tool in upstream.received[-1]["tools"]] == ["search"]
    leak = {"model": "llama3.2", "messages": [{"role": "user", "content": f"my key is {AWS_KEY}"}]}
    refused = httpx.post(f"{proxy.url}/api/chat", json=leak, headers=AUTH, timeout=30)
    assert refused.status_code == 403
    assert isinstance(refused.json()["error"], str)  # what ollama-python raises ResponseError with


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("name", ["shell_exec", "search"])
def test_an_ollama_call_is_judged_in_json_and_in_json_lines(start_proxy, policies, name, stream):
    with FakeUpstream(tool_call=(name, ['{"command": "ls -la"}'])) as agentic:
        proxy = start_proxy({"upstream": agentic.url, **FAST}, policies=policies)
        messages = [{"role": "user", "content": "list"}]
        body = {"model": "llama3.2", "messages": messages, "tools": TOOLS, "stream": stream}
        response = httpx.post(f"{proxy.url}/api/chat", json=body, headers=AUTH, timeout=30)
    lines = [json.loads(line) for line in response.text.splitlines()] if stream else [response.json()]
    calls = [call for line in lines for call in line["message"].get("tool_calls", [])]
    if name == "search":
        assert calls == [{"function": {"name": "search", "arguments": {"command": "ls -la"}}}]
        return
    assert calls == []
    assert "Wardgate refused the call to shell_exec" in "".join(line["message"]["content"] for line in lines)
    assert lines[-1]["done"] is True
    events = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "tool_call")
    assert [(e["tool"]["name"], e["result"]["code"]) for e in events] == [("shell_exec", "tool_denied")]


CONVERSE = "/model/anthropic.claude-3-5-haiku-20241022-v1:0/converse"


@pytest.mark.parametrize("name", ["shell_exec", "search"])
def test_bedrock_converse_tools_are_stripped_and_a_denied_call_becomes_a_refusal(start_proxy, policies, name):
    specs = [{"toolSpec": {"name": tool, "inputSchema": {"json": {"type": "object"}}}} for tool in ("search", name)]
    with FakeUpstream(tool_call=(name, ['{"command": "ls -la"}'])) as agentic:
        proxy = start_proxy({"upstream": agentic.url, **FAST}, policies=policies)
        body = {
            "messages": [{"role": "user", "content": [{"text": "list the files"}]}],
            "toolConfig": {"tools": specs, "toolChoice": {"tool": {"name": name}}},
        }
        reply = httpx.post(proxy.url + CONVERSE, json=body, headers=AUTH, timeout=30).json()
        sent = agentic.received[-1]["toolConfig"]
    blocks = reply["output"]["message"]["content"]
    if name == "search":
        assert sent["toolChoice"] == {"tool": {"name": "search"}}
        assert blocks[0]["toolUse"]["name"] == "search"
        return
    assert [spec["toolSpec"]["name"] for spec in sent["tools"]] == ["search"]
    assert sent["toolChoice"] == {"auto": {}}
    assert ["toolUse" in block for block in blocks] == [False]
    assert "Wardgate refused the call to shell_exec" in blocks[0]["text"]
    assert reply["stopReason"] == "end_turn"


@pytest.mark.parametrize("name", ["shell_exec", "search"])
def test_cohere_tools_are_stripped_and_a_denied_call_is_refused_in_its_answer_and_its_stream(
    start_proxy, policies, name
):
    with FakeUpstream(tool_call=(name, ['{"command": ', '"ls -la"}'])) as agentic:
        proxy = start_proxy({"upstream": agentic.url, **FAST}, policies=policies)
        body = {"model": "command-a-03-2025", "messages": [{"role": "user", "content": "list the files"}],
                "tools": TOOLS}  # fmt: skip
        reply = httpx.post(proxy.url + "/v2/chat", json=body, headers=AUTH, timeout=30).json()
        sent = agentic.received[-1]
        with httpx.stream("POST", proxy.url + "/v2/chat", json={**body, "stream": True}, headers=AUTH) as streamed:
            events = [json.loads(line[6:]) for line in streamed.iter_lines() if line.startswith("data: ")]
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["search"]
    if name == "search":
        assert reply["message"]["tool_calls"][0]["function"]["name"] == "search"
        assert events[-1]["delta"]["finish_reason"] == "TOOL_CALL"
        return
    assert "tool_calls" not in reply["message"]
    assert reply["finish_reason"] == "COMPLETE"
    assert "Wardgate refused the call to shell_exec" in reply["message"]["content"][-1]["text"]
    # The stream stops before the call's start reaches the client, with the end event the cohere SDK reads.
    assert not [event for event in events if event["type"].startswith("tool-call")]
    assert events[-1]["delta"]["finish_reason"] == "ERROR"
    assert "shell_exec" in events[-1]["delta"]["error"]
    audited = wait_for_events(proxy.audit_file, lambda e: e["result"]["code"] == "tool_denied", count=2)
    assert {e["phase"] for e in audited} == {"tool_call", "response"}
