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
import json
from collections.abc import Mapping
from typing import Any

from wardgate.formats.base import apply_rewrites
from wardgate.formats.body import CONTENT, Body, boundary_of, delimiter, dump_body, read_body
from wardgate.models import JsonPath

__all__ = ["Unrewritable", "rewrite_texts"]

_PART = "$part"
_TEXT = "$text"
_IDENTITY_ENCODINGS = ("7bit", "8bit", "binary")  # transfer encodings that leave the bytes as they are


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


def _boundary(content_type: str) -> str:
    if not (boundary := boundary_of(content_type)):
        raise Unrewritable("a multipart body without a boundary")
    return boundary


def _multipart(raw: bytes, boundary: str, rewrites: Mapping[JsonPath, str], max_nodes: int) -> bytes:
    by_part: dict[int, dict[JsonPath, str]] = {}
    for path, text in rewrites.items():
        if len(path) < 4 or path[0] != _PART or not isinstance(path[1], int) or path[2] != CONTENT:
            raise Unrewritable("a mask outside a part's own content")
        by_part.setdefault(path[1], {})[path[3:]] = text
    marks = list(delimiter(boundary).finditer(raw))
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
    """A part's new content, read as it was read: its text, or its JSON (Lines) with the masks applied."""
    part = email.message_from_bytes(head + b"\r\n\r\n")
    encoding = str(part.get("content-transfer-encoding", "8bit")).strip().lower()
    charset = str(part.get_content_charset("utf-8")).lower()
    if encoding not in _IDENTITY_ENCODINGS or charset not in ("utf-8", "us-ascii") or _utf8(payload) is None:
        raise Unrewritable("a part sent encoded, or not as UTF-8")
    read = read_body(payload, part.get_content_type(), max_nodes)
    if read is not None and read.kind == "text" and set(rewrites) == {(_TEXT,)}:
        return rewrites[(_TEXT,)].encode()
    if read is None or not read.is_json:
        raise Unrewritable("a part whose content is neither one text nor JSON")
    new = dump_body(Body(read.kind, apply_rewrites(read.value, rewrites)))
    # Written anew, a number may not come back as it was (`1e400` becomes `Infinity`): then not at all.
    if _with_numbers_as_sent(new) != apply_rewrites(_with_numbers_as_sent(payload), rewrites):
        raise Unrewritable("a JSON part whose numbers would not be written back as they came")
    return new


def _with_numbers_as_sent(content: bytes) -> Any:
    """A JSON document, or JSON Lines as a list, with every number as the text it was sent as."""
    keep = {"parse_float": str, "parse_int": str, "parse_constant": str}
    try:
        return json.loads(content, **keep)  # type: ignore[arg-type]
    except ValueError:
        lines = [line for line in content.decode().split("\n") if line.strip()]
        return [json.loads(line, **keep) for line in lines]  # type: ignore[arg-type]


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
