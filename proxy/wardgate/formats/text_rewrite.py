"""Masks in a body that is no JSON document: a plain-text body, and the text and JSON parts of a multipart upload
(a transcription's `prompt`, a batch file's requests). Every other byte stays as sent.

Only what can be put back exactly is rewritten: a part's own text or JSON content, sent as UTF-8 and without a
Content-Transfer-Encoding. The result is read again as the upstream would read it, and used only if it holds the
same texts as before, but the masked ones: anything else (a part header to mask, a nested multipart, a body this
module splits differently from the reader) is `Unrewritable`, and the request is refused as before.
"""

from __future__ import annotations

import email.message
import itertools
import re
from collections.abc import Mapping

from wardgate.formats.base import apply_rewrites
from wardgate.formats.body import Body, dump_body, read_body
from wardgate.models import JsonPath

__all__ = ["Unrewritable", "rewrite_texts"]

_PART = "$part"
_TEXT = "$text"


class Unrewritable(ValueError):
    """The masks cannot be put into this body without changing what else it says."""


def rewrite_texts(raw: bytes, content_type: str, read: Body, rewrites: Mapping[JsonPath, str], max_nodes: int) -> bytes:
    """`raw` with each rewritten text replaced; `Unrewritable` when that cannot be done exactly."""
    if read.kind == "text" and set(rewrites) == {(_TEXT,)} and _utf8(raw) is not None:
        new = rewrites[(_TEXT,)].encode()
    elif read.kind == "multipart" and not read.header_paths & set(rewrites):
        new = _multipart(raw, _boundary(content_type), rewrites, max_nodes)
    else:
        raise Unrewritable(f"masks in a {read.kind} body, or in a part's header")
    _check(new, content_type, read, rewrites, max_nodes)
    return new


def _boundary(content_type: str) -> bytes:
    header = email.message.Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise Unrewritable("a multipart body without a boundary")
    return boundary.encode("latin-1", "replace")


def _multipart(raw: bytes, boundary: bytes, rewrites: Mapping[JsonPath, str], max_nodes: int) -> bytes:
    by_part: dict[int, dict[JsonPath, str]] = {}
    for path, text in rewrites.items():
        if len(path) < 3 or path[0] != _PART or not isinstance(path[1], int) or path[2] == _PART:
            raise Unrewritable("a mask outside a part's own content")
        by_part.setdefault(path[1], {})[path[2:]] = text
    # RFC 2046: a delimiter is CRLF, `--`, the boundary (the close delimiter `--` more), padding, CRLF; the first
    # one may open the body.
    delimiter = re.compile(rb"(?:\A|\r\n)--" + re.escape(boundary) + rb"(?:--)?[ \t]*(?:\r\n|\Z)")
    marks = list(delimiter.finditer(raw))
    pieces, last = [], 0
    for index, (opening, closing) in enumerate(itertools.pairwise(marks)):
        if index not in by_part:
            continue
        head_end = raw.find(b"\r\n\r\n", opening.end(), closing.start())
        if raw.startswith(b"\r\n", opening.end()):
            head_end = opening.end() - 2  # a part with no headers
        if head_end == -1:
            raise Unrewritable("a part without a header block")
        start = head_end + 4
        head = raw[opening.end() : head_end]
        pieces += [raw[last:start], _content(head, raw[start : closing.start()], by_part.pop(index), max_nodes)]
        last = closing.start()
    if by_part:
        raise Unrewritable("a part this reading did not find")
    return b"".join([*pieces, raw[last:]])


def _content(head: bytes, payload: bytes, rewrites: dict[JsonPath, str], max_nodes: int) -> bytes:
    """A part's new content: its text, or its JSON (Lines) with the masks applied."""
    part = email.message_from_bytes(head + b"\r\n\r\n")
    if part.get("content-transfer-encoding") is not None or _utf8(payload) is None:
        raise Unrewritable("a part sent encoded, or not as UTF-8")
    if set(rewrites) == {(_TEXT,)}:
        return rewrites[(_TEXT,)].encode()
    read = read_body(payload, part.get_content_type(), max_nodes)
    if read is None or not read.is_json:
        raise Unrewritable("a part whose text is not JSON")
    return dump_body(Body(read.kind, apply_rewrites(read.value, rewrites)))


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


def _check(new: bytes, content_type: str, read: Body, rewrites: Mapping[JsonPath, str], max_nodes: int) -> None:
    """The new body, read as before, holds the old texts but the masked ones, and the same files."""
    again = read_body(new, content_type, max_nodes)
    expected = [(path, rewrites.get(path, text)) for path, text in read.texts]
    if (
        again is None
        or list(again.texts) != expected
        or (again.files, again.header_paths) != (read.files, read.header_paths)
    ):
        raise Unrewritable("the rewritten body does not read as the masked original")
