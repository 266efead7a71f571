"""Where the text is in each provider's stream events: deltas to guard, whole texts to judge once, channel ends.

A stream format reads one parsed SSE event (its JSON payload) and names JSON paths: `Location(kind="delta")` for a
piece of text that continues a channel (a choice, a content block, an output item), `kind="full"` for a complete
text repeated in a summary event (`response.output_text.done`, `response.completed`). The stream guard decides what
those strings become; `apply_rewrites` puts them back. Nothing here knows about scanning or policy.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal, Protocol, TypeGuard

from wardgate.formats.anthropic_messages import on_cloud_route
from wardgate.formats.base import MalformedBody, as_list, called_function
from wardgate.formats.cohere import call_function, is_cohere_chat
from wardgate.formats.eventstream import BEDROCK_CHUNKS, EVENT_STREAM, aws_exception
from wardgate.formats.gemini import either, gemini_method, is_thought
from wardgate.formats.generic_json import is_structural, string_leaves
from wardgate.formats.media import BYTES_MARK, byte_text
from wardgate.formats.openai_responses import CALL_INPUTS, CLIENT_RUN_CALLS, client_run_inputs
from wardgate.formats.sse import SSE, Framing, SseEvent, encode_event
from wardgate.formats.target import bedrock_operation, raw_predict, route_path
from wardgate.formats.unread_calls import unread_api, unread_call
from wardgate.models import JsonPath
from wardgate.quoting import quoted

__all__ = [
    "AnthropicStream",
    "BedrockConverseStream",
    "BedrockInvokeStream",
    "CohereChatStream",
    "GeminiStream",
    "GenericStream",
    "Location",
    "OpenAIChatStream",
    "OpenAIResponsesStream",
    "StreamFormat",
    "StreamUnreadable",
    "stream_format_for",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Location:
    channel: str
    path: JsonPath
    kind: Literal["delta", "full"] = "delta"
    tool: str | None = None  # the channel carries a tool call's arguments (named when the event names it)
    arguments: str | None = None  # a call that comes whole in one event (Gemini's functionCall): its arguments' JSON
    mirror: bool = False  # another reading of a text channel's text (logprob tokens): judged in its own context
    # The event starts the channel (a block's or a part's first text, a call's start): SDKs append the deltas that
    # follow to what it carries. A channel started twice is refused: SDKs keep both starts apart by position, while
    # the deltas after them continue only one.
    opens: bool = False


class StreamFormat(Protocol):
    provider: str
    # Whether a complete stream always ends with an event `ends` answers None for ([DONE], message_stop,
    # response.completed): without it, a stream that stops was cut off, not finished.
    has_end_event: bool
    # A provider's own stream: every event's data is one JSON value, and every line an SSE field. Anything else
    # stops it: SDKs read such bytes in ways Wardgate would not judge (google-genai parses a line without `data:`
    # as JSON; a repeated key is read as its last value), so they go unjudged as calls (an outside review).
    strict: bool
    framing: Framing  # SSE, or AWS's binary event stream (Bedrock)

    def locations(self, event: SseEvent, payload: Any) -> list[Location]:
        """The texts this event carries (tool-call starts come as empty-path locations naming the tool)."""
        ...

    def ends(self, event: SseEvent, payload: Any) -> list[str] | None:
        """Channels this event closes (their held text must go out before it); None: every channel (the end)."""
        ...

    def error_event(self, code: str, message: str, decision_id: str | None = None) -> bytes:
        """A provider-shaped error event the client SDK raises on, naming the audited decision."""
        ...


# Chat delta keys with a structure of their own (below) or no text a model wrote.
_CHAT_DELTA_KEYS = frozenset(("content", "role", "tool_calls", "function_call", "audio"))
# Responses: the events that stream a call's input (`….delta`, `….done`), and its key.
_RESPONSES_INPUT_EVENTS = {"response.function_call_arguments": "arguments", "response.custom_tool_call_input": "input"}


def _is_map(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping)


def _logprobs(
    entries: Any, path: JsonPath, channel: str, kind: Literal["delta", "full"] = "delta"
) -> Iterator[Location]:
    """A list of logprob entries (a chat choice's `logprobs.content`, a Responses text's `logprobs`, Gemini's
    `chosenCandidates`): each entry's token and its bytes continue channels of their own, with their own context
    (they repeat the text; in the text's context they hid its own). Clients join them into the answer's text again:
    judged only one by one, a key the text masked went out there whole (an outside review's finding). Alternatives
    (`top_logprobs`) are no text anyone joins: their strings are judged one by one, as every other string is."""
    for position, entry in enumerate(as_list(entries)):
        if not _is_map(entry):
            continue
        if isinstance(entry.get("token"), str):
            yield Location(f"{channel}:token", (*path, position, "token"), kind, mirror=True)
        if byte_text(entry.get("bytes")) is not None:
            yield Location(f"{channel}:bytes", (*path, position, "bytes", BYTES_MARK), kind, mirror=True)


class StreamUnreadable(Exception):
    """An event that names its place in a way client SDKs read otherwise than Wardgate would: the stream stops."""


def _whole(value: Any, what: str) -> int:
    """An index as every client reads it. JavaScript and pydantic read `0.0` as 0 and Python lists read `-1` from
    the end, so only a non-negative whole number names one place for all of them (an outside review put a call's
    arguments under `index: -1` and `0.0`, judged as another call than the one SDKs handed the agent)."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or value < 0 or (isinstance(value, float) and not value.is_integer()):
        raise StreamUnreadable(f"an event names {what} {quoted(json.dumps(value))}, which clients read differently")
    return int(value)


class _Started:
    """The entries of a list clients build as a stream goes (choices, content blocks, calls, output items, parts).
    SDKs append a started entry whatever index it names, and continue the entry at the index an event names."""

    def __init__(self) -> None:
        self.count = 0

    def next(self, value: Any, what: str) -> int:
        """An event that starts an entry: its index must be the next one's."""
        index = _whole(value, what)
        if index != self.count:
            raise StreamUnreadable(f"an event starts {what} {index} after {self.count} of them")
        self.count += 1
        return index

    def known(self, value: Any, what: str) -> int:
        """An event that continues an entry: it must have started."""
        index = _whole(value, what)
        if index >= self.count:
            raise StreamUnreadable(f"an event continues {what} {index}, which never started")
        return index

    def known_or_next(self, value: Any, what: str) -> int:
        """An event clients merge into the entry it names, or add as the next one."""
        index = self.merged(self.count, value, what)
        self.count = max(self.count, index + 1)
        return index

    @staticmethod
    def merged(count: int, value: Any, what: str) -> int:
        """The entry of `count` an index merges into, or the next one's: any other place (a negative index, one
        past the next) is read differently by Python's lists and JavaScript's arrays."""
        index = _whole(value, what)
        if index > count:
            raise StreamUnreadable(f"an event names {what} {index} after {count} of them")
        return index


class _OneAtATime(_Started):
    """Entries clients may build by index or by appending to the last one started (Cohere's own streaming example,
    Strands on Bedrock): each starts after the one before it ended, and every event names the open one."""

    def __init__(self) -> None:
        super().__init__()
        self.open: int | None = None

    def start(self, value: Any, what: str) -> int:
        if self.open is not None:
            raise StreamUnreadable(f"an event starts another {what} while {what} {self.open} is open")
        self.open = self.next(value, what)
        return self.open

    def within(self, value: Any, what: str) -> int:
        index = _whole(value, what)
        if index != self.open:
            raise StreamUnreadable(f"an event names {what} {index} while {what} {self.open} is open")
        return index

    def end(self, value: Any, what: str) -> int:
        index, self.open = self.within(value, what), None
        return index


class OpenAIChatStream:
    has_end_event = True
    strict = True
    framing = SSE
    provider = "openai"

    def __init__(self) -> None:
        # Each list a delta carries under a field of its own, as the openai SDK has accumulated it so far: how many
        # entries, and whether all are plain values (then a list that follows is appended, not merged).
        self._lists: dict[str, tuple[int, bool]] = {}
        self._choices = _Started()
        self._calls: dict[int, _Started] = {}  # per choice, its tool calls so far
        self._call_kinds: dict[str, tuple[str, str | None]] = {}  # per call: its input's key, its name

    def locations(self, event: SseEvent, payload: Any) -> list[Location]:
        found = []
        for position, choice in enumerate(payload.get("choices") or [] if _is_map(payload) else []):
            if not _is_map(choice):
                continue
            index = self._choices.known_or_next(choice.get("index", position), "choice")
            if isinstance(choice.get("text"), str):  # legacy completions: choices[].text
                found.append(Location(f"choice:{index}", ("choices", position, "text")))
            logprobs = choice.get("logprobs")
            for key, entries in logprobs.items() if _is_map(logprobs) else ():  # `content`, `refusal`
                found += _logprobs(entries, ("choices", position, "logprobs", key), f"choice:{index}:logprobs:{key}")
            # Legacy completions: `logprobs.tokens` is the text's tokens as strings (their alternatives are keys of
            # `top_logprobs`, judged whole as keys are: they cannot be rewritten).
            tokens = logprobs.get("tokens") if _is_map(logprobs) else None
            for token_index, token in enumerate(as_list(tokens)):
                if isinstance(token, str):
                    token_path = ("choices", position, "logprobs", "tokens", token_index)
                    found.append(Location(f"choice:{index}:logprobs:tokens", token_path, mirror=True))
            delta = choice.get("delta")
            if not _is_map(delta):
                continue
            if isinstance(delta.get("content"), str):
                found.append(Location(f"choice:{index}", ("choices", position, "delta", "content")))
            # Content as a list of parts (Mistral's, in OpenAI's shape): its texts continue the choice's text.
            parts = delta.get("content")
            for part_index, part in enumerate(as_list(parts)):
                if _is_map(part) and isinstance(part.get("text"), str):
                    part_path = ("choices", position, "delta", "content", part_index, "text")
                    found.append(Location(f"choice:{index}", part_path))
            # Every other text the delta carries (refusal, reasoning_content, OpenRouter's reasoning_details, a field
            # added next month) is guarded as channels of its own, nested ones too.
            for key, value in delta.items():
                if key not in _CHAT_DELTA_KEYS:
                    found += self._nested(value, ("choices", position, "delta", key), f"choice:{index}:{key}")
            audio = delta.get("audio")
            if _is_map(audio) and isinstance(audio.get("transcript"), str):
                found.append(Location(f"choice:{index}:audio", ("choices", position, "delta", "audio", "transcript")))
            legacy = delta.get("function_call")  # the deprecated `functions` API: one call, streamed like a tool call
            if _is_map(legacy):
                name = legacy.get("name") if isinstance(legacy.get("name"), str) else None
                if isinstance(legacy.get("arguments"), str):
                    arguments = ("choices", position, "delta", "function_call", "arguments")
                    found.append(Location(f"choice:{index}:function", arguments, tool=name or ""))
                elif name:
                    found.append(Location(f"choice:{index}:function", (), tool=name))
            # openai-python takes the first `tool_calls` a choice's deltas carry as it comes, then merges.
            first = index not in self._calls
            calls = self._calls.setdefault(index, _Started()) if delta.get("tool_calls") is not None else _Started()
            for call_position, call in enumerate(as_list(delta.get("tool_calls"))):
                slot = self._call_slot(calls, first, call_position, call)
                called = called_function(call)  # a function's JSON `arguments`, or a custom tool's `input`
                if called is None:
                    continue
                function, key, argument = called
                channel = f"choice:{index}:tool:{slot}"
                name = function.get("name") if isinstance(function.get("name"), str) else None
                self._check_call(channel, key, name)
                path: JsonPath = ("choices", position, "delta", "tool_calls", call_position, key, argument)
                if isinstance(function.get(argument), str):
                    found.append(Location(channel, path, tool=name or ""))
                elif name:
                    found.append(Location(channel, (), tool=name))
        return found

    def _check_call(self, channel: str, key: str, name: str | None) -> None:
        """A call's deltas carry one kind of input and its name once: openai-python joins every string of them, so a
        `function.arguments` piece in a custom call's deltas was judged as its input while the agent's `custom.input`
        left it out, and a name sent twice (`run`, `run`) is `runrun` there and `run` in openai-node (a review's
        findings)."""
        kind, named = self._call_kinds.get(channel, (key, None))
        if kind != key:
            raise StreamUnreadable("a tool call's deltas carry both a function's and a custom tool's input")
        if name and name == named:  # another name is `tool_name_ambiguous` (pipeline/stream.py)
            raise StreamUnreadable("a tool call's deltas name it twice")
        self._call_kinds[channel] = (kind, named or name)

    @staticmethod
    def _call_slot(calls: _Started, first: bool, position: int, call: Any) -> int:
        """Which call of its choice a `tool_calls` entry continues, as openai-python and openai-node both read it:
        the first list is taken as it comes (its entries' indices must be their places), later entries merge into
        the call their index names or add the next one."""
        index = call.get("index") if _is_map(call) else None
        if first:
            if index is not None and _whole(index, "tool call") != position:
                raise StreamUnreadable(f"a choice's first tool call list names call {index} at place {position}")
            calls.count = max(calls.count, position + 1)
            return position
        if index is None:
            raise StreamUnreadable("a tool call after the first names no index")
        return calls.known_or_next(index, "tool call")

    def _nested(self, value: Any, path: JsonPath, channel: str) -> list[Location]:
        """The strings of a delta's own field, each continuing the channel of its place as openai-python's
        `accumulate_delta` joins them: a string to the string at the same keys, a list's object entries merged by
        their `index` into the list accumulated so far (entries of a list of plain values are appended). Judged one
        by one, a key split across two chunks' `reasoning_details[0].text` reached `get_final_completion()` whole
        (an outside review's finding)."""
        if isinstance(value, str):
            return [Location(channel, path)]
        if _is_map(value):
            # `index` and `type` are replaced, not joined, by the SDK.
            return [
                location
                for key, item in value.items()
                if key not in ("index", "type")
                for location in self._nested(item, (*path, key), f"{channel}.{key}")
            ]
        if not isinstance(value, list):
            return []
        count, plain = self._lists.get(channel, (0, True))
        indexed = any(_is_map(item) and "index" in item for item in value)
        found: list[Location] = []
        for position, item in enumerate(value):
            if plain and count == 0 and indexed:
                # A first indexed list: openai-python 3.54 merges its entries by index, earlier versions take it as
                # it came. They agree only when each entry's index is its place (a repeated one split what the
                # older one joins later).
                index = item.get("index") if _is_map(item) else None
                if _whole(index, "list entry") != position:
                    raise StreamUnreadable(f"a first list names entry {index} at place {position}")
                slot = position
            elif plain:  # taken as it came, or a list of plain values extended
                slot = count + position
            else:
                index = item.get("index") if _is_map(item) else None
                slot = _Started.merged(count, index, "list entry")  # the SDK raises on an entry without one
                count = max(count, slot + 1)
            found += self._nested(item, (*path, position), f"{channel}[{slot}]")
        if plain:
            count += len(value)
            plain = not indexed and all(isinstance(item, str | int | float) for item in value)
        self._lists[channel] = (count, plain)
        return found

    def ends(self, event: SseEvent, payload: Any) -> list[str] | None:
        if event.data is not None and event.data.strip() == "[DONE]":
            return None
        ended = []
        for position, choice in enumerate(payload.get("choices") or [] if _is_map(payload) else []):
            if _is_map(choice) and choice.get("finish_reason"):
                ended.append(f"choice:{_whole(choice.get('index', position), 'choice')}")
        return ended

    def error_event(self, code: str, message: str, decision_id: str | None = None) -> bytes:
        # The openai SDK raises APIError on a data payload with an `error` object.
        error = {"message": message, "type": "wardgate_policy", "code": code, "wardgate": {"decision_id": decision_id}}
        return encode_event(None, json.dumps({"error": error}))


class OpenAIResponsesStream:
    has_end_event = True
    strict = True
    framing = SSE
    provider = "openai"

    def __init__(self) -> None:
        # The openai SDK appends each output item and content part that is added (whatever index it names) and
        # applies a delta to the item and part at its indices: they must be added in order, and deltas name ones
        # that were.
        self._items = _Started()
        self._parts: dict[int, _Started] = {}
        # A stream resumed past its start (`starting_after`) names items added before it: no SDK accumulates such a
        # stream (theirs must begin with `response.created`), so its indices are only read as whole numbers.
        self._from_start: bool | None = None

    def _places(self, kind: Any, payload: Mapping[str, Any]) -> tuple[int | None, int | None]:
        """(output index, content index) of an event, checked as above; None where it names none."""
        if self._from_start is None:
            self._from_start = kind in ("response.created", "response.queued", "response.in_progress")
        if not self._from_start:
            output, content = payload.get("output_index"), payload.get("content_index", payload.get("summary_index"))
            return (
                None if output is None else _whole(output, "output item"),
                None if content is None else _whole(content, "content part"),
            )
        output = content = None
        if "output_index" in payload:
            if kind == "response.output_item.added":
                output = self._items.next(payload["output_index"], "output item")
                item = payload.get("item")
                parts = self._parts[output] = _Started()
                parts.count = len(as_list(item.get("content") if _is_map(item) else None))  # the parts it comes with
            else:
                output = self._items.known(payload["output_index"], "output item")
        if "content_index" in payload and output is not None:
            parts = self._parts[output]
            # `content_part.added`, and vLLM's `reasoning_part.added` (gpt-oss reasoning), start a part.
            if isinstance(kind, str) and kind.endswith("_part.added"):
                content = parts.next(payload["content_index"], "content part")
            else:
                content = parts.known(payload["content_index"], "content part")
        elif "summary_index" in payload:
            content = _whole(payload["summary_index"], "summary part")
        return output, content

    def locations(self, event: SseEvent, payload: Any) -> list[Location]:
        kind = payload.get("type") if _is_map(payload) else None
        output, content = self._places(kind, payload) if _is_map(payload) else (None, None)
        if kind == "response.output_text.delta":
            channel = f"output:{output}:{content}"
            return [Location(channel, ("delta",)), *_logprobs(payload.get("logprobs"), ("logprobs",), channel)]
        if isinstance(kind, str) and kind.removesuffix(".delta") in _RESPONSES_INPUT_EVENTS:
            return [Location(f"output:{output}", ("delta",), tool="")]
        if isinstance(kind, str) and kind.endswith(".delta") and isinstance(payload.get("delta"), str):
            # Refusals, reasoning summaries, audio transcripts, any text delta a new event type brings.
            return [Location(f"{kind}:{output}:{content}", ("delta",))]
        if kind == "response.output_item.added" and _is_map(item := payload.get("item")):
            if str(item.get("type")) in CLIENT_RUN_CALLS:
                return list(self._item_texts(item, output, ("item",)))
            # The openai SDK appends the deltas that follow to the item's arguments and to its parts' texts.
            argument = CALL_INPUTS.get(str(item.get("type")))
            if argument is not None and isinstance(item.get("name"), str):
                given = item.get(argument) if isinstance(item.get(argument), str) else None
                return [Location(f"output:{output}", (), tool=item["name"], arguments=given or None, opens=True)]
            return [
                Location(f"output:{output}:{index}", ("item", "content", index, "text"), opens=True)
                for index, part in enumerate(as_list(item.get("content")))
                if _is_map(part) and isinstance(part.get("text"), str)
            ]
        if kind == "response.content_part.added" and _is_map(part := payload.get("part")):
            if not isinstance(part.get("text"), str):
                return []
            return [Location(f"output:{output}:{content}", ("part", "text"), opens=True)]
        if kind == "response.output_text.done":
            channel = f"output:{output}:{content}"
            return [
                Location(channel, ("text",), "full"),
                *_logprobs(payload.get("logprobs"), ("logprobs",), channel, "full"),
            ]
        if isinstance(kind, str) and (argument := _RESPONSES_INPUT_EVENTS.get(kind.removesuffix(".done"))):
            return [Location(f"output:{output}", (argument,), "full", tool="")]
        if kind == "response.content_part.done" and _is_map(part := payload.get("part")):
            channel = f"output:{output}:{content}"
            text = [Location(channel, ("part", "text"), "full")] if isinstance(part.get("text"), str) else []
            return [*text, *_logprobs(part.get("logprobs"), ("part", "logprobs"), channel, "full")]
        if kind == "response.output_item.done" and _is_map(payload.get("item")):
            return list(self._item_texts(payload["item"], output, ("item",)))
        # The final response's items, and any a lifecycle event (`created`, `in_progress`, `queued`) carries: the openai
        # SDK's stream helper takes an item from those for the finished call of the same id when `completed` names
        # none (an outside review: a shell_exec swapped in there was handed to the agent, unjudged).
        if isinstance(kind, str) and kind.startswith("response.") and _is_map(response := payload.get("response")):
            found: list[Location] = []
            for index, item in enumerate(response.get("output") or []):
                if _is_map(item):
                    found += self._item_texts(item, index, ("response", "output", index))
            return found
        return []

    @staticmethod
    def _item_texts(item: Mapping[str, Any], output: Any, path: JsonPath) -> Iterator[Location]:
        if (run := client_run_inputs(item)) is not None:
            # Judged whole, as the JSON of its input object (masked string by string: an object cannot take a text
            # back); a second input key (a computer call's `actions` beside `action`) as a call of its own.
            name, keys = run
            if not keys:  # no input: judged by its name
                yield Location(f"output:{output}", (), tool=name)
            for position, key in enumerate(keys):
                channel = f"output:{output}" if position == 0 else f"output:{output}:{key}"
                yield Location(channel, (*path, key), "full", tool=name)
            return
        argument = CALL_INPUTS.get(str(item.get("type")))
        if argument is not None and isinstance(item.get(argument), str):
            yield Location(f"output:{output}", (*path, argument), "full", tool=str(item.get("name", "")))
        for index, part in enumerate(item.get("content") or []):
            if _is_map(part) and isinstance(part.get("text"), str):
                yield Location(f"output:{output}:{index}", (*path, "content", index, "text"), "full")
            if _is_map(part):
                logprobs = (*path, "content", index, "logprobs")
                yield from _logprobs(part.get("logprobs"), logprobs, f"output:{output}:{index}", "full")

    def ends(self, event: SseEvent, payload: Any) -> list[str] | None:
        kind = payload.get("type") if _is_map(payload) else None
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            return None
        if kind == "response.output_text.done":
            output, content = payload.get("output_index"), payload.get("content_index")
            return [f"output:{_whole(output, 'output item')}:{_whole(content, 'content part')}"]
        if isinstance(kind, str) and kind.removesuffix(".done") in _RESPONSES_INPUT_EVENTS:
            return [f"output:{_whole(payload.get('output_index'), 'output item')}"]
        return []

    def error_event(self, code: str, message: str, decision_id: str | None = None) -> bytes:
        error = {"message": message, "type": "wardgate_policy", "code": code, "wardgate": {"decision_id": decision_id}}
        return encode_event("error", json.dumps({"error": error}))


class AnthropicStream:
    has_end_event = True
    strict = True
    framing = SSE
    provider = "anthropic"

    def __init__(self) -> None:
        # The anthropic SDK appends each block that starts (whatever index it names) and applies a delta to the
        # block at its index: blocks must start in order, and deltas name one that started.
        self._blocks = _Started()
        self._messages = 0

    def locations(self, event: SseEvent, payload: Any) -> list[Location]:
        kind = payload.get("type") if _is_map(payload) else None
        if kind == "message_start" and _is_map(message := payload.get("message")):
            self._messages += 1
            if self._messages > 1:  # the SDK starts its message again; the blocks Wardgate knows would go on
                raise StreamUnreadable("the upstream started its message twice")
            found = []
            for index, block in enumerate(as_list(message.get("content"))):
                self._blocks.next(index, "content block")
                if _is_map(block):
                    found += _block_start(f"block:{index}", block, ("message", "content", index))
            return found
        if kind == "content_block_start" and _is_map(block := payload.get("content_block")):
            index = self._blocks.next(payload.get("index"), "content block")
            return _block_start(f"block:{index}", block, ("content_block",))
        if kind in ("content_block_delta", "content_block_stop"):
            channel = f"block:{self._blocks.known(payload.get('index'), 'content block')}"
        if kind == "content_block_delta" and _is_map(delta := payload.get("delta")):
            if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                return [Location(channel, ("delta", "text"))]
            if delta.get("type") == "input_json_delta" and isinstance(delta.get("partial_json"), str):
                return [Location(channel, ("delta", "partial_json"), tool="")]
            # thinking_delta, citations and any other text a delta carries (a signature is no text a model wrote).
            return [
                Location(f"{channel}:{key}", ("delta", key))
                for key, value in delta.items()
                if key not in ("type", "signature") and isinstance(value, str)
            ]
        return []

    def ends(self, event: SseEvent, payload: Any) -> list[str] | None:
        kind = payload.get("type") if _is_map(payload) else None
        if kind == "content_block_stop":
            return [f"block:{_whole(payload.get('index'), 'content block')}"]
        return None if kind == "message_stop" else []

    def error_event(self, code: str, message: str, decision_id: str | None = None) -> bytes:
        # The anthropic SDK raises on `event: error`.
        error = {"type": code, "message": message, "wardgate": {"decision_id": decision_id}}
        return encode_event("error", json.dumps({"type": "error", "error": error}))


# The blocks whose input the anthropic SDK assembles from `input_json_delta`s (its TRACKS_TOOL_INPUT): each a call.
_ANTHROPIC_CALLS = frozenset(("tool_use", "server_tool_use", "mcp_tool_use"))


def _block_start(channel: str, block: Mapping[str, Any], path: JsonPath) -> list[Location]:
    """An Anthropic content block as it starts (in `content_block_start`, or whole in `message_start`): the anthropic
    SDK appends the deltas that follow to its text and its thinking, and a call whose input comes with its start and
    no `input_json_delta` is acted on with that input. Judged one by one, a key split between a start and a delta
    reached the client whole, and a call's input in its start was judged as no call's (an outside review)."""
    if block.get("type") in _ANTHROPIC_CALLS and isinstance(block.get("name"), str):
        given = block.get("input")
        return [Location(channel, (), tool=block["name"], arguments=json.dumps(given) if given else None, opens=True)]
    return [
        Location(channel if key == "text" else f"{channel}:{key}", (*path, key), opens=True)
        for key, value in block.items()
        if key not in ("type", "id", "signature") and isinstance(value, str)
    ]


class GeminiStream:
    """`streamGenerateContent?alt=sse`: every event is a GenerateContentResponse with the next text parts, or a
    function call, whole (its arguments are an object, not streamed text)."""

    provider = "google"
    has_end_event = False  # the last event only carries a finishReason
    strict = True
    framing = SSE

    def __init__(self) -> None:
        self._calls = 0  # each call is a channel of its own, held until its candidate ends

    def locations(self, event: SseEvent, payload: Any) -> list[Location]:
        found: list[Location] = []
        for position, candidate in enumerate(payload.get("candidates") or [] if _is_map(payload) else []):
            content = candidate.get("content") if _is_map(candidate) else None
            # google-genai reads `candidates[0]`, whatever its `index` says: an index off its place joined another
            # candidate's text for the client than for Wardgate (an outside review's finding).
            if _is_map(candidate) and _whole(candidate.get("index", position), "candidate") != position:
                raise StreamUnreadable(f"a candidate at place {position} names index {candidate.get('index')}")
            channel = f"candidate:{position}"
            result = candidate.get("logprobsResult") if _is_map(candidate) else None
            if _is_map(result):
                chosen: JsonPath = ("candidates", position, "logprobsResult", "chosenCandidates")
                found += _logprobs(result.get("chosenCandidates"), chosen, f"{channel}:logprobs")
            for part_index, part in enumerate(content.get("parts") or [] if _is_map(content) else []):
                if _is_map(part) and isinstance(part.get("text"), str):
                    # A thought is no part of the answer's text (google-genai's `.text` leaves it out): its own
                    # channel, so a key split around one is whole in the answer's (an outside review's finding).
                    try:
                        text_channel = f"{channel}:thought" if is_thought(part) else channel
                    except MalformedBody as exc:
                        raise StreamUnreadable(str(exc)) from None
                    found.append(
                        Location(text_channel, ("candidates", position, "content", "parts", part_index, "text"))
                    )
                for _, call in either(part, "functionCall"):
                    if _is_map(call) and any(key in call for key in ("partialArgs", "partial_args")):
                        # Vertex's streamed arguments: pieces a client assembles by JSON path, never one text here.
                        raise StreamUnreadable("a function call's arguments came in pieces (partialArgs)")
                    if _is_map(call) and isinstance(call.get("name"), str):
                        self._calls += 1
                        arguments = json.dumps(call.get("args") or {})
                        at = f"{channel}:call:{self._calls}"
                        found.append(Location(at, (), tool=call["name"], arguments=arguments))
        return found

    def ends(self, event: SseEvent, payload: Any) -> list[str] | None:
        ended = []
        for position, candidate in enumerate(payload.get("candidates") or [] if _is_map(payload) else []):
            if _is_map(candidate) and candidate.get("finishReason"):
                ended.append(f"candidate:{position}")
        return ended

    def error_event(self, code: str, message: str, decision_id: str | None = None) -> bytes:
        details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": code, "domain": "wardgate",
                    "metadata": {"decision_id": decision_id or ""}}]  # fmt: skip
        return encode_event(
            None, json.dumps({"error": {"code": 403, "message": message, "status": code, "details": details}})
        )


class BedrockConverseStream:
    """`converse-stream`: AWS event-stream messages named by their event type; text and tool input stream as deltas of
    a content block, a call's name in its block's start."""

    provider = "bedrock"
    has_end_event = True  # messageStop (a metadata event may follow it)
    strict = True
    framing = EVENT_STREAM

    def __init__(self) -> None:
        # Clients such as Strands append every delta to the block that started last, whatever index it names: blocks
        # come one after another (a text block starts with its first delta), each delta and stop naming the open one
        # (an outside review started two calls and sent the first one's input to the second).
        self._open: int | None = None
        self._started = 0

    def _block(self, name: str | None, payload: Mapping[str, Any]) -> int:
        index = _whole(payload.get("contentBlockIndex"), "content block")
        if name == "contentBlockStart" or (name == "contentBlockDelta" and index != self._open):
            if index != self._started:
                raise StreamUnreadable(f"an event starts content block {index} after {self._started} of them")
            self._open, self._started = index, self._started + 1
        elif index != self._open:
            raise StreamUnreadable(f"an event names content block {index} while block {self._open} is open")
        if name == "contentBlockStop":
            self._open = None
        return index

    def locations(self, event: SseEvent, payload: Any) -> list[Location]:
        if not _is_map(payload) or event.event not in ("contentBlockStart", "contentBlockDelta"):
            return []
        channel = f"block:{self._block(event.event, payload)}"
        start = payload.get("start") if event.event == "contentBlockStart" else None
        call = start.get("toolUse") if _is_map(start) else None
        if _is_map(call) and isinstance(call.get("name"), str):
            return [Location(channel, (), tool=call["name"])]
        delta = payload.get("delta") if event.event == "contentBlockDelta" else None
        if not _is_map(delta):
            return []
        found = []
        if isinstance(delta.get("text"), str):
            found.append(Location(channel, ("delta", "text")))
        call_delta = delta.get("toolUse")
        if _is_map(call_delta) and isinstance(call_delta.get("input"), str):
            found.append(Location(channel, ("delta", "toolUse", "input"), tool=""))
        reasoning = delta.get("reasoningContent")
        if _is_map(reasoning) and isinstance(reasoning.get("text"), str):
            found.append(Location(f"{channel}:reasoning", ("delta", "reasoningContent", "text")))
        return found

    def ends(self, event: SseEvent, payload: Any) -> list[str] | None:
        if event.event == "messageStop":
            return None
        if event.event == "contentBlockStop" and _is_map(payload):
            return [f"block:{self._block(event.event, payload)}"]
        return []

    def error_event(self, code: str, message: str, decision_id: str | None = None) -> bytes:
        return aws_exception(code, message, decision_id)


class BedrockInvokeStream(AnthropicStream):
    """`invoke-with-response-stream`: each chunk holds one event of the model's own stream, read by its shape: Claude's
    (`type`) as Anthropic's stream, Nova's (`{"contentBlockDelta": {…}}`) as Converse's, Mistral's and Llama's OpenAI
    shape (`choices`) as a chat stream, calls included in each (a fourth review: only Claude's calls were judged);
    another model's (Titan's `outputText`) string by string, each place in the event a channel."""

    provider = "bedrock"
    has_end_event = False  # only Claude's stream has one
    framing = BEDROCK_CHUNKS

    def __init__(self) -> None:
        super().__init__()
        self._converse, self._chat = BedrockConverseStream(), OpenAIChatStream()

    def locations(self, event: SseEvent, payload: Any) -> list[Location]:
        """Every shape the chunk has is read (a `type` beside Nova's keys or `choices` hid their calls: a fifth
        review's finding); a chunk of none, string by string."""
        if not _is_map(payload):
            return GenericStream.leaf_locations(payload)
        found = super().locations(event, payload) if "type" in payload else []
        for name, inner in _nova_events(payload):
            nova = self._converse.locations(dataclasses.replace(event, event=name), inner)
            # A call's start names no place (its empty path stays empty).
            found += [dataclasses.replace(at, path=(name, *at.path) if at.path else ()) for at in nova]
        if isinstance(payload.get("choices"), list):
            found += self._chat.locations(event, payload)
        return found or GenericStream.leaf_locations(payload)

    def ends(self, event: SseEvent, payload: Any) -> list[str] | None:
        if not _is_map(payload):
            return []
        each = [
            self._converse.ends(dataclasses.replace(event, event=name), inner) for name, inner in _nova_events(payload)
        ]
        if isinstance(payload.get("choices"), list):
            each.append(self._chat.ends(event, payload))
        if "type" in payload:
            each.append(super().ends(event, payload))
        return None if None in each else [channel for ended in each if ended for channel in ended]

    def error_event(self, code: str, message: str, decision_id: str | None = None) -> bytes:
        return aws_exception(code, message, decision_id)


class CohereChatStream:
    """Cohere's v2 `chat_stream`: content blocks (text or thinking) and tool calls, each started, continued and ended
    by index, the calls' arguments streamed as text; a `tool_plan` streamed before the calls. The cohere SDK hands
    each event to the client, which joins them by index (LangChain) or onto the last one started (Cohere's own
    examples): blocks and calls come one at a time, in order, each event naming the open one."""

    provider = "cohere"
    has_end_event = True  # message-end
    strict = True
    framing = SSE

    def __init__(self) -> None:
        self._contents, self._calls = _OneAtATime(), _OneAtATime()

    def locations(self, event: SseEvent, payload: Any) -> list[Location]:
        if not _is_map(payload):
            return []
        kind = str(payload.get("type"))
        delta = payload.get("delta")
        message = delta.get("message") if _is_map(delta) else None
        message = message if _is_map(message) else {}
        _typed_as_the_sdk_reads(kind, payload, message)
        # Text, plans and calls come in their own events: lenient clients (Go's maruel/genai) read a block or a call
        # wherever a message carries one, and users join `tool-plan-delta`s alone (a plan elsewhere, judged between
        # two of them, hid a key they joined: a review's finding). `message-start` carries empty ones.
        if kind != "tool-plan-delta" and message.get("tool_plan"):
            raise StreamUnreadable(f"a Cohere `{kind}` event carries a tool plan")
        if kind not in _COHERE_EVENTS:
            if message.get("content") or message.get("tool_calls"):
                raise StreamUnreadable(f"a Cohere `{kind}` event carries content or tool calls")
            return []
        if kind == "tool-plan-delta" and isinstance(message.get("tool_plan"), str):
            return [Location("tool_plan", ("delta", "message", "tool_plan"))]
        if kind in ("content-start", "content-delta"):
            started = kind == "content-start"
            index = (self._contents.start if started else self._contents.within)(payload.get("index"), "content block")
            content = message.get("content", {})
            if not _is_map(content):  # a list of parts: lenient clients join its texts, judged here as none
                raise StreamUnreadable("a Cohere content event whose content is not one object")
            channels = {"text": f"content:{index}", "thinking": f"content:{index}:thinking"}
            found = [
                Location(channel, ("delta", "message", "content", key), opens=started)
                for key, channel in channels.items()
                if isinstance(content.get(key), str)
            ]
            logprobs = payload.get("logprobs")
            if _is_map(logprobs) and isinstance(logprobs.get("text"), str):
                found.append(Location(f"content:{index}:logprobs", ("logprobs", "text"), mirror=True))
            return found
        if kind in ("tool-call-start", "tool-call-delta"):
            started = kind == "tool-call-start"
            index = (self._calls.start if started else self._calls.within)(payload.get("index"), "tool call")
            try:  # one function call, an object (a list of them is one call to lenient clients)
                function = call_function(message.get("tool_calls"))
            except MalformedBody as exc:
                raise StreamUnreadable(str(exc)) from None
            name = function.get("name") if isinstance(function.get("name"), str) else None
            if started and name is None:
                raise StreamUnreadable("a tool call starts without a name")
            if not started and name is not None:
                raise StreamUnreadable("a tool call's delta names it again")
            if isinstance(function.get("arguments"), str):
                path = ("delta", "message", "tool_calls", "function", "arguments")
                return [Location(f"call:{index}", path, tool=name or "", opens=started)]
            return [Location(f"call:{index}", (), tool=name, opens=True)] if name else []
        return []

    def ends(self, event: SseEvent, payload: Any) -> list[str] | None:
        kind = str(payload.get("type")) if _is_map(payload) else None
        if kind == "message-end":
            return None
        if kind == "content-end":
            return [f"content:{self._contents.end(payload.get('index'), 'content block')}"]
        if kind == "tool-call-end":
            return [f"call:{self._calls.end(payload.get('index'), 'tool call')}"]
        return []

    def error_event(self, code: str, message: str, decision_id: str | None = None) -> bytes:
        # The cohere SDK skips events it cannot read: a `message-end` whose finish reason is ERROR is the one it hands
        # the client as the stream's failure.
        delta = {"finish_reason": "ERROR", "error": message, "wardgate": {"code": code, "decision_id": decision_id}}
        return encode_event("message-end", json.dumps({"type": "message-end", "delta": delta}))


_COHERE_EVENTS = frozenset(("content-start", "content-delta", "tool-plan-delta", "tool-call-start", "tool-call-delta"))


def _typed_as_the_sdk_reads(kind: str, payload: Mapping[str, Any], message: Mapping[str, Any]) -> None:
    """The cohere SDK silently skips an event its models reject (a token id that is no number, a call id that is no
    string): judged, such an event's text joined a key the client read whole, and a skipped call's start moved
    another call's arguments onto it (an outside review). An event carrying text or a call must hold the types the
    SDK's models take, or the stream stops."""

    def expect_type(value: Any, kind_: type | tuple[type, ...], what: str, *, required: bool = False) -> None:
        if (value is None and not required) or (isinstance(value, kind_) and not isinstance(value, bool)):
            return
        raise StreamUnreadable(f"a Cohere `{kind}` event's {what} is not of the type the cohere SDK reads")

    if kind not in _COHERE_EVENTS:
        return
    content = message.get("content")
    if kind.startswith("content-") and _is_map(content):
        for key in ("text", "thinking", "type"):
            expect_type(content.get(key), str, f"content {key}")
    logprobs = payload.get("logprobs")
    if logprobs is not None:
        expect_type(logprobs, dict, "logprobs")
        expect_type(logprobs.get("text"), str, "logprobs text")
        for key, number in (("token_ids", int), ("logprobs", (int, float))):
            values = logprobs.get(key)
            expect_type(values, list, f"logprobs {key}", required=key == "token_ids")
            for value in values or []:
                expect_type(value, number, f"logprobs {key}", required=True)
    expect_type(message.get("tool_plan"), str, "tool plan")
    call = message.get("tool_calls")
    if kind.startswith("tool-call-") and _is_map(call):
        expect_type(call.get("id"), str, "call id", required=kind == "tool-call-start")
        function = call.get("function")
        if _is_map(function):
            expect_type(function.get("name"), str, "function name")
            expect_type(function.get("arguments"), str, "function arguments")


class GenericStream:
    """Any other SSE answer on an inspected host (a provider or endpoint we do not map): every string is a channel
    by its place in the event (below); errors in the provider's shape."""

    has_end_event = False
    strict = False  # an endpoint we do not map: its events are judged as the text they are
    framing = SSE

    def __init__(self, provider: str, path: str = "") -> None:
        self.provider, self._path = provider, path
        # An API whose calls Wardgate refuses: its events are read strictly, so none hides a call as text (an outside
        # review sent Cohere v1's JSON lines labelled as SSE: each line an unknown field, judged as text alone).
        self.strict = unread_api(path) is not None
        errors: dict[str, StreamFormat] = {"anthropic": AnthropicStream(), "google": GeminiStream()}
        self._errors = errors.get(provider, OpenAIChatStream())

    def locations(self, event: SseEvent, payload: Any) -> list[Location]:
        if (api := unread_call(self._path, payload)) is not None:
            raise StreamUnreadable(f"the stream carries a tool call of {api}, which Wardgate cannot judge yet")
        return self.leaf_locations(payload)

    @staticmethod
    def leaf_locations(payload: Any) -> list[Location]:
        """Each string at the same place in successive events (`delta.content.0.text.value`, or a non-JSON `data:`)
        is one channel: a key split over events is joined there, as in a mapped format. Ids, types and other
        structural values are left to the catch-all, so they do not run together into one text."""
        try:
            leaves = list(string_leaves(payload, ()))
        except MalformedBody:
            return []  # nested past the limit: the catch-all refuses it
        return [Location("generic:" + ".".join(map(str, path)), path) for path, _ in leaves if not is_structural(path)]

    def ends(self, event: SseEvent, payload: Any) -> list[str] | None:
        return None if event.data is not None and event.data.strip() == "[DONE]" else []

    def error_event(self, code: str, message: str, decision_id: str | None = None) -> bytes:
        return self._errors.error_event(code, message, decision_id)


def _nova_events(payload: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Nova's stream events in a chunk: a key naming each (`contentBlockStart`, `contentBlockDelta`, …) over its body
    (Bedrock adds `amazon-bedrock-invocationMetrics` beside the last)."""
    return [(name, inner) for name, inner in payload.items() if name in _CONVERSE_EVENTS and _is_map(inner)]


_CONVERSE_EVENTS = frozenset(("messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop",
                              "messageStop", "metadata"))  # fmt: skip
# `GET /v1/responses/{id}?stream=true` replays a background response as the same stream a POST gets.
_RESPONSE_RETRIEVAL = re.compile(r"/responses/resp_[^/]+$")


def stream_format_for(path: str) -> StreamFormat | None:
    """The stream format of a request path (any query string ignored)."""
    bare = route_path(path)
    vertex = raw_predict(bare)
    # A partner model's stream on Vertex AI (Mistral, Llama) is OpenAI's chat stream; Claude's is Anthropic's.
    if bare.endswith("/completions") or (vertex is not None and vertex[0] != "anthropic" and vertex[1]):
        return OpenAIChatStream()
    if bare.endswith("/responses") or _RESPONSE_RETRIEVAL.search(bare):
        return OpenAIResponsesStream()
    if bare.endswith("/messages") or on_cloud_route(bare):
        return AnthropicStream()
    if is_cohere_chat("POST", bare):
        return CohereChatStream()
    operation = bedrock_operation(bare)
    if operation == "converse-stream":
        return BedrockConverseStream()
    if operation == "invoke-with-response-stream":
        return BedrockInvokeStream()
    if gemini_method(bare) in ("generatecontent", "streamgeneratecontent"):  # the SDKs read either as a stream
        return GeminiStream()
    return None
