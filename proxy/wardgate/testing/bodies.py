"""Request bodies of many pieces, for the structure tests and `bench/hostile_structure.py`: the largest real
traffic (a long agent run), and hostile bodies of many tiny messages or object keys."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["agent_conversation", "many_keys", "many_messages"]


def agent_conversation(turns: int = 1000, tools: int = 20) -> dict[str, Any]:
    """A long agent run: each turn a user line, a tool call with JSON arguments, its result, and a short answer."""
    offered = [
        {"type": "function", "function": {"name": f"tool_{i}", "description": f"Looks things up, kind {i}.",
         "parameters": {"type": "object", "properties": {"query": {"type": "string", "description": "what"}},
                        "required": ["query"]}}}
        for i in range(tools)
    ]  # fmt: skip
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a careful research agent."}]
    for turn in range(turns // 4):
        arguments = json.dumps({"query": f"item {turn}"})
        call = {
            "id": f"call_{turn}",
            "type": "function",
            "function": {"name": f"tool_{turn % tools}", "arguments": arguments},
        }
        messages += [
            {"role": "user", "content": f"Step {turn}: look up item {turn} and report."},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"call_{turn}", "content": f"Item {turn} is in stock, shelf {turn % 40}."},
            {"role": "assistant", "content": f"Item {turn} is available."},
        ]
    return {"model": "gpt-4o-mini", "messages": messages, "tools": offered}


def many_messages(count: int = 100_000) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"} for _ in range(count)]}


def many_keys(count: int = 300_000) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
            "metadata": {f"k{i}": 1 for i in range(count)}}  # fmt: skip
