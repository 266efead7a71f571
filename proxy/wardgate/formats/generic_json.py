"""Any other JSON body on an LLM host: every string leaf becomes a segment, so secrets are still found."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from wardgate.formats.base import model_and_stream
from wardgate.models import Exchange, JsonPath, Segment

__all__ = ["parse_unparsed"]

_MAX_DEPTH = 64


def parse_unparsed(body: Any, provider: str) -> Exchange:
    """An `unparsed` exchange: no roles known, but every string in the body is scannable and rewritable."""
    model, stream = model_and_stream(body) if isinstance(body, dict) else (None, False)
    return Exchange(provider, "unparsed", model, stream, list(_leaves(body, ())))


def _leaves(value: Any, path: JsonPath) -> Iterator[Segment]:
    if len(path) > _MAX_DEPTH:
        return
    if isinstance(value, str):
        yield Segment("unknown", "document", value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
