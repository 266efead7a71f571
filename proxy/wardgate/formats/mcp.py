"""MCP (Model Context Protocol) over HTTP: JSON-RPC 2.0 requests, and the results Wardgate judges.

Streamable HTTP POSTs one JSON-RPC message (or a batch) and gets JSON or an SSE stream of messages back; the older
HTTP+SSE transport POSTs the same messages. Requests: `tools/call` is a tool call (name + arguments); every string
in `params` is scanned. Answers: `tools/list` names the tools (filtered by policy) and defines them, `tools/call`
content and `resources/read` contents are tool results and documents, and every other string of every message the
server sends is judged too (scanned for injection, secrets, personal data).
A request's own arguments are judged as the tool call they are (phase `tool_call`), never masked: the tool needs
the real values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from wardgate.formats.generic_json import string_leaves, with_every_leaf
from wardgate.models import Exchange, Segment, ToolCall

__all__ = [
    "JSONRPC_POLICY_ERROR",
    "answer_read_as",
    "answered_method",
    "filter_tools",
    "is_jsonrpc",
    "jsonrpc_error",
    "methods",
    "named_identifiers",
    "parse_mcp_message",
    "requests",
    "tool_call_of",
]

# JSON-RPC reserves -32000..-32099 for implementation-defined server errors.
JSONRPC_POLICY_ERROR = -32001


def is_jsonrpc(body: Any) -> bool:
    """A JSON-RPC 2.0 message, or a batch holding one: what MCP clients POST (requests, notifications, and their
    answers to a server's requests). A batch is MCP if any of its items is: read only when all were requests, a
    `tools/call` beside an answer went to a server that ran it, unjudged by the tool policy (an outside review)."""
    items = body if isinstance(body, list) else [body]
    return any(isinstance(item, Mapping) and item.get("jsonrpc") == "2.0" and _message_keys(item) for item in items)


def _message_keys(item: Mapping[str, Any]) -> bool:
    """A request or notification (`method`), or an answer (`id` with `result` or `error`)."""
    return "method" in item or ("id" in item and ("result" in item or "error" in item))


def answer_read_as(content_type: str) -> Literal["json", "events"]:
    """How MCP clients read an answer of this type: JSON when its media type is JSON (the Python SDK: the type starts
    `application/json`; the TypeScript one: its media type is), else as events (the TypeScript SDK reads a GET body
    as SSE whatever its type; the Python one, any type starting `text/event-stream`). Read as plain text, a near-miss
    type carried a denied tool, a poisoned tool list and a sampling injection to both SDKs' agents (an outside
    review)."""
    return "json" if content_type.strip().lower().startswith("application/json") else "events"


def requests(body: Any) -> list[dict[str, Any]]:
    return [item for item in (body if isinstance(body, list) else [body]) if isinstance(item, dict)]


def tool_call_of(request: Mapping[str, Any]) -> ToolCall | None:
    if request.get("method") != "tools/call" or not isinstance(params := request.get("params"), Mapping):
        return None
    name = params.get("name")
    if not isinstance(name, str):
        return None
    return ToolCall(str(request.get("id", "")), name, json.dumps(params.get("arguments") or {}))


def named_identifiers(body: Any) -> list[Segment]:
    """The names a request calls by (`tools/call`'s and `prompts/get`'s `params.name`): identifiers the server looks
    up, read for secrets only. NER read `fetch` as a person and masked the call into one to no tool (an outside
    review)."""
    batch = isinstance(body, list)
    found = []
    for index, request in enumerate(body if batch else [body]):
        if not isinstance(request, Mapping) or request.get("method") not in ("tools/call", "prompts/get"):
            continue
        params = request.get("params")
        if isinstance(params, Mapping) and isinstance(name := params.get("name"), str):
            found.append(Segment("unknown", "metadata", name, (*((index,) if batch else ()), "params", "name")))
    return found


def methods(body: Any) -> dict[str, str]:
    """JSON-RPC id (as `_id_key` reads it) → method, to know what each result answers."""
    return {_id_key(r.get("id")): str(r["method"]) for r in requests(body) if "id" in r and "method" in r}


def _id_key(value: Any) -> str:
    """A JSON-RPC id as clients match an answer to its request. The TypeScript SDK looks an answer up by
    `Number(id)`: `1.0`, `1e0` and `"1"` answer request 1 there, while Python's `str()` told them apart, so a
    `tools/list` answered under `1.0` went unfiltered and unread for poisoned tools (an outside review's finding).
    Numbers, and strings that read as one, are keyed by their value."""
    if isinstance(value, bool):
        return f"bool:{value}"
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return f"str:{value}"
    if number is None:
        return f"other:{json.dumps(value, sort_keys=True, default=str)}"
    if number.is_integer():
        return f"number:{int(number)}"
    return f"number:{number!r}"


def answered_method(known: Mapping[str, str], message: Mapping[str, Any]) -> str | None:
    """What a result answers: its request's method, by id; a result no request of this session asked for is a
    `tools/list` when it lists tools (judged as one, filtered and read for poisoned tools, whatever its id says)."""
    method = known.get(_id_key(message.get("id")))
    result = message.get("result")
    if method is None and isinstance(result, Mapping) and isinstance(result.get("tools"), list):
        return "tools/list"
    return method


def parse_mcp_message(message: Any, method: str | None) -> Exchange:
    """Every text of a message from an MCP server: a result's content as tool output and documents, `tools/list`'s
    tool names (the exchange's tools) and definitions (tool poisoning), and every other string (errors,
    notifications, the server's own requests such as `sampling/createMessage`, embedded resources, prompts, fields
    we have not heard of) as role `unknown`."""
    result = message.get("result") if isinstance(message, Mapping) else None
    segments: list[Segment] = []
    tools: tuple[str, ...] = ()
    if isinstance(result, Mapping) and method == "tools/list":
        listed = result.get("tools") or []
        tools = tuple(t["name"] for t in listed if isinstance(t, Mapping) and isinstance(t.get("name"), str))
        segments = [
            Segment("tool", "tool_definition", text, path)
            for path, text in string_leaves(listed, ("result", "tools"))
            if text.strip()
        ]
    elif isinstance(result, Mapping):
        segments = list(_result_texts(result))
    return with_every_leaf(Exchange("mcp", "mcp", None, False, segments, tools=tools), message)


def _result_texts(result: Mapping[str, Any]) -> Iterator[Segment]:
    for index, part in enumerate(result.get("content") or []):  # tools/call, prompts/get
        if isinstance(part, Mapping) and isinstance(part.get("text"), str):
            yield Segment("tool", "tool_result", part["text"], ("result", "content", index, "text"))
    for index, part in enumerate(result.get("contents") or []):  # resources/read
        if isinstance(part, Mapping) and isinstance(part.get("text"), str):
            yield Segment("tool", "document", part["text"], ("result", "contents", index, "text"))
    structured = result.get("structuredContent")
    if structured is not None:
        for path, text in string_leaves(structured, ("result", "structuredContent")):
            yield Segment("tool", "tool_result", text, path)


def filter_tools(message: dict[str, Any], denied: set[str]) -> list[str]:
    """Remove denied tools from a `tools/list` result; returns the names removed."""
    tools = message["result"].get("tools") or []
    removed = [t.get("name") for t in tools if isinstance(t, Mapping) and t.get("name") in denied]
    message["result"]["tools"] = [t for t in tools if not (isinstance(t, Mapping) and t.get("name") in denied)]
    return [str(name) for name in removed]


def jsonrpc_error(request_id: Any, code: str, message: str) -> dict[str, Any]:
    """A JSON-RPC error the MCP SDKs raise as McpError, with Wardgate's reason code in `data`."""
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": JSONRPC_POLICY_ERROR, "message": f"Wardgate: {message}", "data": {"wardgate": code}},
    }
