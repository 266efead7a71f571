"""Every string of a JSON body is judged: unknown bodies leaf by leaf, known ones beyond their mapped fields."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from typing import Any

from wardgate.formats.base import MalformedBody, TooComplex, model_and_stream
from wardgate.formats.media import BYTES_MARK, DECODED_MARK, byte_text, encoded_media, is_number, remote_media
from wardgate.formats.target import model_id
from wardgate.models import Exchange, JsonPath, Role, Segment
from wardgate.quoting import quoted_all

__all__ = [
    "KEY_MARK",
    "byte_leaves",
    "is_structural",
    "leaf_segment",
    "named_model",
    "parse_unparsed",
    "refuse_token_ids_in",
    "string_leaves",
    "with_every_leaf",
]

# In a segment path, what follows this marker is an object key, not a value: it can be judged but not rewritten.
KEY_MARK = "$key"

# Offered tool definitions: their descriptions and schemas are text the model reads (tool poisoning).
_TOOL_KEYS = frozenset(("tools", "functions"))
# Fields whose one-token values are identifiers or enums the provider validates: scanned for secrets only.
_STRUCTURAL_KEYS = frozenset(
    ("model", "role", "type", "object", "id", "finish_reason", "stop_reason", "media_type", "encoding_format",
     "service_tier", "reasoning_effort", "tool_choice", "format", "detail", "status", "voice", "jsonrpc", "method")
)  # fmt: skip
_TOKEN_CHARS = 64
_KNOWN_ROLES = frozenset(
    ("system", "user", "assistant", "tool", "developer", "function", "model", "ipython", "chatbot", "human", "ai")
)
# Where providers take a model's input as token ids (lists of integers, or lists of such lists).
# (TEI's `inputs` and llama.cpp's rerank `documents` take ids as well as text.)
_TOKEN_ID_KEYS = ("prompt", "input", "inputs", "documents", "context", "prompt_token_ids", "input_ids", "token_ids",
                  "tokens")  # fmt: skip
_EMBEDDING_KEYS = ("prompt_embeds", "inputs_embeds")  # vLLM's precomputed prompt embeddings
# Where Bedrock's jobs, agents and knowledge-base calls name the model they run (no `model`, no model in the path).
_MODEL_KEYS = frozenset(("modelId", "modelArn", "foundationModel", "baseModelIdentifier", "modelIdentifier"))

_MAX_DEPTH = 64


def parse_unparsed(body: Any, provider: str) -> Exchange:
    """An `unparsed` exchange: no roles known, but every string in the body is scannable and rewritable."""
    model, stream = model_and_stream(body) if isinstance(body, dict) else (None, False)
    segments = [
        segment
        for path, text in string_leaves(body, ())
        for segment in _media(body, path, text) or [leaf_segment(path, text)]
    ]
    return Exchange(provider, "unparsed", model, stream, segments)


def named_model(body: Any) -> str | None:
    """The model an unmapped request body names: its top-level `model`, or the model key of a Bedrock job, agent or
    knowledge-base call at any depth (`/async-invoke`'s `modelId`, `retrieveAndGenerate`'s `modelArn`, an inline
    agent's `foundationModel`); an ARN is read as the model it names. A body naming two is `MalformedBody`: the
    upstream runs one of them, and the policy would check the other (a second outside review's finding: `model` beside
    a forbidden `modelId` passed as the allowed one)."""
    top = model_and_stream(body)[0] if isinstance(body, dict) else None
    named = {model_id(text) for path, text in string_leaves(body, ()) if path and path[-1] in _MODEL_KEYS}
    named |= {top} if top is not None else set()
    if len(named) > 1:
        raise MalformedBody(f"the body names more than one model ({quoted_all(sorted(named))})")
    return next(iter(named), None)


def with_every_leaf(exchange: Exchange, body: Any, max_segments: int | None = None) -> Exchange:
    """The adapter's segments plus every other non-empty string of the body: a field no adapter maps (a new API
    field, a part type we have not heard of) is still judged, as role `unknown` (`tool` under `tools`).

    Past `max_segments` in all, `TooComplex`: the walk stops there instead of building every piece of a hostile body.
    """
    mapped = {segment.path for segment in exchange.segments}
    leaves = itertools.chain(
        (
            segment
            for path, text in string_leaves(body, (), keys=True)
            if path not in mapped and text.strip()
            for segment in (
                [_key(path, text)] if KEY_MARK in path else _media(body, path, text) or [leaf_segment(path, text)]
            )
        ),
        (Segment("unknown", "document", text, path) for path, text in byte_leaves(body, ()) if path not in mapped),
    )
    room = None if max_segments is None else max_segments - len(exchange.segments)
    extra = list(itertools.islice(leaves, None if room is None else max(room, 0) + 1))
    if room is not None and len(extra) > room:
        raise TooComplex(f"the body holds more than {max_segments} texts to judge; the limit is {max_segments}")
    return dataclasses.replace(exchange, segments=[*exchange.segments, *extra]) if extra else exchange


def _media(body: Any, path: JsonPath, text: str) -> list[Segment]:
    """An encoded file: its payload read for secrets (decoded there when it is text), and its decoded text judged as
    a document when it is text; otherwise the payload is named opaque for the policy, as is a file the provider
    fetches by URL (the URL itself is judged as text). [] for any other string."""
    media = encoded_media(body, path, text)
    if media is None:
        remote = remote_media(body, path, text)
        return [] if remote is None else [dataclasses.replace(leaf_segment(path, text), opaque_media=remote)]
    if media.text is None:
        return [Segment("unknown", "metadata", text, path, opaque_media=media.media_type)]
    role: Role = "tool" if path[:1] and path[0] in _TOOL_KEYS else "unknown"
    return [Segment("unknown", "metadata", text, path), Segment(role, "document", media.text, (*path, DECODED_MARK))]


def _key(path: JsonPath, key: str) -> Segment:
    """An object key is text too (a secret can be a key): a one-token key is read as a query parameter is, for
    secrets, patterned personal data (an e-mail, a phone number) and, when it joins words, injection; read as
    metadata, an address or an instruction as a key reached the provider unread (an outside review)."""
    if len(key) <= _TOKEN_CHARS and not any(c.isspace() for c in key):
        return Segment("unknown", "parameter", key, path)
    return Segment("unknown", "document", key, path)


def _refuse_token_ids(body: Any) -> None:
    """`MalformedBody` when a request gives the model token ids instead of text (a completion's `prompt`, an
    embedding's `input`, Ollama's `context`, vLLM's `prompt_token_ids`), or precomputed embeddings: the upstream
    reads them as text that no scanner could (outside reviews: an injection as ids reached the model, audited as
    allowed; then as floats, which vLLM reads as ids, and mixed with strings, as llama.cpp takes them)."""
    if not isinstance(body, dict):
        return
    for key in _TOKEN_ID_KEYS:
        value = body.get(key)
        if isinstance(value, list) and any(is_number(item) or _holds_number(item) for item in value):
            raise MalformedBody(f"`{key}` gives the model token ids, which Wardgate cannot read: send the text instead")
    for key in _EMBEDDING_KEYS:
        if body.get(key) is not None:
            raise MalformedBody(f"`{key}` gives the model embeddings, which Wardgate cannot read: send text instead")


def refuse_token_ids_in(request: Any, documents: tuple[Any, ...]) -> None:
    """`_refuse_token_ids` for a JSON request body (None: none), and for the `body` of each batch request line in
    `documents`, the JSON it holds or uploads (`custom_id` and `url` beside it): those requests run later, unseen.
    Other uploaded JSON is data."""
    _refuse_token_ids(request)
    for document in documents:
        if isinstance(document, dict) and "custom_id" in document and "url" in document:
            _refuse_token_ids(document.get("body"))


def _holds_number(value: Any) -> bool:
    return isinstance(value, list) and any(is_number(item) for item in value)


def is_structural(path: JsonPath) -> bool:
    """A field whose values are identifiers or enums (`id`, `type`, `model`, ...), not text a model wrote."""
    return bool(path) and path[-1] in _STRUCTURAL_KEYS


def leaf_segment(path: JsonPath, text: str) -> Segment:
    """A string no adapter maps, by its place: an identifier (`model`, `id`, ...) is metadata, a tool's text a
    definition, anything else a document. A role no chat template knows is a document too: Ollama's and vLLM's
    templates write it into the prompt as it is, and read as metadata it was scanned for secrets only (an outside
    review sent an e-mail address as a role)."""
    unknown_role = path[-1:] == ("role",) and text.lower() not in _KNOWN_ROLES
    if is_structural(path) and len(text) <= _TOKEN_CHARS and not any(c.isspace() for c in text) and not unknown_role:
        return Segment("unknown", "metadata", text, path)
    if path[:1] and path[0] in _TOOL_KEYS:
        return Segment("tool", "tool_definition", text, path)
    return Segment("unknown", "document", text, path)


def byte_leaves(value: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    """(path + BYTES_MARK, text) for every `bytes` list of byte values (a logprob's: clients decode them into the
    answer's text; an upstream may put other text there than in its `token`)."""
    if len(path) > _MAX_DEPTH:
        raise MalformedBody(f"the body is nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "bytes" and (text := byte_text(item)) is not None:
                yield (*path, key, BYTES_MARK), text
            else:
                yield from byte_leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from byte_leaves(item, (*path, index))


def string_leaves(value: Any, path: JsonPath, *, keys: bool = False) -> Iterator[tuple[JsonPath, str]]:
    """(path, string) for every string in a JSON value, and with `keys` every object key too (its path ends in
    `KEY_MARK, key`); deeper than `_MAX_DEPTH` is a `MalformedBody`."""
    if len(path) > _MAX_DEPTH:
        raise MalformedBody(f"the body is nested deeper than {_MAX_DEPTH} levels")
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if keys:
                yield (*path, KEY_MARK, key), key
            yield from string_leaves(item, (*path, key), keys=keys)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_leaves(item, (*path, index), keys=keys)
