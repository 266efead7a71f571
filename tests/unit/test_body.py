"""Bodies read by what they are: encodings told by their bytes, text with control characters, ambiguous JSON."""

from __future__ import annotations

import json

import pytest

from wardgate.formats import MalformedBody
from wardgate.formats.body import read_body

DOC = {"messages": [{"role": "user", "content": "hello"}]}


@pytest.mark.parametrize(
    "encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]
)
def test_json_in_any_unicode_encoding_is_json_whatever_the_content_type(encoding):
    body = read_body(json.dumps(DOC).encode(encoding), "application/octet-stream")
    assert body is not None
    assert (body.kind, body.value) == ("json", DOC)


def test_a_control_character_does_not_make_a_text_binary():
    body = read_body(b"\x1b[0mhello", "text/plain")
    assert body is not None
    assert body.texts == ((("$text",), "\x1b[0mhello"),)


def test_bytes_that_decode_as_no_text_are_unreadable():
    assert read_body(bytes(range(256)) * 4, "application/octet-stream") is None


@pytest.mark.parametrize(
    "text",
    [json.dumps(DOC) + " trailing", '{"a": 1}\n{"b": 2}\nnot json'],
    ids=["data after the JSON value", "JSON Lines that stop being JSON"],
)
def test_json_an_upstream_could_read_differently_is_malformed(text):
    with pytest.raises(MalformedBody):
        read_body(text.encode(), "text/plain")


@pytest.mark.parametrize("text", ["a plain prompt", "[INST] hi", "{name} is a template", '"quoted" words'])
def test_text_that_merely_starts_like_json_is_text(text):
    body = read_body(text.encode(), "text/plain")
    assert body is not None
    assert body.kind == "text"
