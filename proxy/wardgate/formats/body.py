"""Request bodies read by what they are, never by what their Content-Type claims.

Upstreams differ in whether they honour Content-Type, so a body is tried as JSON, JSON Lines, multipart, a form and
plain text in that order; what none of them reads is `None` (the caller refuses it when configured to). JSON is
read strictly: a duplicate key (the upstream may read the other value) or nesting deeper than `MAX_DEPTH` is a
`MalformedBody`, never a silent choice.
"""

from __future__ import annotations

import dataclasses
import email.message
import email.parser
import email.policy
import json
from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import parse_qsl

from wardgate.formats.base import MalformedBody
from wardgate.formats.generic_json import string_leaves
from wardgate.models import JsonPath
from wardgate.surrogates import json_text

__all__ = ["MAX_DEPTH", "Body", "dump_body", "read_body", "strict_json"]

MAX_DEPTH = 64
BodyKind = Literal["empty", "json", "jsonl", "multipart", "form", "text"]


@dataclasses.dataclass(frozen=True, slots=True)
class Body:
    """A readable body: its JSON value (json: the document; jsonl: the list of lines) or its text pieces."""

    kind: BodyKind
    value: Any = None
    texts: tuple[tuple[JsonPath, str], ...] = ()

    @property
    def is_json(self) -> bool:
        return self.kind in ("json", "jsonl")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedBody(f"the key {key[:40]!r} appears twice in one object; its meaning would be ambiguous")
        result[key] = value
    return result


def _depth(value: Any) -> int:
    """Nesting depth without recursion (a hostile body must not cost a stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def strict_json(data: bytes | str) -> Any:
    """JSON with no duplicate keys and at most `MAX_DEPTH` levels; ValueError when it is not JSON at all."""
    try:
        value = json.loads(data, object_pairs_hook=_no_duplicates)
    except RecursionError as exc:
        raise MalformedBody(f"the body is nested deeper than {MAX_DEPTH} levels") from exc
    if _depth(value) > MAX_DEPTH:
        raise MalformedBody(f"the body is nested deeper than {MAX_DEPTH} levels")
    return value


def _as_text(raw: bytes) -> str | None:
    """The body as text when it decodes: UTF-8, or UTF-16/32 with or without a byte-order mark (told apart by where
    the zero bytes of its first characters fall, as JSON's own rules do). Control characters do not make it binary:
    a text with an escape sequence in it is still a text a client reads."""
    encoding = "utf-8-sig" if raw[:3] == b"\xef\xbb\xbf" else json.detect_encoding(raw)
    for candidate in dict.fromkeys((encoding, "utf-8")):
        try:
            text = raw.decode(candidate)
        except UnicodeDecodeError:
            continue
        # UTF-16/32 text misread as UTF-8 is full of NULs; anything else that decodes is text.
        if "\x00" not in text:
            return text
    return None


def _jsonl(text: str) -> list[Any] | None:
    """JSON Lines: two or more lines, each a JSON value. Lines that start as JSON Lines and then stop being JSON are
    refused, not read as plain text (the upstream would read those lines' escapes; the text scan would not)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        return None
    try:
        first = strict_json(lines[0])
    except ValueError:
        return None
    if not isinstance(first, dict | list):
        return None
    values = [first]
    for number, line in enumerate(lines[1:], start=2):
        try:
            values.append(strict_json(line))
        except ValueError:
            raise MalformedBody(f"line {number} of these JSON Lines is not JSON") from None
    return values


def _trailing_data(text: str) -> bool:
    """A JSON object or array followed by more than whitespace: some parsers read the first value and ignore the
    rest (a quoted word that opens a sentence is still a sentence)."""
    try:
        value, end = json.JSONDecoder().raw_decode(text.lstrip())
    except ValueError:
        return False
    return isinstance(value, dict | list) and bool(text.lstrip()[end:].strip())


def _multipart(raw: bytes, content_type: str) -> Body | None:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + raw
    )
    if not message.is_multipart():
        return None
    texts = _part_texts(message, ())
    return Body("multipart", texts=tuple(texts)) if texts is not None else None


def _part_texts(message: email.message.Message, path: JsonPath) -> list[tuple[JsonPath, str]] | None:
    """Every text of a multipart message, to any depth: the preamble and epilogue, every part's headers (names and
    parameters can carry text), and its content read like a body; None when some part cannot be read."""
    texts: list[tuple[JsonPath, str]] = [
        ((*path, name), value) for name in ("$preamble", "$epilogue") if (value := getattr(message, name[1:]))
    ]
    for index, part in enumerate(message.get_payload() if message.is_multipart() else []):
        where = (*path, "$part", index)
        texts += [((*where, "$header", name), str(value)) for name, value in part.items()]
        if part.is_multipart() or part.get_content_maintype() == "message":
            inner = _part_texts(part, where) if part.is_multipart() else _message_part(part, where)
        else:
            payload = part.get_payload(decode=True)
            read = read_body(payload if isinstance(payload, bytes) else b"", part.get_content_type())
            inner = None if read is None else [((*where, *sub), text) for sub, text in _texts_of(read)]
        if inner is None:
            return None
        texts += inner
    return texts


def _message_part(part: email.message.Message, where: JsonPath) -> list[tuple[JsonPath, str]] | None:
    """A `message/*` part: its raw bytes, read like a body (a mail, or whatever text it really holds)."""
    raw = part.as_bytes() if not isinstance(part.get_payload(), str) else str(part.get_payload()).encode()
    read = read_body(raw, "text/plain")
    return None if read is None else [((*where, *sub), text) for sub, text in _texts_of(read)]


def _texts_of(body: Body) -> Iterator[tuple[JsonPath, str]]:
    yield from string_leaves(body.value, ()) if body.is_json else body.texts


def read_body(raw: bytes, content_type: str = "") -> Body | None:
    """What a body is, by its bytes; None when it is none of the kinds Wardgate can read."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not raw.strip():
        return Body("empty")
    text = _as_text(raw)
    if (text is not None and text.lstrip()[:1] in ("{", "[", '"')) or "json" in media:
        try:
            return Body("json", strict_json(raw))
        except MalformedBody:
            raise
        except ValueError:
            if text is not None and (lines := _jsonl(text)) is not None:
                return Body("jsonl", lines)
            if "json" in media or (text is not None and _trailing_data(text)):
                raise MalformedBody("the body is not valid JSON (or has data after its JSON value)") from None
    if media.startswith("multipart/"):
        return _multipart(raw, content_type)
    if text is None:
        return None
    if media == "application/x-www-form-urlencoded":
        fields = parse_qsl(text, keep_blank_values=True)
        pieces = [
            (("$form", index, role), value)
            for index, pair in enumerate(fields)
            for role, value in zip(("key", "value"), pair, strict=True)
        ]
        return Body("form", texts=tuple(pieces))
    return Body("text", texts=((("$text",), text),))


def dump_body(body: Body) -> bytes:
    """A JSON body's bytes after rewriting (JSON Lines stay one document per line)."""
    if body.kind == "jsonl":
        return b"\n".join(json_text(line).encode() for line in body.value) + b"\n"
    return json_text(body.value).encode()
