"""Ollama's native chat: roles, calls whose arguments are objects, answers as JSON Lines."""

from __future__ import annotations

import json

import pytest

from wardgate.formats import MalformedBody, adapter_for, error_body
from wardgate.formats.base import AmbiguousBody
from wardgate.formats.body import read_body
from wardgate.formats.ollama import OllamaChat
from wardgate.formats.openai_chat import OpenAIChat

OLLAMA = OllamaChat()
CALL = {"function": {"name": "shell_exec", "arguments": {"command": "id"}}}


def test_routes_and_error_shape():
    assert adapter_for("POST", "/api/chat") is not None
    assert adapter_for("POST", "/api/chat").name == "ollama.chat"
    assert adapter_for("POST", "/api/generate") is None
    assert error_body("ollama", 403, "tool_denied", "no", {"decision_id": "d"}) == {
        "error": "no", "wardgate": {"code": "tool_denied", "decision_id": "d"}
    }  # fmt: skip


def test_a_request_s_roles_arguments_and_tools():
    body = {
        "model": "llama3.2",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "who am I?"},
            {"role": "assistant", "content": "", "thinking": "ask the shell", "tool_calls": [CALL]},
            {"role": "tool", "content": "uid=0(root)", "tool_name": "shell_exec"},
        ],
        "tools": [{"type": "function", "function": {"name": "shell_exec"}}],
    }
    exchange = OLLAMA.parse_request(body)
    assert [(s.role, s.source, s.text) for s in exchange.segments] == [
        ("system", "prompt", "be brief"),
        ("user", "prompt", "who am I?"),
        ("assistant", "prompt", ""),
        ("assistant", "prompt", "ask the shell"),
        ("assistant", "prompt", "id"),
        ("tool", "tool_result", "uid=0(root)"),
    ]
    assert exchange.segments[4].path == ("messages", 2, "tool_calls", 0, "function", "arguments", "command")
    assert exchange.tools == ("shell_exec",)
    assert exchange.stream  # Ollama streams unless told not to
    assert not OLLAMA.parse_request({**body, "stream": False}).stream


def test_calls_in_json_lines_are_named_by_their_place_and_refused():
    lines = [
        {"model": "m", "message": {"role": "assistant", "content": "Sure."}, "done": False},
        {"model": "m", "message": {"role": "assistant", "content": "", "tool_calls": [CALL]}, "done": False},
        {"model": "m", "message": {"role": "assistant", "content": ""}, "done": True},
    ]
    exchange = OLLAMA.parse_response(lines)
    [call] = exchange.tool_calls
    assert (call.id, call.name) == ("1.message.tool_calls.0", "shell_exec")
    assert json.loads(call.arguments) == {"command": "id"}
    refused = OLLAMA.refuse_tool_calls(lines, {call.id: "the call to shell_exec: denied"})
    assert refused[1]["message"] == {"role": "assistant", "content": "Wardgate refused the call to shell_exec: denied"}
    assert [segment.text for segment in exchange.segments] == ["Sure.", "", ""]


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "messages": [], "Tools": [{"type": "function", "function": {"name": "shell_exec"}}]},
        {"model": "m", "messages": [], "tool\u017f": []},  # the long s folds to s in Go
        {"model": "m", "messages": [], "tools": [{"type": "function", "Function": {"name": "shell_exec"}}]},
        {"model": "m", "messages": [], "tools": [{"type": "function", "function": {"Name": "shell_exec"}}]},
        {"model": "llama3", "MODEL": "forbidden", "messages": []},
        {"model": "m", "messages": [{"role": "assistant", "Tool_Calls": []}]},
    ],
)
def test_a_key_a_go_server_would_read_as_another_field_is_refused(body):
    """An outside review's finding: Go's encoding/json matches keys ignoring case, so `Tools` is Ollama's `tools`."""
    for adapter in (OLLAMA, OpenAIChat()):
        with pytest.raises(MalformedBody):
            adapter.parse_request(body)


def test_a_schema_s_own_keys_and_a_custom_object_beside_a_function_are_read_as_ollama_reads_them():
    schema = {"type": "object", "properties": {"Content": {"type": "string"}, "content": {"type": "string"}}}
    tools = [
        {"type": "function", "function": {"name": "search", "parameters": schema}},
        {"type": "custom", "custom": {"name": "ok"}, "function": {"name": "shell_exec"}},  # Ollama reads `function`
    ]
    body = {"model": "m", "messages": [], "tools": tools}
    assert OLLAMA.parse_request(body).tools == ("search", "shell_exec")
    assert OLLAMA.strip_tools(body, {"shell_exec"}) == ["shell_exec"]
    assert [tool["function"]["name"] for tool in body["tools"]] == ["search"]


def test_json_lines_break_at_newlines_only():
    """A raw U+0085 or U+2028 inside an answer's string is no line break to Ollama's readers (it was to Wardgate's)."""
    text = '{"message": {"content": "a\u0085b\u2028c"}, "done": false}\n{"done": true}\n'
    read = read_body(text.encode(), "application/x-ndjson")
    assert read is not None
    assert (read.kind, len(read.value)) == ("jsonl", 2)


def test_an_answer_a_go_client_would_read_otherwise_is_ambiguous():
    """Go clients (ollama/api) read `Tool_Calls` as the calls: such an answer is refused, not judged as text."""
    with pytest.raises(AmbiguousBody):
        OLLAMA.parse_response([{"message": {"role": "assistant", "Tool_Calls": [CALL]}, "done": True}])
