"""Files and media inside JSON bodies: base64 data URLs and the providers' base64 fields, read for what they hold.

A text file sent as `data:text/plain;base64,…` (OpenAI's `file_data`), an Anthropic `document` with a base64
source, an MCP embedded resource's `blob` or a Gemini `inlineData` part reaches the model as text: its decoded text is
judged like any other document, and a mask is written back encoded as it came. What decodes to no text (an image, a
PDF, audio) is content Wardgate cannot read: its segment names the type its bytes show (never the type the body
declares, which an attacker writes) so the policy can allow or refuse it.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

__all__ = [
    "BYTES_MARK",
    "DECODED_MARK",
    "EncodedMedia",
    "byte_text",
    "encoded_media",
    "file_bytes",
    "is_number",
    "reencode",
    "remote_media",
]

# A segment path ending in this marker holds the decoded text of the string at the path before it.
DECODED_MARK = "$decoded"
# A path ending in this marker holds the text of the byte list at the path before it (a logprob's `bytes`, which
# clients decode and join into the answer's text again): judged as that text, rewritten as its UTF-8 bytes.
BYTES_MARK = "$bytes"

# Fields that always hold a file's bytes: MCP resources' `blob`, OpenAI's `file_data`, Bedrock's `source.bytes`.
# `data` holds them beside a declared type (Anthropic sources, MCP image/audio contents, Gemini parts) or in an OpenAI
# `input_audio` part; OpenAI Realtime's `input_audio` content holds them in `audio`.
_FILE_KEYS = frozenset(("blob", "file_data", "bytes"))
_TYPE_KEYS = ("media_type", "mimeType", "mime_type")
_FILE_PARTS = frozenset(("input_audio",))
_NO_SPACE = str.maketrans("", "", " \t\r\n\f")
_OTHER_CHARS = re.compile(r"[^A-Za-z0-9+/]+")
_URLSAFE = str.maketrans("-_", "+/")
# Control characters other than tab, line feed, form feed and carriage return: what binary data is full of.
_BINARY = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_OCTET_STREAM = "application/octet-stream"
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")  # RFC 6838's names
# Text with a few bytes that are not text (a file signature in front of it): how many spots, and how much text.
_BAD_SPOTS, _MIN_TEXT_BYTES = 8, 16
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_REMOTE = ("http://", "https://", "gs://", "s3://", "bq://")
# Where a job reads what its model is given (Bedrock's model invocation and customization jobs, Vertex AI's batch
# prediction job; Vertex's `gcsSource.uris` is a list): bytes that reach a model without passing Wardgate. Keys are
# compared without case or `_`: Google's JSON parsers take proto field names too (`gcs_source`, `input_uri`).
_BATCH_INPUTS = frozenset(
    (("s3inputdataconfig", "s3uri"), ("bigquerysource", "inputuri"), ("gcssource", "uris"),
     ("trainingdataconfig", "s3uri"), ("validators", "s3uri"))
)  # fmt: skip
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_TAB_NEWLINE = str.maketrans("", "", "\t\r\n")
# Charsets a data URL may name that are read as such: the common ones, all linear to decode.
_CHARSETS = frozenset(
    ("utf-8-sig", "utf-8", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "ascii",
     "euc_kr", "cp949", "shift_jis", "euc_jp", "gb2312", "gbk", "gb18030", "big5", "koi8-r",
     *(f"iso8859-{n}" for n in range(1, 17)), *(f"cp{n}" for n in range(1250, 1259)))
)  # fmt: skip
# The first bytes of binary formats a provider reads as a file (offset, bytes, type); `_signature` adds MPEG audio.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (8, b"WEBP", "image/webp"),
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (4, b"ftypheic", "image/heic"),
    (4, b"ftypheix", "image/heic"),
    (4, b"ftypavif", "image/avif"),
    (8, b"WAVE", "audio/wav"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
    (4, b"ftypM4A", "audio/mp4"),
    (0, b"#!AMR", "audio/amr"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (4, b"ftyp", "video/mp4"),
    (0, b"PK\x03\x04", "application/zip"),
)


@dataclasses.dataclass(frozen=True, slots=True)
class EncodedMedia:
    """A base64 payload: the type its bytes show, and its text when it is text (else it is opaque)."""

    media_type: str
    text: str | None
    codec: str | None = None  # what the text was decoded with, to encode a mask back the same way


def encoded_media(body: Any, path: tuple[str | int, ...], value: str) -> EncodedMedia | None:
    """The file `value` (at `path` in `body`) carries, when it is a base64 data URL or a provider's file field; None
    for every other string (plain text stays what it is)."""
    found = _data_url(value)
    if found is not None:
        return _read(found.body, found.charset, (found.media_type,), percent_encoded=True)
    declared = _file_field(body, path) if path else None
    return None if declared is None else _read(value, None, declared, percent_encoded=False)


def _file_field(body: Any, path: tuple[str | int, ...]) -> tuple[str, ...] | None:
    """Every type the body declares for the file field at `path` (an attacker may declare two); None when `path` is
    not a file field: `blob`, `file_data` and `bytes` always are, `data` beside a declared type or in an
    `input_audio` part (its `format` declares the type), `audio` in a Realtime `input_audio` part."""
    key, parent = path[-1], _parent(body, path)
    declared = tuple(t for name in _TYPE_KEYS if isinstance(t := parent.get(name), str))
    if len(path) > 1 and path[-2] in _FILE_PARTS:
        declared += (f"audio/{parent.get('format')}",)
    if key in _FILE_KEYS or (key == "audio" and parent.get("type") == "input_audio"):
        return declared
    if key == "data" and declared and parent.get("type") != "text":  # Anthropic's plain-text source: as written
        return declared
    return None


def remote_media(body: Any, path: tuple[str | int, ...], value: str) -> str | None:
    """The media type of a file the provider fetches by URL itself (an image URL, an Anthropic `url` source, OpenAI's
    `file_url`, a Gemini `fileData`, a Bedrock `s3Location`, a batch job's input in a bucket or a table): content
    Wardgate never sees. `image/remote`, `application/remote` (...) unless the body declares a type; None for every
    other string."""
    if not path or not value.lstrip()[:8].lower().startswith(_REMOTE):
        return None
    # The last two keys, a list's index skipped (`gcsSource.uris[0]`, `validators[0].s3Uri`).
    if tuple(_folded(key) for key in path[-4:] if isinstance(key, str))[-2:] in _BATCH_INPUTS:
        return "application/remote"
    if not isinstance(path[-1], str):
        return None
    key, parent = path[-1], _parent(body, path)
    if key in ("fileUri", "file_uri"):  # Gemini: `fileData` declares its type
        declared = next((t for name in _TYPE_KEYS if isinstance(t := parent.get(name), str)), "application/remote")
        # What the caller wrote reaches the policy and the audit: a media type, or no type at all (an outside review
        # found an e-mail address recorded as `application/<address>`).
        return declared.strip().lower() if _MEDIA_TYPE.fullmatch(declared.strip().lower()) else _OCTET_STREAM
    if key == "image_url" or path[-2:] == ("image_url", "url"):  # OpenAI: chat's part, or a Responses input_image
        return "image/remote"
    if key == "file_url":
        return "application/remote"
    if key == "uri" and path[-2:-1] == ("s3Location",):  # Bedrock: a content block's file in S3
        return "image/remote" if "image" in path else "video/remote" if "video" in path else "application/remote"
    if key == "url" and parent.get("type") == "url" and len(path) > 2:  # Anthropic: a block's `source`
        block = _parent(body, path[:-1])
        return "image/remote" if block.get("type") == "image" else "application/remote"
    return None


def _folded(key: str) -> str:
    return key.replace("_", "").lower()


def reencode(original: str, text: str) -> str:
    """`text` in place of the payload `original` carried, encoded as `original` was (data URL or bare base64)."""
    found = _data_url(original)
    media = _read(found.body, found.charset, (), percent_encoded=True) if found else _read(original, None, (), False)
    codec = media.codec if media is not None and media.codec else "utf-8"
    payload = base64.b64encode(text.encode(codec, errors="replace")).decode("ascii")
    return (original[: len(original) - len(found.body)] if found else "") + payload


@dataclasses.dataclass(frozen=True, slots=True)
class _DataUrl:
    media_type: str
    charset: str | None
    body: str


def _data_url(value: str) -> _DataUrl | None:
    """A base64 data URL, read as WHATWG URL parsers read one: leading C0 controls and spaces skipped, tabs and line
    breaks ignored, `data:`, a header up to the first comma naming `;base64` among its parameters (anywhere), then
    the body."""
    start = len(value) - len(value.lstrip(_C0_AND_SPACE))
    comma = value.find(",", start)
    header = value[start : comma if comma >= 0 else start + 16].translate(_TAB_NEWLINE)
    if header[:5].lower() != "data:" or comma < 0:
        return None
    media_type, *params = (part.strip().lower() for part in header[5:].split(";"))
    if "base64" not in params:
        return None  # not base64: its percent-escapes are decoded by the scanners, like any text
    charset = next((p.split("=", 1)[1].strip("\"'") for p in params if p.startswith("charset=")), None)
    return _DataUrl(media_type or "text/plain", charset, value[comma + 1 :])


def _parent(body: Any, path: tuple[str | int, ...]) -> Mapping[str, Any]:
    node = body
    for key in path[:-1]:
        node = node[key]
    return node if isinstance(node, Mapping) else {}


def _read(payload: str, charset: str | None, declared: tuple[str, ...], percent_encoded: bool) -> EncodedMedia | None:
    """What a file field or base64 data URL holds, decoded as forgivingly as any provider might decode it; None only
    for an empty one.

    A data URL's body is percent-decoded first (as the Fetch standard says). Whitespace is dropped, URL-safe letters
    mapped and missing padding added; other characters (a dot every few letters, a `=` midway) are dropped, as lenient
    decoders do. Decoders that stop at the first `=`, or drop `-` and `_` instead of mapping them, read otherwise:
    those readings are tried too, and a reading that is text is judged as text. What is not text is opaque, named by
    what its bytes are."""
    if percent_encoded and "%" in payload:
        payload = unquote_to_bytes(payload).decode("latin-1")
    compact = payload.translate(_NO_SPACE)
    if not compact.strip("="):
        return None  # an empty file: nothing to read
    readings = _readings(compact)
    if not readings:
        return EncodedMedia(_OCTET_STREAM, None)
    return _as_file(readings, charset, declared)


def file_bytes(data: bytes, declared: str) -> EncodedMedia:
    """A file sent as its bytes (a multipart part no text reader takes), read as a decoded payload is: its text when
    it is mostly text, else opaque, named by what its bytes are unless `declared` says another kind of file."""
    return _as_file([data], None, (declared,))


def _as_file(readings: list[bytes], charset: str | None, declared: tuple[str, ...]) -> EncodedMedia:
    if b"%PDF-" in readings[0][:1024]:  # PDF readers look this far; a PDF may be all ASCII, yet it is no text
        return EncodedMedia(_named("application/pdf", declared), None)
    for data in readings:
        text, codec = _text(data, charset)
        if text is not None:
            return EncodedMedia("text/plain", text, codec)
    return EncodedMedia(_named(_signature(readings[0]), declared), None)


def _readings(compact: str) -> list[bytes]:
    """The payload's decodings: the forgiving one first, then those of decoders that stop at a `=` midway or drop
    URL-safe letters."""
    mapped = compact.translate(_URLSAFE)
    core = mapped.rstrip("=")
    forgiving = core if not _OTHER_CHARS.search(core) else _OTHER_CHARS.sub("", mapped)
    letters = [forgiving]
    if "=" in core:
        letters.append(_OTHER_CHARS.sub("", mapped[: mapped.index("=")]))
    if "-" in compact or "_" in compact:
        letters.append(_OTHER_CHARS.sub("", compact))
    readings: list[bytes] = []
    for candidate in letters:
        data = _decoded(candidate)
        if data is not None and data not in readings:
            readings.append(data)
    return readings


def _named(sniffed: str | None, declared: tuple[str, ...]) -> str:
    """An opaque file's type: what its bytes are, unless a declared type says another kind of file (an image's bytes
    declared as text would be read as text by a provider that trusts the declaration)."""
    if sniffed is None or any(t.split("/", 1)[0] != sniffed.split("/", 1)[0] for t in declared if t):
        return _OCTET_STREAM
    return sniffed


def _decoded(letters: str) -> bytes | None:
    if not letters or len(letters) % 4 == 1:
        return None
    try:
        return base64.b64decode(letters + "=" * (-len(letters) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _signature(data: bytes) -> str | None:
    """The file format binary bytes begin with, whatever type was declared for them."""
    head = data[:32]
    if head[:1] == b"\xff" and len(head) > 1 and head[1] & 0xE0 == 0xE0 and head[1] != 0xFF:
        return "audio/mpeg"  # an MPEG audio frame's sync bits (MP3 without an ID3 tag, AAC)
    return next((kind for offset, magic, kind in _SIGNATURES if head[offset : offset + len(magic)] == magic), None)


def _text(data: bytes, charset: str | None) -> tuple[str | None, str | None]:
    """(text, codec) when the payload is text, whatever type it declares (a model that is sent text reads it):
    UTF-8 first, as providers read it, then the charset the data URL names (a common one: a rare codec can be
    slow, punycode quadratic); then UTF-8 with a few spots that are not text. (None, None) for binary data."""
    for name in ("utf-8-sig", charset):
        try:
            codec = codecs.lookup(name).name if name else None
        except (LookupError, ValueError):  # ValueError: a charset name with a NUL in it
            continue
        if codec not in _CHARSETS:
            continue
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if not _BINARY.search(text):
            # Written back with a byte-order mark only when it came with one.
            return text, "utf-8" if codec == "utf-8-sig" and not data.startswith(codecs.BOM_UTF8) else codec
    return _mostly_text(data), "utf-8"


def _mostly_text(data: bytes) -> str | None:
    """UTF-8 text with a few spots of bytes that are not text (a file signature put in front, junk after), as a
    provider that trusts a declared text type would read it (those bytes replaced); None for anything else. Each
    spot is found by decoding only up to it, so binary data costs a few short decodes, not a pass."""
    view, start, bad_bytes = memoryview(data), 0, 0
    for _ in range(_BAD_SPOTS + 1):
        control = _CONTROL_BYTES.search(data, start)
        stop = control.start() if control else len(data)
        try:
            str(view[start:stop], "utf-8")
        except UnicodeDecodeError as exc:
            bad, start = start + exc.start, start + exc.end
        else:
            if control is None:  # the rest is text: most of the payload, or a tiny file's tail that proves nothing
                readable = len(data) - bad_bytes >= max(_MIN_TEXT_BYTES, 3 * bad_bytes)
                return data.decode("utf-8", errors="replace") if bad_bytes and readable else None
            bad, start = stop, stop + 1
        bad_bytes += start - bad
    return None


def byte_text(value: Any) -> str | None:
    """The text a non-empty list of numbers spells as bytes (a byte that is no UTF-8 read as U+FFFD); None for
    anything else. Numbers are taken as JavaScript's `Uint8Array` and `Buffer.from` take them (truncated, modulo
    256): an outside review's `[65.0, ...]` and `[321, ...]` passed unread and decoded to a key there."""
    if not isinstance(value, list) or not value:
        return None
    if not all(is_number(item) for item in value):
        return None
    return bytes(int(item) % 256 if math.isfinite(item) else 0 for item in value).decode("utf-8", "replace")


def is_number(value: Any) -> bool:
    """A JSON number (not a boolean, which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)
