"""Ollama's native chat: roles, calls whose arguments are objects, answers as JSON Lines."""

from __future__ import annotations

import json

from wardgate.formats import adapter_for, error_body
from wardgate.formats.ollama import OllamaChat

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
