"""Any other JSON body on an LLM host: every string leaf becomes a segment, so secrets are still found."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from wardgate.formats.base import model_and_stream
from wardgate.models import Exchange, JsonPath, Segment

__all__ = ["parse_unparsed", "string_leaves"]

_MAX_DEPTH = 64


def parse_unparsed(body: Any, provider: str) -> Exchange:
    """An `unparsed` exchange: no roles known, but every string in the body is scannable and rewritable."""
    model, stream = model_and_stream(body) if isinstance(body, dict) else (None, False)
    segments = [Segment("unknown", "document", text, path) for path, text in string_leaves(body, ())]
    return Exchange(provider, "unparsed", model, stream, segments)


def string_leaves(value: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    """(path, string) for every string in a JSON value, depth-limited."""
    if len(path) > _MAX_DEPTH:
        return
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from string_leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from string_leaves(item, (*path, index))
