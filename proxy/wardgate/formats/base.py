"""What every wire-format adapter offers, and the JSON-path helpers they share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol

from wardgate.formats.media import BYTES_MARK, DECODED_MARK, reencode
from wardgate.models import EndpointKind, Exchange, JsonPath, Role, Segment, Source

__all__ = [
    "CHAT_FIELDS",
    "CHAT_OBJECTS",
    "AmbiguousBody",
    "FormatAdapter",
    "MalformedBody",
    "TooComplex",
    "apply_rewrites",
    "as_list",
    "call_id",
    "called_function",
    "drop_stale_logprobs",
    "keep_tools",
    "refusal_text",
    "refuse_folded_keys",
    "text_parts",
    "tool_name",
    "value_at",
]

# OpenAI Chat: a tool's (or a call's) object, and the key of a call's input: a function's JSON `arguments`, a custom
# (free-form) tool's `input`.
_CALL_KEYS = (("function", "arguments"), ("custom", "input"))


class MalformedBody(ValueError):
    """The body is not the JSON this endpoint takes; the client gets a 400 in the provider's shape."""


class AmbiguousBody(MalformedBody):
    """A body servers may read otherwise than Wardgate does (keys that differ only in case): a request gets its 400, an
    answer is refused, never judged as a shape Wardgate does not map."""


class TooComplex(ValueError):
    """More pieces (JSON values, form fields, multipart parts, segments) than the limit: the client gets a 413."""


class FormatAdapter(Protocol):
    """Turns one provider endpoint's JSON into an `Exchange` and names its error shape."""

    name: str
    provider: str
    endpoint: EndpointKind

    def matches(self, method: str, path: str) -> bool: ...

    def parse_request(self, body: Any, path: str = "") -> Exchange:
        """`path`: the request's target, for a format whose path names the model (Gemini)."""
        ...

    def parse_response(self, body: Any) -> Exchange: ...

    def strip_tools(self, body: Any, denied: set[str]) -> list[str]:
        """Remove the denied tools from a request (and a tool_choice that forces one); returns the names removed."""
        ...

    def refuse_tool_calls(self, body: Any, denied: Mapping[str, str]) -> Any:
        """The response with the calls whose ids are in `denied` replaced by a refusal (id → reason) for the model."""
        ...


# Where a chat body's objects hold the fields Wardgate reads, and those fields: Go servers (Ollama, on its native and
# its OpenAI-compatible routes) read them too, matching keys ignoring case.
CHAT_OBJECTS: tuple[JsonPath, ...] = (
    (), ("messages", "*"), ("messages", "*", "tool_calls", "*"), ("messages", "*", "tool_calls", "*", "function"),
    ("tools", "*"), ("tools", "*", "function"), ("functions", "*"),
)  # fmt: skip
CHAT_FIELDS = frozenset(
    ("model", "messages", "tools", "functions", "tool_choice", "function_call", "stream", "role", "content",
     "thinking", "reasoning_content", "refusal", "tool_calls", "function", "custom", "name", "arguments", "input",
     "type", "images", "tool_name", "tool_call_id")
)  # fmt: skip


def refuse_folded_keys(body: Any, objects: tuple[JsonPath, ...], fields: frozenset[str]) -> None:
    """Go's encoding/json matches a key to a field ignoring case (folding the long s to s, the Kelvin sign to k) and
    keeps the last match: `"Tools"` or `"tool\u017f"` is Ollama's `tools`, which Wardgate would not strip (an outside
    review's finding). At the places Wardgate reads, a key spelled otherwise than a field it reads, or two keys that
    fold alike, is refused (the key is not echoed: it is unjudged text)."""
    for at in objects:
        for value in _at_each(body, at):
            folded: set[str] = set()
            for key in value if isinstance(value, Mapping) else ():
                fold = key.casefold()
                if fold in folded or (fold in fields and key != fold):
                    message = "a key differs from another, or from a field, only in case: servers that match keys"
                    raise AmbiguousBody(f"{message} ignoring case would read it as that field")
                folded.add(fold)


def _at_each(value: Any, path: JsonPath) -> Iterator[Any]:
    if not path:
        yield value
        return
    key, rest = path[0], path[1:]
    if key == "*":
        for item in value if isinstance(value, list) else []:
            yield from _at_each(item, rest)
    elif isinstance(value, Mapping) and key in value:
        yield from _at_each(value[key], rest)


def as_list(value: Any) -> list[Any]:
    """The value when it is a list, else no items: a field read for what it holds, whatever a body put there."""
    return value if isinstance(value, list) else []


def expect(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        raise MalformedBody(f"`{where}` must be {'an array' if kind is list else 'an object'}")
    return value


def text_parts(
    content: Any, path: JsonPath, role: Role, source: Source, text_types: frozenset[str]
) -> Iterator[Segment]:
    """Segments of a content field that is a string or a list of typed parts holding `text`."""
    if isinstance(content, str):
        yield Segment(role, source, content, path)
    elif isinstance(content, list):
        for index, part in enumerate(content):
            if isinstance(part, Mapping) and part.get("type") in text_types and isinstance(part.get("text"), str):
                yield Segment(role, source, part["text"], (*path, index, "text"))
    elif content is not None:
        raise MalformedBody(f"`{'.'.join(map(str, path))}` must be a string or an array of content parts")


def called_function(call: Any) -> tuple[Mapping[str, Any], str, str] | None:
    """A tool (or a tool call, or its stream delta)'s function object, its key and the key of its input:
    `function.arguments`, or a custom (free-form) tool's `custom.input` (found by an outside review: custom tools and
    their calls went ungoverned)."""
    if not isinstance(call, Mapping):
        return None
    # The object `type` names is the one the API and the SDKs read (a second one beside it is ignored by them, and
    # was what Wardgate judged: a second review's finding); without a type, the function object first.
    keys = sorted(_CALL_KEYS, key=lambda pair: pair[0] != call.get("type"))
    return next(((body, key, argument) for key, argument in keys if isinstance(body := call.get(key), Mapping)), None)


def call_id(call: Mapping[str, Any], *keys: str) -> str:
    """A call's id as the tool policy's verdicts name it: the first of `keys` (default `id`) it has, as text. A refusal
    finds its call by this same text: compared raw, a denied call whose id was `5`, `null` or missing was kept."""
    return str(next((call[key] for key in keys or ("id",) if key in call), ""))


def tool_name(tool: Any) -> str | None:
    """An offered tool's name for the policy: OpenAI Chat `function.name` (a custom tool's `custom.name`), Responses
    and Anthropic `name`, a legacy `functions` entry's `name`; a hosted tool without one is named by its type
    (`web_search`, `code_interpreter`) and a hosted MCP server as `mcp:<server_label>`, so `tools.deny` governs them
    like any other."""
    if not isinstance(tool, Mapping):
        return None
    called = called_function(tool)
    function = called[0] if called is not None else None
    name = function.get("name") if function is not None else tool.get("name")
    if isinstance(name, str):
        return name
    kind = tool.get("type")
    if kind == "mcp":
        return f"mcp:{tool.get('server_label', tool.get('server_url', ''))}"
    return kind if isinstance(kind, str) else None


def tool_names(body: Mapping[str, Any]) -> tuple[str, ...]:
    """Names of every offered tool (`tools`, and the legacy `functions`)."""
    offered = [*(body.get("tools") or []), *(body.get("functions") or [])]
    return tuple(name for tool in offered if (name := tool_name(tool)) is not None)


def keep_tools(
    body: dict[str, Any], denied: set[str], name_of: Callable[[Any], str | None], auto: Any = "auto"
) -> list[str]:
    """Drop denied tools from `body["tools"]`; a `tool_choice` naming one falls back to `auto` (the format's own)."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return []
    removed = [name for tool in tools if (name := name_of(tool)) in denied]
    body["tools"] = [tool for tool in tools if name_of(tool) not in denied]
    if removed and name_of(body.get("tool_choice")) in denied:
        body["tool_choice"] = auto
    if not body["tools"]:
        del body["tools"]
        body.pop("tool_choice", None)
    return [name for name in removed if name is not None]


def refusal_text(denied: Mapping[str, str]) -> str:
    return "Wardgate refused " + "; ".join(denied.values())


def model_and_stream(body: Mapping[str, Any]) -> tuple[str | None, bool]:
    model = body.get("model")
    return (model if isinstance(model, str) else None), body.get("stream") is True


def apply_rewrites(body: Any, rewrites: Mapping[JsonPath, str]) -> Any:
    """Set each path's string to its new text, in place; every other byte of meaning stays as it was. A decoded
    file's new text is encoded back into its payload the way it came, a byte list's as its UTF-8 bytes."""
    # A file's own payload first (a secret in a data URL's header), then its decoded text, encoded into what is left.
    # A marker is one only where it follows what it marks (a byte list, a string): a JSON key may be spelt the same.
    for path, text in sorted(rewrites.items(), key=lambda item: item[0][-1:] == (DECODED_MARK,)):
        if path[-1:] == (BYTES_MARK,) and isinstance(value_at(body, path[:-1]), list):
            value_at(body, path[:-2])[path[-2]] = list(text.encode())
            continue
        decoded = path[-1:] == (DECODED_MARK,) and isinstance(value_at(body, path[:-1]), str)
        path = path[:-1] if decoded else path
        parent = value_at(body, path[:-1])
        current = _string(parent[path[-1]] if path else body, path)
        new = reencode(current, text) if decoded else text
        if path:
            parent[path[-1]] = new
        else:  # the body is one JSON string
            body = new
    return body


# Where an answer describes its text token by token (OpenAI chat and Responses, Gemini): the tokens a rewritten text
# no longer has.
_LOGPROB_KEYS = ("logprobs", "logprobsResult")


def drop_stale_logprobs(body: Any, rewritten: Iterable[JsonPath]) -> Any:
    """`body` without the logprobs of each text a rewrite changed (emptied, in place): they spell the text as the
    model wrote it, a masked name or address included, which the PII scanner reads piece by piece (a review's
    finding). A streamed answer's are masked with the text instead (pipeline/stream.py)."""
    for path in rewritten:
        for depth in range(len(path) - 1, -1, -1):
            try:
                holder = value_at(body, path[:depth])
            except (KeyError, IndexError, TypeError):
                break
            if isinstance(holder, dict) and (key := next((k for k in _LOGPROB_KEYS if k in holder), None)):
                holder[key] = [] if isinstance(holder[key], list) else None
                break
    return body


def value_at(body: Any, path: JsonPath) -> Any:
    """The value at `path` in a parsed JSON body."""
    for key in path:
        body = body[key]
    return body


def _string(value: Any, path: JsonPath) -> str:
    if not isinstance(value, str):
        raise KeyError(f"{path or 'the body'} does not hold a string")
    return value
