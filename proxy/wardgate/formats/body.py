"""Request bodies read by what they are, never by what their Content-Type claims.

Upstreams differ in whether they honour Content-Type, so a body is tried as JSON, JSON Lines, multipart, a form and
plain text in that order; what none of them reads is `None` (the caller refuses it when configured to). JSON is
read strictly: a duplicate key (the upstream may read the other value) or nesting deeper than `MAX_DEPTH` is a
`MalformedBody`, never a silent choice. Structure is counted before anything is parsed: a body of more JSON nodes,
form fields or multipart parts than `max_nodes` is `TooComplex`, refused before it costs a parse (a 10 MB body of
300,000 keys would otherwise cost seconds and a gigabyte on its way to every later stage).
"""

from __future__ import annotations

import copy
import dataclasses
import email.message
import email.parser
import email.policy
import json
import re
from collections.abc import Iterator
from typing import Any, Literal
from urllib.parse import parse_qsl

from wardgate.formats.base import MalformedBody, TooComplex
from wardgate.formats.generic_json import string_leaves
from wardgate.formats.media import DECODED_MARK, file_bytes
from wardgate.models import JsonPath
from wardgate.quoting import quoted
from wardgate.surrogates import json_text

__all__ = [
    "CONTENT",
    "DEFAULT_MAX_NODES",
    "MAX_DEPTH",
    "PART_HEADER",
    "Body",
    "OpaqueFile",
    "TooComplex",
    "boundary_of",
    "delimiter",
    "dump_body",
    "nodes_over",
    "printable_runs",
    "read_body",
    "strict_json",
]

# In a text's path, what follows this marker is a multipart part's header (its name, then the piece's place).
PART_HEADER = "$header"
# ...and what follows this one is the part's content: its texts' paths never meet its headers' (a JSON key inside a
# part spelt like a header's path made its text a header's: a review's finding, twice).
CONTENT = "$content"

MAX_DEPTH = 64
# Far above real traffic: a 1,000-turn agent conversation with 20 tools is ~8,000 nodes (bench/hostile_structure.py).
DEFAULT_MAX_NODES = 100_000
BodyKind = Literal["empty", "json", "jsonl", "multipart", "form", "text"]
# Control characters (Unicode category Cc) other than tab, newline, form feed and carriage return.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
# A JSON string literal, escapes included (an unrolled loop: runs of plain characters are matched in C).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_STRING_BYTES = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


# Printable runs long enough to hold a key, in bytes no text reader takes: ASCII, and ASCII in UTF-16 or UTF-32 of
# either byte order (the patterns cannot match inside each other's text).
_RUNS = (
    (re.compile(rb"[\x20-\x7e]{12,}"), "ascii"),
    (re.compile(rb"(?:[\x20-\x7e]\x00){12,}"), "utf-16-le"),
    (re.compile(rb"(?:\x00[\x20-\x7e]){12,}"), "utf-16-be"),
    (re.compile(rb"(?:[\x20-\x7e]\x00\x00\x00){12,}"), "utf-32-le"),
    (re.compile(rb"(?:\x00\x00\x00[\x20-\x7e]){12,}"), "utf-32-be"),
)


def printable_runs(content: bytes) -> list[str]:
    """The text `strings` would find in binary bytes."""
    return [m.group().decode(encoding) for pattern, encoding in _RUNS for m in pattern.finditer(content)]


def _structural(text: str | bytes) -> int:
    if isinstance(text, str):
        return text.count(",") + text.count("[") + text.count("{")
    return text.count(b",") + text.count(b"[") + text.count(b"{")


def nodes_over(text: str | bytes, limit: int) -> int | None:
    """None when a JSON text (or several, as in JSON Lines) holds at most `limit` values (array elements and object
    members), else how many it holds at least. Counted on the raw text, each `,`, `[` and `{` outside strings
    standing for at most one value, and exactly only when a cheaper bound cannot tell."""
    if _structural(text) <= limit:  # commas inside strings counted too: never too few
        return None
    # Object members as `json.dumps` writes them (`"key":`): never too many, and enough for most hostile bodies.
    members = (
        text.count('":') - text.count('\\":') if isinstance(text, str) else text.count(b'":') - text.count(b'\\":')
    )
    if members > limit:
        return members
    exact = _structural(_STRING.sub("", text) if isinstance(text, str) else _STRING_BYTES.sub(b"", text))
    return exact if exact > limit else None


def _check_nodes(text: str | bytes, limit: int) -> None:
    if (nodes := nodes_over(text, limit)) is not None:
        raise TooComplex(f"the body holds at least {nodes} JSON values; the limit is {limit}")


@dataclasses.dataclass(frozen=True, slots=True)
class OpaqueFile:
    """A file in a body that is no text (a multipart part's audio or image): its type, and its printable runs (read
    for secrets, as `strings` finds them)."""

    path: JsonPath
    media_type: str
    strings: str

    @property
    def prose(self) -> str:
        """The runs that read as sentences (a few words and spaces): text put behind a file's signature to pass as
        that file (an outside review: an injection after a WAV header went upstream unread). Samples and
        compressed data do not make such runs by chance."""
        return "\n".join(run for run in self.strings.split("\n") if len(run) >= 20 and run.count(" ") >= 3)


@dataclasses.dataclass(frozen=True, slots=True)
class Body:
    """A readable body: its JSON value (json: the document; jsonl: the list of lines) or its text pieces, and the
    files in it that are no text."""

    kind: BodyKind
    value: Any = None
    texts: tuple[tuple[JsonPath, str], ...] = ()
    files: tuple[OpaqueFile, ...] = ()
    parts_json: tuple[Any, ...] = ()  # a multipart body's JSON documents and JSON Lines, as values (a batch file's)
    # Which of `texts` are a part's header pieces: told by where they were read, not by their path, which a JSON key
    # inside a part could spell the same (a review's finding: `{"$header": ...}` hid a value from the PII scanner).
    header_paths: frozenset[JsonPath] = frozenset()

    @property
    def is_json(self) -> bool:
        return self.kind in ("json", "jsonl")

    @property
    def documents(self) -> tuple[Any, ...]:
        """Every JSON value the body holds: the document, each line, each such value inside its parts."""
        if self.value is None:  # a part's body read on its own keeps its kind, not its value (`_under`)
            return self.parts_json
        own = (self.value,) if self.kind == "json" else tuple(self.value) if self.kind == "jsonl" else ()
        return own + self.parts_json


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedBody(f"the key {quoted(key)} appears twice in one object; its meaning would be ambiguous")
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
        # UTF-16/32 text misread as UTF-8 is full of NULs. Almost any bytes decode as UTF-16: read that way, a text
        # must also be free of control characters; a UTF-8 text may hold some (an escape sequence).
        if "\x00" not in text and (candidate.startswith("utf-8") or _CONTROL.search(text) is None):
            return text
    return None


def _jsonl(text: str, max_nodes: int) -> list[Any] | None:
    """JSON Lines: two or more lines, each a JSON value. Lines that start as JSON Lines and then stop being JSON are
    refused, not read as plain text (the upstream would read those lines' escapes; the text scan would not). Each
    line is a value: past `max_nodes` lines, `TooComplex` before they are split (6.4 million lines of `11`, which hold
    no comma or bracket the node count sees, took 20 s and +490 MB to read: an outside review's finding)."""
    if (count := text.count("\n")) >= max_nodes:
        raise TooComplex(f"the body holds more than {count} lines of JSON; the limit is {max_nodes} values")
    # Lines end at "\n" only, as JSON Lines readers split them (Go's bufio.Scanner, Ollama's clients): a raw U+0085
    # or U+2028 inside a string is no line break (str.splitlines broke an honest Ollama answer there).
    lines = [line for line in text.split("\n") if line.strip()]
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


def _one_boundary(content_type: str) -> None:
    """`MalformedBody` unless a multipart type names its boundary once, plainly: with two (`boundary=A; boundary=B`)
    or an RFC 2231 one (`boundary*=''A; boundary=B`) Python's email parser and python-multipart (Starlette, FastAPI)
    split the body at different lines, and an attack in a field one of them reads was an audio file to the other
    (an outside review)."""
    names = [parameter.partition("=")[0].strip().lower() for parameter in content_type.split(";")[1:]]
    boundaries = [name for name in names if name.startswith("boundary")]
    if len(boundaries) > 1 or boundaries[:1] not in ([], ["boundary"]):
        raise MalformedBody("the multipart body names its boundary more than once, or not plainly")


def _multipart(raw: bytes, content_type: str, max_nodes: int) -> Body | None:
    _one_boundary(content_type)
    boundary = boundary_of(content_type)
    if boundary is not None and raw.count(b"--" + boundary.encode("latin-1", "replace")) > max_nodes:
        raise TooComplex(f"the body holds more than {max_nodes} multipart parts; the limit is {max_nodes}")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + raw
    )
    if not message.is_multipart():
        return None
    _delimited_as_servers_read_it(raw, message)
    return _parts(message, (), max_nodes)


def boundary_of(content_type: str) -> str | None:
    """The boundary a multipart Content-Type names (None: none)."""
    header = email.message.Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    return boundary if isinstance(boundary, str) else None


def delimiter(boundary: str) -> re.Pattern[bytes]:
    """RFC 2046's delimiter line: CRLF, `--`, the boundary (the close delimiter `--` more), padding, CRLF; the first
    one may open the body."""
    marker = re.escape(("--" + boundary).encode("latin-1", "replace"))
    return re.compile(rb"(?:\A|\r\n)" + marker + rb"(?:--)?[ \t]*(?:\r\n|\Z)")


def _delimited_as_servers_read_it(raw: bytes, message: email.message.Message) -> None:
    """`MalformedBody` when a boundary line is not set off by CRLF on both sides (RFC 2046): Python's email parser
    also splits at a bare LF or CR, where python-multipart, busboy and Go read on, so a field a server reads whole
    held a new part's headers for Wardgate (an outside review: its e-mail address went unmasked)."""
    for boundary in {part.get_boundary() for part in message.walk() if part.is_multipart()} - {None}:
        marker = re.escape(("--" + str(boundary)).encode("latin-1", "replace"))
        lenient = re.compile(rb"(?:\A|\r\n|\n|\r)" + marker + rb"(?:--)?[ \t]*(?=\r\n|\n|\r|\Z)")
        if len(lenient.findall(raw)) != len(delimiter(str(boundary)).findall(raw)):
            raise MalformedBody("a multipart boundary line is not set off by CRLF: parsers would split it differently")


def _parts(message: email.message.Message, path: JsonPath, max_nodes: int) -> Body | None:
    """Every text of a multipart message, to any depth: the preamble and epilogue, every part's headers (names and
    parameters can carry text), and its content read like a body, or as a file when it is none (audio for a
    transcription: opaque, for the policy's media rules); None when some part cannot be read at all."""
    texts: list[tuple[JsonPath, str]] = [
        ((*path, name), value) for name in ("$preamble", "$epilogue") if (value := getattr(message, name[1:]))
    ]
    files: list[OpaqueFile] = []
    documents: list[Any] = []
    headers: set[JsonPath] = set()
    for index, part in enumerate(message.get_payload() if message.is_multipart() else []):
        where = (*path, "$part", index)
        pieces = [
            ((*where, PART_HEADER, name, number), piece)
            for name, value in part.raw_items()  # as sent: the parsed value drops a parameter it cannot read
            for number, piece in enumerate(_header_pieces(value))
        ]
        texts += pieces
        headers.update(path for path, _ in pieces)
        if part.is_multipart():
            _one_boundary(next((value for name, value in part.raw_items() if name.lower() == "content-type"), ""))
            inner = [_parts(part, where, max_nodes)]
        elif part.get_content_maintype() == "message":
            inner = [_message_part(part, (*where, CONTENT), max_nodes)]
        else:
            inner = [_part_content(payload, part.get_content_type(), (*where, CONTENT, *sub), max_nodes)
                     for sub, payload in _payloads(part)]  # fmt: skip
        for read in inner:
            if read is None:
                return None
            texts += read.texts
            files += read.files
            documents += read.documents
            headers |= read.header_paths
    return Body("multipart", texts=tuple(texts), files=tuple(files), parts_json=tuple(documents),
                header_paths=frozenset(headers))  # fmt: skip


def _part_content(payload: bytes, content_type: str, where: JsonPath, max_nodes: int) -> Body | None:
    """A leaf part's content, its paths under `where`: read like a body, else as a file (text when it mostly is)."""
    read = read_body(payload, content_type, max_nodes)
    if read is not None:
        return _under(where, read)
    media = file_bytes(payload, content_type)
    if media.text is not None:
        return Body("text", texts=(((*where, "$text"), media.text),))
    return Body("text", files=(OpaqueFile(where, media.media_type, "\n".join(printable_runs(payload))),))


def _under(where: JsonPath, read: Body) -> Body:
    """A part's body read on its own, with its texts' and files' paths under the part's."""
    texts = tuple(((*where, *sub), text) for sub, text in _texts_of(read))
    files = tuple(dataclasses.replace(file, path=(*where, *file.path)) for file in read.files)
    headers = frozenset((*where, *path) for path in read.header_paths)
    return Body(read.kind, texts=texts, files=files, parts_json=read.documents, header_paths=headers)


def _payloads(part: email.message.Message) -> list[tuple[JsonPath, bytes]]:
    """A part's content as servers read it: its bytes as sent (form parsers ignore Content-Transfer-Encoding, which
    RFC 7578 deprecates for forms), and those bytes decoded as the header says when it changes them (what mail-style
    parsers read). An outside review: `SGk=` then an attack under `base64` was judged as "Hi", read as the attack."""
    as_sent = copy.copy(part)  # a copy's header list is its own once one is deleted
    del as_sent["content-transfer-encoding"]
    raw = as_sent.get_payload(decode=True)  # undecoded then; `decode=False` would replace bytes that are not ASCII
    decoded = part.get_payload(decode=True)
    sent = raw if isinstance(raw, bytes) else b""
    if isinstance(decoded, bytes) and decoded != sent:
        return [((), sent), ((DECODED_MARK,), decoded)]
    return [((), sent)]


# A header value's pieces between semicolons (a quoted string whole), each `name=value` as its name and its value.
_HEADER_PIECE = re.compile(r'(?:[^;"]|"(?:[^"\\]|\\.)*")+')


def _header_pieces(value: str) -> list[str]:
    """The texts of a part's header: `form-data; name="prompt"` is `form-data`, `name` and `prompt` (read whole, it
    read to the injection model as a sentence). Every character but the separators and quotes is in some piece."""
    pieces = []
    for piece in _HEADER_PIECE.findall(value):
        name, equals, rest = piece.partition("=")
        pieces += [name.strip(), rest.strip().strip('"')] if equals else [piece.strip()]
    return [piece for piece in pieces if piece]


def _message_part(part: email.message.Message, where: JsonPath, max_nodes: int) -> Body | None:
    """A `message/*` part: its raw bytes, read like a body (a mail, or whatever text it really holds)."""
    raw = part.as_bytes() if not isinstance(part.get_payload(), str) else str(part.get_payload()).encode()
    read = read_body(raw, "text/plain", max_nodes)
    return None if read is None else _under(where, read)


def _texts_of(body: Body) -> Iterator[tuple[JsonPath, str]]:
    yield from string_leaves(body.value, ()) if body.is_json else body.texts


def read_body(raw: bytes, content_type: str = "", max_nodes: int = DEFAULT_MAX_NODES) -> Body | None:
    """What a body is, by its bytes; None when it is none of the kinds Wardgate can read. `TooComplex` when it holds
    more than `max_nodes` JSON values (every line of JSON Lines together), form fields or multipart parts."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not raw.strip():
        return Body("empty")
    text = _as_text(raw)
    if (text is not None and text.lstrip()[:1] in ("{", "[", '"')) or "json" in media:
        _check_nodes(text if text is not None else raw, max_nodes)
        try:
            return Body("json", strict_json(raw))
        except MalformedBody:
            raise
        except ValueError:
            if text is not None and (lines := _jsonl(text, max_nodes)) is not None:
                return Body("jsonl", lines)
            if "json" in media or (text is not None and _trailing_data(text)):
                raise MalformedBody("the body is not valid JSON (or has data after its JSON value)") from None
    if media.startswith("multipart/"):
        return _multipart(raw, content_type, max_nodes)
    if text is None:
        return None
    if media == "application/x-www-form-urlencoded":
        if text.count("&") >= max_nodes:
            raise TooComplex(f"the body holds more than {max_nodes} form fields; the limit is {max_nodes}")
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
