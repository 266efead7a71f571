"""Google Gemini `generateContent` / `streamGenerateContent` (the Gemini API and Vertex AI).

Google's JSON reads each field in lowerCamelCase or in its proto's snake_case (`functionDeclarations`,
`function_declarations`): both spellings are read and both are rewritten, or a tool spelled the other way would go
ungoverned. The model is named by the path (`formats/target.model_in_path`), not the body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from wardgate.formats.base import AmbiguousBody, MalformedBody, expect, refusal_text
from wardgate.formats.generic_json import string_leaves
from wardgate.formats.target import route_path
from wardgate.models import EndpointKind, Exchange, JsonPath, Role, Segment, Source, ToolCall
from wardgate.quoting import quoted

__all__ = ["GeminiGenerateContent", "either", "gemini_method", "hosted_tool_name", "is_thought"]

# On a route (case folded); Google's front end decodes an escaped `:`. A batch holds generate requests; a cached
# content holds a request's contents and tools, which a later request runs by naming the cache.
_METHOD = re.compile(r"/[^/]+(?::|%3a)((?:stream|batch)?generatecontent)$|/(cachedcontents)$")
_ROLES: dict[str, Role] = {"user": "user", "model": "assistant", "function": "tool", "tool": "tool"}
_UPPER = re.compile(r"(?<!^)(?=[A-Z])")


def gemini_method(path: str) -> str | None:
    """`generatecontent`, `streamgeneratecontent`, `batchgeneratecontent` or `cachedcontents`, else None."""
    found = _METHOD.search(route_path(path))
    return (found.group(1) or found.group(2)) if found else None


def is_thought(part: Mapping[str, Any]) -> bool:
    """Whether google-genai leaves this part out of `.text`. It reads `thought` as pydantic's lax bool (`"true"`, `1`,
    `"yes"` are true), so only a JSON boolean (or null) means one thing to every client; anything else is refused (an
    outside review hid the middle of a key in a part marked `"thought": "true"`)."""
    thought = part.get("thought")
    if thought is not None and not isinstance(thought, bool):
        raise AmbiguousBody("a part's `thought` is neither true nor false, which clients read differently")
    return thought is True


def _snake(key: str) -> str:
    return _UPPER.sub("_", key).lower()


def either(value: Any, camel: str) -> Iterator[tuple[str, Any]]:
    """(key, value) for each spelling of a field the object holds: `functionCall` and `function_call`."""
    if isinstance(value, Mapping):
        for key in dict.fromkeys((camel, _snake(camel))):
            if key in value:
                yield key, value[key]


def hosted_tool_name(key: str) -> str:
    """A built-in tool (`googleSearch`, `code_execution`) is named for the policy by its snake_case key."""
    return _snake(key)


def _is_functions(key: str) -> bool:
    return _snake(key) == "function_declarations"


def _declaration_name(declaration: Any) -> str | None:
    name = declaration.get("name") if isinstance(declaration, Mapping) else None
    return name if isinstance(name, str) else None


def _tool_names(body: Mapping[str, Any]) -> Iterator[str]:
    """Google reads one object where a list is due (`"tools": {…}`), which the stripping would pass over: refused."""
    for index, tool in enumerate(expect(body.get("tools") or [], list, "tools")):
        for key, value in expect(tool, dict, f"tools.{index}").items():
            if not _is_functions(key):
                yield hosted_tool_name(key)
            else:
                yield from filter(None, map(_declaration_name, expect(value, list, f"tools.{index}.{key}")))


def _judgeable_answer(path: str) -> None:
    """An answer Wardgate cannot read (`alt=proto`: protobuf) would carry calls no one judged: refused."""
    for key, value in parse_qsl(urlsplit(path).query, keep_blank_values=True):
        if key.lstrip("$").lower() == "alt" and value.lower() not in ("json", "sse"):
            raise MalformedBody(f"`alt` is {quoted(value)}: Wardgate judges Gemini answers as JSON or SSE only")


class GeminiGenerateContent:
    name = "google.generate_content"
    provider = "google"
    endpoint: EndpointKind = "generate_content"

    def matches(self, method: str, path: str) -> bool:
        return method == "POST" and gemini_method(path) is not None

    def parse_request(self, body: Any, path: str = "") -> Exchange:
        body = expect(body, dict, "body")
        segments: list[Segment] = []
        tools: list[str] = []
        for prefix, request in _requests(body):
            segments += self._request(request, prefix)
            tools += _tool_names(request)
        _judgeable_answer(path)
        stream = gemini_method(path) == "streamgeneratecontent"
        return Exchange(self.provider, self.endpoint, _body_model(body), stream, segments, tuple(tools))

    def parse_response(self, body: Any) -> Exchange:
        """One GenerateContentResponse, or the JSON array `streamGenerateContent` answers without `alt=sse`."""
        if not isinstance(body, list):
            expect(body, dict, "body")
        # A thought is no part of the answer's text (google-genai's `.text` leaves it out): read as another role's,
        # so the secrets scanner's join of the answer's parts does not have it between two halves of a key.
        segments = [
            Segment("unknown" if is_thought(part) else "assistant", "response", part["text"], (*path, "text"))
            for path, part in _parts(body)
            if isinstance(part.get("text"), str)
        ]
        calls = tuple(call for _, _, call in _calls(body))
        return Exchange(self.provider, self.endpoint, None, isinstance(body, list), segments, tool_calls=calls)

    def strip_tools(self, body: Any, denied: set[str]) -> list[str]:
        return [name for _, request in _requests(body) for name in _strip_request(request, denied)]

    def _request(self, request: Mapping[str, Any], prefix: JsonPath) -> Iterator[Segment]:
        for key, instruction in either(request, "systemInstruction"):
            if isinstance(instruction, str):
                yield Segment("system", "prompt", instruction, (*prefix, key))
            else:
                yield from self._content(instruction, (*prefix, key), "system")
        contents = request.get("contents")
        for index, content in enumerate(expect([] if contents is None else contents, list, "contents")):
            role = _ROLES.get(str(content.get("role")), "user") if isinstance(content, Mapping) else "user"
            yield from self._content(content, (*prefix, "contents", index), role)

    def refuse_tool_calls(self, body: Any, denied: Mapping[str, str]) -> Any:
        refused: dict[int, Any] = {}
        for parts, index, call in list(_calls(body)):
            if call.id in denied:
                refused.setdefault(id(parts), parts)
                parts[index] = None
        for parts in refused.values():
            parts[:] = [part for part in parts if part is not None]
            parts.append({"text": refusal_text(denied)})
        return body

    def _content(self, content: Any, path: JsonPath, role: Role) -> Iterator[Segment]:
        content = expect(content, dict, ".".join(map(str, path)))
        source: Source = "tool_result" if role == "tool" else "prompt"
        parts = content.get("parts")  # proto3 JSON reads null as empty
        parts = expect([] if parts is None else parts, list, ".".join(map(str, (*path, "parts"))))
        for index, part in enumerate(parts):
            at = (*path, "parts", index)
            if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                yield Segment(role, source, part["text"], (*at, "text"))
            # The model's earlier calls are its own words; what a function answered is a tool result.
            for key, call in either(part, "functionCall"):
                for leaf, text in string_leaves(call.get("args") if isinstance(call, Mapping) else None, ()):
                    yield Segment("assistant", "prompt", text, (*at, key, "args", *leaf))
            for key, answer in either(part, "functionResponse"):
                for leaf, text in string_leaves(answer.get("response") if isinstance(answer, Mapping) else None, ()):
                    yield Segment("tool", "tool_result", text, (*at, key, "response", *leaf))


def _strip_request(body: dict[str, Any], denied: set[str]) -> list[str]:
    """Denied function declarations and built-in tools leave `tools`; `allowedFunctionNames` forgets them."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return []
    removed: list[str] = []
    kept = []
    for tool in tools:
        if isinstance(tool, dict):
            removed += _strip_tool(tool, denied)
        if tool:
            kept.append(tool)
    if not removed:
        return []
    body["tools"] = kept
    for config_key, config in list(either(body, "toolConfig")):
        if not kept:
            del body[config_key]
            continue
        for _, calling in either(config, "functionCallingConfig"):
            _forget_forced(calling, denied)
    if not kept:
        del body["tools"]
    return removed


def _requests(body: dict[str, Any]) -> Iterator[tuple[JsonPath, dict[str, Any]]]:
    """The generate requests a body holds: itself, and each of a batch's inline requests (`batch.inputConfig.requests
    .requests[].request`; a batch read from an uploaded file is judged when the file is uploaded, as text). The body
    is always one: a `batch` key beside its own tools must not hide them."""
    yield (), body
    batch = body.get("batch")
    if batch is None:
        return
    for key, config in either(expect(batch, dict, "batch"), "inputConfig"):
        inline = expect(config, dict, f"batch.{key}").get("requests")
        listed = expect(inline, dict, f"batch.{key}.requests").get("requests") if inline is not None else None
        for index, item in enumerate(expect(listed or [], list, f"batch.{key}.requests.requests")):
            at = ("batch", key, "requests", "requests", index, "request")
            item = expect(item, dict, ".".join(map(str, at[:-1])))
            yield at, expect(item.get("request"), dict, ".".join(map(str, at)))


def _body_model(body: Mapping[str, Any]) -> str | None:
    """A cached content's model (`models/gemini-2.0-flash`, or Vertex AI's full resource name) as a path names it."""
    model = body.get("model")
    if not isinstance(model, str):
        return None
    return model.rsplit("/models/", 1)[-1].removeprefix("models/")


def _strip_tool(tool: dict[str, Any], denied: set[str]) -> list[str]:
    removed = []
    for key in list(tool):
        if not _is_functions(key):
            if hosted_tool_name(key) in denied:
                removed.append(hosted_tool_name(key))
                del tool[key]
            continue
        declarations = tool[key]
        if not isinstance(declarations, list):
            continue
        removed += [name for d in declarations if (name := _declaration_name(d)) is not None and name in denied]
        tool[key] = [d for d in declarations if _declaration_name(d) not in denied]
        if not tool[key]:
            del tool[key]
    return removed


def _forget_forced(calling: Any, denied: set[str]) -> None:
    """A forced call (`mode: ANY` over `allowedFunctionNames`) to a denied function: the names go, and with none left
    the model may answer in text (`AUTO`)."""
    if not isinstance(calling, dict):
        return
    for key, names in list(either(calling, "allowedFunctionNames")):
        if not isinstance(names, list):
            continue
        calling[key] = [name for name in names if name not in denied]
        if not calling[key]:
            del calling[key]
            for mode_key, mode in list(either(calling, "mode")):
                if mode in ("ANY", "VALIDATED"):
                    calling[mode_key] = "AUTO"


def _parts(body: Any) -> Iterator[tuple[JsonPath, Mapping[str, Any]]]:
    """(path, part) for every part of every candidate of a response (or of each chunk of an array of them)."""
    chunks = enumerate(body) if isinstance(body, list) else [(None, body)]
    for chunk_index, chunk in chunks:
        prefix: JsonPath = () if chunk_index is None else (chunk_index,)
        candidates = chunk.get("candidates") if isinstance(chunk, Mapping) else None
        for position, candidate in enumerate(candidates if isinstance(candidates, list) else []):
            content = candidate.get("content") if isinstance(candidate, Mapping) else None
            parts = content.get("parts") if isinstance(content, Mapping) else None
            for index, part in enumerate(parts if isinstance(parts, list) else []):
                if isinstance(part, Mapping):
                    yield (*prefix, "candidates", position, "content", "parts", index), part


def _calls(body: Any) -> Iterator[tuple[list[Any], int, ToolCall]]:
    """(the parts list, the index, the call) of every function call: one without an `id` is named by its place."""
    for path, part in _parts(body):
        for _, call in either(part, "functionCall"):
            if isinstance(call, Mapping) and isinstance(call.get("name"), str):
                given = call.get("id")
                call_id = given if isinstance(given, str) else ".".join(map(str, path))
                parts = _at(body, path[:-1])
                yield parts, int(path[-1]), ToolCall(call_id, call["name"], json.dumps(call.get("args") or {}))


def _at(body: Any, path: JsonPath) -> Any:
    for key in path:
        body = body[key]
    if not isinstance(body, list):
        raise MalformedBody("a candidate's parts must be an array")
    return body
