"""A real MCP client and server (the official `mcp` SDK, streamable HTTP) talking through the proxy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from mcp import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import McpError

from tests.conftest import ANTHROPIC_KEY, OPENAI_KEY, POLICIES
from tests.integration.helpers import audit_events, policy_copy, wait_for_events
from tests.integration.mcp_server import INJECTED_PAGE, POISONED_DESCRIPTIONS, McpServer


@pytest.fixture(
    scope="module",
    params=[(False, "stream"), (False, "buffer"), (True, "stream")],
    ids=["sse-answers", "sse-answers-buffered", "json-answers"],
)
def proxy(request, start_proxy, tmp_path_factory):
    json_response, post_answers = request.param
    policies = policy_copy(tmp_path_factory.mktemp("mcp"), tools={"deny": ["shell_*"]})
    streaming = {"mcp_post_answers": post_answers}
    with McpServer(json_response=json_response) as server:
        yield start_proxy({"upstream": server.url, "streaming": streaming}, policies=policies)


async def session_call(proxy, action):
    """Open a session through the proxy and run `action`; a JSON-RPC error comes back as the McpError itself."""
    http = create_mcp_http_client(headers={"authorization": f"Bearer {OPENAI_KEY}"})
    async with (
        http,
        streamable_http_client(proxy.url + "/mcp", http_client=http) as (read, write, _),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        try:
            return await action(session)
        except McpError as error:
            return error


async def test_tools_list_is_filtered_to_what_the_caller_may_use(proxy):
    listed = await session_call(proxy, lambda session: session.list_tools())
    assert sorted(tool.name for tool in listed.tools) == ["add", "fetch_page", "read_note"]


@pytest.mark.parametrize(("json_response", "poison"), [(False, "injection"), (True, "injection"),
                                                     (True, "hidden-side-task")])  # fmt: skip
async def test_a_tool_definition_carrying_an_injection_is_refused(start_proxy, json_response, poison):
    """Tool poisoning: a tools/list answer whose description instructs the agent's model. Outside reviews found one
    scored 0.95 and let through (the policy judged injections in an answer's tool calls only), and Invariant Labs'
    example scored 0.16 (the rules in scanners/tool_poisoning.py find it)."""
    with McpServer(json_response=json_response, poisoned=POISONED_DESCRIPTIONS[poison]) as server:
        proxy = start_proxy({"upstream": server.url})
        listed = await session_call(proxy, lambda session: session.list_tools())
    assert isinstance(listed, McpError)
    denied = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "response" and not e["result"]["allow"])
    assert denied[-1]["result"]["code"] == "prompt_injection"


async def test_an_allowed_call_goes_through(proxy):
    result = await session_call(proxy, lambda session: session.call_tool("add", {"a": 2, "b": 40}))
    assert result.content[0].text == "42"
    note = await session_call(proxy, lambda session: session.call_tool("read_note", {"name": "groceries"}))
    assert "buy milk" in note.content[0].text


async def test_a_denied_call_is_a_json_rpc_error_and_never_reaches_the_server(proxy):
    error = await session_call(proxy, lambda session: session.call_tool("shell_exec", {"command": "cat /etc/passwd"}))
    assert isinstance(error, McpError)
    assert "shell_exec" in error.error.message
    denied = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "tool_call" and not e["result"]["allow"])
    assert denied[-1]["tool"] == {"name": "shell_exec", "id": denied[-1]["tool"]["id"], "source": "mcp"}
    assert "passwd" not in proxy.audit_file.read_text()


async def test_a_tool_result_carrying_an_injection_is_blocked(proxy):
    error = await session_call(proxy, lambda session: session.call_tool("fetch_page", {"url": "https://acme.test"}))
    assert isinstance(error, McpError)
    assert "prompt injection" in error.error.message
    blocked = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "tool_result" and not e["result"]["allow"])
    assert blocked[-1]["result"]["code"] == "prompt_injection"
    assert INJECTED_PAGE[:40] not in proxy.audit_file.read_text()


async def test_a_session_stays_with_the_caller_that_opened_it(proxy):
    client_info = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": client_info}
    accept = {"accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(timeout=30) as client:
        opened = await client.post(
            proxy.url + "/mcp", json=init, headers={**accept, "authorization": f"Bearer {OPENAI_KEY}"}
        )
        session = opened.headers["mcp-session-id"]
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        stolen = await client.post(
            proxy.url + "/mcp", json=listing,
            headers={**accept, "x-api-key": ANTHROPIC_KEY, "mcp-session-id": session},
        )  # fmt: skip
    assert stolen.status_code == 200
    assert stolen.json()["error"]["data"]["wardgate"] == "mcp_session_mismatch"


async def test_a_caller_without_a_credential_gets_a_401_with_a_challenge(proxy):
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
            "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}  # fmt: skip
    async with httpx.AsyncClient() as client:
        response = await client.post(
            proxy.url + "/mcp", json=init, headers={"accept": "application/json, text/event-stream"}
        )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="wardgate"'
    assert response.json()["error"]["data"]["decision_id"] == response.headers["x-wardgate-decision-id"]


@contextlib.asynccontextmanager
async def legacy_session(proxy, timeout_s: float = 60) -> AsyncIterator[ClientSession]:
    """An initialised session over the older HTTP+SSE transport. Its client waits for ever for an answer that is
    lost: past `timeout_s` the test fails with what the proxy audited and logged."""
    try:
        async with (
            asyncio.timeout(timeout_s),
            sse_client(proxy.url + "/sse", headers={"authorization": f"Bearer {OPENAI_KEY}"}) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session
    except TimeoutError:
        events = audit_events(proxy.audit_file)
        audited = [(e["phase"], e["result"].get("code"), e["result"].get("status")) for e in events]
        log = "\n".join(proxy.output[-20:])
        pytest.fail(f"an answer never came; audited: {audited}\nproxy log:\n{log}")


async def test_the_older_http_sse_transport_is_guarded_on_its_session_stream(start_proxy, tmp_path):
    policies = policy_copy(tmp_path, tools={"deny": ["shell_*"]})
    with McpServer(legacy_sse=True) as server:
        proxy = start_proxy({"upstream": server.url}, policies=policies)
        async with legacy_session(proxy) as session:
            listed = await session.list_tools()
            added = await session.call_tool("add", {"a": 1, "b": 2})
            denied = injected = None
            try:
                await session.call_tool("shell_exec", {"command": "id"})
            except McpError as error:
                denied = error
            try:
                await session.call_tool("fetch_page", {"url": "https://acme.test"})
            except McpError as error:
                injected = error
    assert sorted(tool.name for tool in listed.tools) == ["add", "fetch_page", "read_note"]
    assert added.content[0].text == "3"
    assert denied is not None
    assert "shell_exec" in denied.error.message
    assert injected is not None
    assert "prompt injection" in injected.error.message


async def test_an_older_transport_session_id_is_never_masked_though_it_looks_like_pii(
    start_proxy, monkeypatch, tmp_path
):
    """A random session id can read as a medical licence number ("...f69bb050..."): masked in the endpoint event
    or in the POSTs' query, the server no longer knows the session and every call hangs."""
    import mcp.server.sse

    monkeypatch.setattr(mcp.server.sse, "uuid4", lambda: uuid.UUID("4cb07e98946040f69bb050d43331a4a9"))
    pii = json.loads((POLICIES / "data.json").read_text())["pii"]  # the request's masks, and the same on the stream
    pii["tool_result"] = pii["request"]
    with McpServer(legacy_sse=True) as server:
        proxy = start_proxy({"upstream": server.url}, policies=policy_copy(tmp_path, pii=pii))
        async with legacy_session(proxy, timeout_s=30) as session:
            added = await session.call_tool("add", {"a": 2, "b": 2})
    assert added.content[0].text == "4"


async def test_an_older_transport_post_refused_whole_is_answered_on_the_session_stream(start_proxy, tmp_path):
    """The Python SDK's HTTP+SSE client drops its whole session on a non-2xx POST and then waits for ever: a POST
    refused for what it carries must reach it as its JSON-RPC error, and the session must go on."""
    key = "AKIAZ3MSJV4WWNKWW5FG"
    with McpServer(legacy_sse=True) as server:
        proxy = start_proxy({"upstream": server.url}, policies=policy_copy(tmp_path))
        async with legacy_session(proxy) as session:
            with pytest.raises(McpError) as refused:
                await session.call_tool("read_note", {"name": key})
            added = await session.call_tool("add", {"a": 2, "b": 3})
    assert refused.value.error.data == {"wardgate": "secret_detected"}
    assert key not in refused.value.error.message
    assert added.content[0].text == "5"
    events = wait_for_events(proxy.audit_file, lambda e: e["phase"] == "request" and not e["result"]["allow"])
    assert [(event["result"]["code"], event["request"].get("placeholder")) for event in events] == [
        ("secret_detected", True)  # the refusal says it was answered through a placeholder
    ]
    assert key not in proxy.audit_file.read_text()
    # The server's answer to the placeholder is judged too, and says so; the access log keeps the refusal.
    refusal = events[0]["decision_id"]
    answer = wait_for_events(proxy.audit_file, lambda e: e["decision_id"] == refusal and e["phase"] == "response")
    assert [event["request"].get("placeholder") for event in answer] == [True]
    access = [json.loads(line) for line in proxy.output if '"wardgate.access"' in line]
    assert [line["decision"] for line in access if line["decision_id"] == refusal] == ["secret_detected"]


@pytest.mark.parametrize(
    ("action", "expected"), [("mask", "[REDACTED:injection]"), ("annotate", "[Wardgate: the text")]
)
async def test_an_injected_tool_result_can_be_stripped_or_annotated_instead_of_blocked(
    start_proxy, tmp_path, action, expected
):
    policies = policy_copy(tmp_path, injection={"tool_result": action})
    with McpServer(json_response=True) as server:
        proxy = start_proxy({"upstream": server.url}, policies=policies)
        result = await session_call(proxy, lambda session: session.call_tool("fetch_page", {"url": "https://a.test"}))
    text = result.content[0].text
    assert text.startswith(expected)
    assert ("Ignore all previous instructions" in text) == (action == "annotate")
