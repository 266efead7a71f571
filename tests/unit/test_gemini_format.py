"""Gemini's generateContent: roles, tools in both of Google's spellings, calls in answers and streams."""

from __future__ import annotations

import json

import pytest

from wardgate.formats import MalformedBody, adapter_for, provider_for
from wardgate.formats.gemini import GeminiGenerateContent, gemini_method
from wardgate.formats.streams import GeminiStream, stream_format_for
from wardgate.formats.target import model_in_path
from wardgate.pipeline.stream import StreamGuard, WindowVerdict
from wardgate.pipeline.vault import Vault
from wardgate.policy import Decision

GEMINI = GeminiGenerateContent()


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/v1beta/models/gemini-2.0-flash:generateContent", "generatecontent"),
        ("/v1beta/models/gemini-2.0-flash%3AstreamGenerateContent?alt=sse", "streamgeneratecontent"),
        ("/v1/projects/p/locations/l/publishers/google/models/gemini-1.5-pro:generateContent", "generatecontent"),
        ("/v1beta/models/gemini-2.0-flash:countTokens", None),
        ("/v1/chat/completions", None),
    ],
)
def test_a_gemini_method_is_found_however_its_colon_is_spelled(path, method):
    assert gemini_method(path) == method
    assert (adapter_for("POST", path) is not None) == (method is not None or path.endswith("completions"))
    assert isinstance(stream_format_for(path), GeminiStream) == (method is not None)


def test_the_provider_of_an_unmapped_google_path_follows_the_host():
    assert provider_for("generativelanguage.googleapis.com", "/v1beta/models/x:countTokens") == "google"
    assert provider_for("127.0.0.1", "/v1beta/models/x:generateContent") == "google"


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/v1beta/models/gemini-2.0-flash:generateContent", "gemini-2.0-flash"),
        ("/v1beta/tunedModels/mine:generateContent", "tunedModels/mine"),
        ("/v1/projects/p/locations/l/endpoints/42:streamGenerateContent", "endpoints/42"),
        ("/openai/deployments/Prod-4o/chat/completions?api-version=1", "Prod-4o"),
        # An outside review's: Google's `dynamic/` binding and a trailing slash named no model, and passed any list.
        ("/v1beta/dynamic/gemini-2.5-pro:generateContent", "dynamic/gemini-2.5-pro"),
        ("/v1beta/models/gemini-2.5-pro:generateContent/", "gemini-2.5-pro"),
        ("/model/anthropic.claude-3-haiku-v1:0/converse-stream", "anthropic.claude-3-haiku-v1:0"),
        ("/model/anthropic.claude-3-opus-v1%3A0/converse/", "anthropic.claude-3-opus-v1:0"),  # boto3's escape
        ("/v1/files/abc:download", None),
        ("/v1/chat/completions", None),
    ],
)
def test_the_model_a_path_names(path, model):
    assert model_in_path(path) == model


def test_a_request_s_roles_and_sources_in_both_spellings():
    body = {
        "system_instruction": {"parts": [{"text": "be brief"}]},
        "contents": [
            {"role": "user", "parts": [{"text": "weather?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "weather", "args": {"city": "Seoul"}}}]},
            {"role": "user", "parts": [{"function_response": {"name": "weather", "response": {"text": "rainy"}}}]},
        ],
        "tools": [{"function_declarations": [{"name": "weather"}]}, {"googleSearch": {}}],
    }
    exchange = GEMINI.parse_request(body, "/v1beta/models/g:streamGenerateContent")
    assert [(s.role, s.source, s.text, s.path) for s in exchange.segments] == [
        ("system", "prompt", "be brief", ("system_instruction", "parts", 0, "text")),
        ("user", "prompt", "weather?", ("contents", 0, "parts", 0, "text")),
        ("assistant", "prompt", "Seoul", ("contents", 1, "parts", 0, "functionCall", "args", "city")),
        ("tool", "tool_result", "rainy", ("contents", 2, "parts", 0, "function_response", "response", "text")),
    ]
    assert exchange.tools == ("weather", "google_search")
    assert exchange.stream


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"contents": {"parts": []}},
        {"contents": [{"role": ["x"], "parts": {}}]},
        # Google reads one object for a list; the stripping passed over it (an outside review's finding).
        {"contents": [], "tools": {"functionDeclarations": [{"name": "shell_exec"}]}},
        {"contents": [], "tools": [{"functionDeclarations": {"name": "shell_exec"}}]},
    ],
)
def test_a_body_gemini_would_refuse_or_wardgate_could_not_strip_is_malformed(body):
    with pytest.raises(MalformedBody):
        GEMINI.parse_request(body)


@pytest.mark.parametrize("query", ["alt=proto", "%24alt=proto", "$alt=media"])
def test_an_answer_format_wardgate_cannot_read_is_refused(query):
    with pytest.raises(MalformedBody):
        GEMINI.parse_request({"contents": []}, f"/v1beta/models/g:generateContent?{query}")
    GEMINI.parse_request({"contents": []}, "/v1beta/models/g:streamGenerateContent?alt=sse")


def test_denied_tools_leave_both_spellings_and_the_tool_config():
    body = {
        "tools": [
            {"functionDeclarations": [{"name": "shell_exec"}, {"name": "search"}]},
            {"function_declarations": [{"name": "shell_run"}]},
            {"codeExecution": {}},
        ],
        "tool_config": {"function_calling_config": {"mode": "ANY", "allowed_function_names": ["shell_exec", "search"]}},
    }
    removed = GEMINI.strip_tools(body, {"shell_exec", "shell_run", "code_execution"})
    assert removed == ["shell_exec", "shell_run", "code_execution"]
    assert body == {
        "tools": [{"functionDeclarations": [{"name": "search"}]}],
        "tool_config": {"function_calling_config": {"mode": "ANY", "allowed_function_names": ["search"]}},
    }
    assert GEMINI.strip_tools(body, {"search"}) == ["search"]
    assert body == {}


def test_calls_in_an_answer_and_in_an_array_of_chunks_are_named_and_refused():
    call = {"functionCall": {"name": "shell_exec", "args": {"command": "id"}}}
    answer = {"candidates": [{"content": {"role": "model", "parts": [{"text": "on it"}, call]}}]}
    exchange = GEMINI.parse_response(answer)
    [parsed] = exchange.tool_calls
    assert (parsed.id, parsed.name, json.loads(parsed.arguments)) == (
        "candidates.0.content.parts.1", "shell_exec", {"command": "id"}
    )  # fmt: skip
    refused = GEMINI.refuse_tool_calls(answer, {parsed.id: "the call to shell_exec: denied"})
    assert refused["candidates"][0]["content"]["parts"] == [
        {"text": "on it"}, {"text": "Wardgate refused the call to shell_exec: denied"}
    ]  # fmt: skip
    chunks = [{"candidates": [{"content": {"parts": [{"function_call": {"name": "f", "args": {}, "id": "c7"}}]}}]}]
    assert [(c.id, c.name) for c in GEMINI.parse_response(chunks).tool_calls] == [("c7", "f")]


class ToolJudge:
    """Denies a call to `shell_exec`; records what each tool window was judged as."""

    def __init__(self) -> None:
        self.calls: list[tuple[str | None, str]] = []

    def window(self, text: str, context: str, *, tool: str | None, own: str | None = None) -> WindowVerdict:
        if tool is not None:
            self.calls.append((tool, text))
        if tool == "shell_exec":
            return WindowVerdict(Decision.deny("tool_denied", "no shell"), text, 0)
        return WindowVerdict(Decision(allow=True, status=200), text)

    def full(self, text: str, *, tool: str | None, repeated: bool = False) -> WindowVerdict:
        return WindowVerdict(Decision(allow=True, status=200), text)


def gemini_events(*parts: dict, finish: bool = True) -> bytes:
    events = [{"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}]} for part in parts]
    if finish:
        events[-1]["candidates"][0]["finishReason"] = "STOP"
    return b"".join(f"data: {json.dumps(event)}\r\n\r\n".encode() for event in events)


@pytest.mark.parametrize("name", ["search", "shell_exec"])
def test_a_streamed_call_is_held_and_judged_whole_with_its_arguments(name):
    stream = gemini_events({"text": "Let me look."}, {"functionCall": {"name": name, "args": {"q": "x"}}})
    judge = ToolJudge()
    guard = StreamGuard(GeminiStream(), judge, Vault())
    out = guard.feed(stream) + guard.finish()
    assert judge.calls == [(name, '{"q": "x"}')]
    if name == "search":
        assert out == stream
        return
    assert b"functionCall" not in out
    assert b"Let me look." in out
    assert guard.stopped is not None
    assert guard.stopped.code == "tool_denied"


def test_a_call_before_its_candidate_ends_is_held_until_it_does():
    judge = ToolJudge()
    guard = StreamGuard(GeminiStream(), judge, Vault())
    held = guard.feed(gemini_events({"functionCall": {"name": "shell_exec"}}, finish=False))
    assert held == b""
    assert judge.calls == []
    assert b"error" in guard.feed(gemini_events({"text": ""}))
    assert judge.calls == [("shell_exec", "{}")]


@pytest.mark.parametrize(
    "event",
    [
        # A repeated key (the SDK keeps the last), a line without `data:` (google-genai parses it as JSON): both went
        # out judged only as text (an outside review's finding).
        b'data: {"candidates": [], "candidates": [{"content": {"parts": [{"functionCall": {"name": "shell_exec"}}]}}]}',
        b'{"candidates": [{"content": {"parts": [{"functionCall": {"name": "shell_exec"}}]}}]}',
        b'data: {"candidates": []} trailing',
    ],
)
def test_what_a_provider_stream_cannot_hold_stops_it(event):
    guard = StreamGuard(GeminiStream(), ToolJudge(), Vault())
    out = guard.feed(gemini_events({"text": "Hi."}, finish=False) + event + b"\n\n") + guard.finish()
    assert b"shell_exec" not in out
    assert guard.stopped is not None
    assert guard.stopped.code == "stream_unreadable"


def test_a_generate_content_answered_as_a_stream_is_read_as_gemini_s():
    assert isinstance(stream_format_for("/v1beta/models/g:generateContent"), GeminiStream)


def test_a_batch_s_inline_requests_and_a_cached_content_are_governed_like_a_request():
    """An outside review's finding: their tools reached Google, which runs its built-in ones itself."""
    request = {"contents": [{"parts": [{"text": "hi"}]}], "tools": [{"codeExecution": {}}, {"googleSearch": {}}]}
    batch = {"batch": {"input_config": {"requests": {"requests": [{"request": request, "metadata": {"key": "a"}}]}}}}
    path = "/v1beta/models/gemini-2.0-flash:batchGenerateContent"
    assert adapter_for("POST", path) is not None
    exchange = GEMINI.parse_request(batch, path)
    assert exchange.tools == ("code_execution", "google_search")
    assert exchange.segments[0].path == ("batch", "input_config", "requests", "requests", 0, "request", "contents", 0,
                                         "parts", 0, "text")  # fmt: skip
    assert GEMINI.strip_tools(batch, {"code_execution"}) == ["code_execution"]
    assert request["tools"] == [{"googleSearch": {}}]
    cached = {"model": "models/gemini-2.0-flash-001", "tools": [{"functionDeclarations": [{"name": "shell_exec"}]}]}
    assert adapter_for("POST", "/v1beta/cachedContents") is not None
    exchange = GEMINI.parse_request(cached, "/v1beta/cachedContents")
    assert (exchange.model, exchange.tools) == ("gemini-2.0-flash-001", ("shell_exec",))
    vertex = {"model": "projects/p/locations/l/publishers/google/models/gemini-1.5-pro-002"}
    assert GEMINI.parse_request(vertex, "/v1/projects/p/locations/l/cachedContents").model == "gemini-1.5-pro-002"


def test_a_batch_key_beside_a_request_s_own_tools_does_not_hide_them():
    body = {"contents": [], "tools": [{"codeExecution": {}}], "batch": {}}
    assert GEMINI.parse_request(body, "/v1beta/models/g:generateContent").tools == ("code_execution",)
    assert GEMINI.strip_tools(body, {"code_execution"}) == ["code_execution"]


def test_a_thought_is_its_own_channel_and_a_candidate_must_sit_at_its_index():
    """google-genai's `.text` leaves thoughts out and reads `candidates[0]` whatever its index: a key split around a
    thought part, or moved to a candidate at place 0 that names index 1, reached the client whole."""
    text, thought, rest = {"text": "The key is AKIAZ3MS"}, {"text": "x", "thought": True}, {"text": "JV4W okay."}
    events = [
        json.loads(line.removeprefix("data: "))
        for line in gemini_events(text, thought, rest).decode().split("\r\n\r\n")
        if line
    ]
    channels = [{at.channel for at in GeminiStream().locations(None, event)} for event in events]  # type: ignore[arg-type]
    assert channels == [{"candidate:0"}, {"candidate:0:thought"}, {"candidate:0"}]
    # Not streamed: a thought is read apart from the answer's parts, whose join the secrets scanner reads.
    answer = {"candidates": [{"content": {"role": "model", "parts": [text, thought, rest]}}]}
    assert [segment.role for segment in GEMINI.parse_response(answer).segments] == ["assistant", "unknown", "assistant"]
    moved = {"candidates": [{"index": 1, "content": {"parts": [{"text": "hi"}]}}]}
    guard = StreamGuard(GeminiStream(), ToolJudge(), Vault())
    guard.feed(f"data: {json.dumps(moved)}\r\n\r\n".encode())
    assert guard.stopped is not None
    assert guard.stopped.code == "stream_unreadable"


@pytest.mark.parametrize("thought", ["true", 1, "yes", "false"])
def test_a_thought_mark_that_is_no_json_boolean_is_refused(thought):
    """google-genai reads `thought` as pydantic's lax bool (`"true"`, `1`, `"yes"` are true) and leaves such a part out
    of `.text`: read as no thought, it sat between two halves of a key the client joined (an outside review)."""
    parts = [{"text": "The key is AKIAZ3MS"}, {"text": "x", "thought": thought}, {"text": "JV4W okay."}]
    with pytest.raises(MalformedBody, match="thought"):
        GEMINI.parse_response({"candidates": [{"content": {"role": "model", "parts": parts}}]})
    event = {"candidates": [{"index": 0, "content": {"parts": parts}}]}
    guard = StreamGuard(GeminiStream(), ToolJudge(), Vault())
    guard.feed(f"data: {json.dumps(event)}\r\n\r\n".encode())
    assert guard.stopped is not None
    assert guard.stopped.code == "stream_unreadable"
