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
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

__all__ = ["DECODED_MARK", "EncodedMedia", "encoded_media", "reencode", "remote_media"]

# A segment path ending in this marker holds the decoded text of the string at the path before it.
DECODED_MARK = "$decoded"

# Fields that always hold a file's bytes: MCP resources' `blob`, OpenAI's `file_data`, Bedrock's `source.bytes`.
_FILE_KEYS = frozenset(("blob", "file_data", "bytes"))
# `data` holds a file's bytes beside a declared type (Anthropic sources, MCP image/audio contents, Gemini parts) or
# in an OpenAI `input_audio` part; OpenAI Realtime's `input_audio` content holds them in `audio`.
_TYPE_KEYS = ("media_type", "mimeType", "mime_type")
_FILE_PARTS = frozenset(("input_audio",))
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_NOT_ALPHABET = str.maketrans("", "", "".join(_ALPHABET))
_NO_SPACE = str.maketrans("", "", " \t\r\n\f")
_OTHER_CHARS = re.compile(r"[^A-Za-z0-9+/]+")
_URLSAFE = str.maketrans("-_", "+/")
# Control characters other than tab, line feed, form feed and carriage return: what binary data is full of.
_BINARY = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_OCTET_STREAM = "application/octet-stream"
_REMOTE = ("http://", "https://", "gs://")
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
        return _read(found[1], found[0], from_url=True)
    if not path or not _is_file_field(body, path):
        return None
    return _read(value, None, from_url=False)


def _is_file_field(body: Any, path: tuple[str | int, ...]) -> bool:
    key = path[-1]
    if key in _FILE_KEYS:
        return True
    if key not in ("data", "audio"):
        return False
    parent = _parent(body, path)
    if key == "audio":
        return parent.get("type") == "input_audio"
    if parent.get("type") == "text":  # Anthropic's plain-text source: judged as written
        return False
    return any(isinstance(parent.get(name), str) for name in _TYPE_KEYS) or (len(path) > 1 and path[-2] in _FILE_PARTS)


def remote_media(body: Any, path: tuple[str | int, ...], value: str) -> str | None:
    """The media type of a file the provider fetches by URL itself (an image URL, an Anthropic `url` source, OpenAI's
    `file_url`, a Gemini `fileData`): content Wardgate never sees. `image/remote` or `application/remote` unless
    the body declares a type; None for every other string."""
    if not path or not isinstance(path[-1], str) or not value.lstrip()[:8].lower().startswith(_REMOTE):
        return None
    key, parent = path[-1], _parent(body, path)
    declared = next((t for name in _TYPE_KEYS if isinstance(t := parent.get(name), str)), None)
    if key in ("fileUri", "file_uri"):  # Gemini: `fileData` declares its type
        return (declared or "application/remote").strip().lower()
    if key == "image_url" or path[-2:] == ("image_url", "url"):  # OpenAI: chat's part, or a Responses input_image
        return "image/remote"
    if key == "file_url":
        return "application/remote"
    if key == "url" and parent.get("type") == "url" and len(path) > 2:  # Anthropic: a block's `source`
        block = _parent(body, path[:-1])
        return "image/remote" if block.get("type") == "image" else "application/remote"
    return None


def reencode(original: str, text: str) -> str:
    """`text` in place of the payload `original` carried, encoded as `original` was (data URL or bare base64)."""
    found = _data_url(original)
    media = _read(found[1], found[0], from_url=True) if found else _read(original, None, from_url=False)
    codec = media.codec if media is not None and media.codec else "utf-8"
    payload = base64.b64encode(text.encode(codec, errors="replace")).decode("ascii")
    header = original[: original.index(",") + 1] if found else ""
    return header + payload


def _data_url(value: str) -> tuple[str | None, str] | None:
    """(charset, body) of a base64 data URL: `data:`, a header up to the first comma that names `;base64` among its
    parameters (anywhere), then the body."""
    start = len(value) - len(value.lstrip())
    if value[start : start + 5].lower() != "data:":
        return None
    comma = value.find(",", start)
    params = [p.strip().lower() for p in value[start + 5 : comma].split(";")[1:]] if comma >= 0 else []
    if "base64" not in params:
        return None  # not base64: its percent-escapes are decoded by the scanners, like any text
    charset = next((p.split("=", 1)[1].strip("\"'") for p in params if p.startswith("charset=")), None)
    return charset, value[comma + 1 :]


def _parent(body: Any, path: tuple[str | int, ...]) -> Mapping[str, Any]:
    node = body
    for key in path[:-1]:
        node = node[key]
    return node if isinstance(node, Mapping) else {}


def _read(payload: str, charset: str | None, *, from_url: bool) -> EncodedMedia | None:
    """What a file field or base64 data URL holds, decoded as forgivingly as any provider might decode it.

    A data URL's body is percent-decoded first (as the Fetch standard says). Whitespace is dropped, URL-safe letters
    mapped and missing padding added. A body with other characters (a dot every few letters, a `=` midway) is read
    once more with them dropped, as lenient decoders do: when that reading is a known file format or text, it is what
    the field holds; otherwise the string is not a file and is judged as the text it is (None)."""
    if from_url and "%" in payload:
        payload = unquote_to_bytes(payload).decode("latin-1")
    compact = payload.translate(_NO_SPACE).translate(_URLSAFE)
    if not compact.strip("="):
        return None  # an empty file: nothing to read
    core = compact.rstrip("=")
    strict = len(compact) - len(core) <= 2 and not core.translate(_NOT_ALPHABET)
    data = _decoded(core if strict else _OTHER_CHARS.sub("", compact))
    if data is None:
        return EncodedMedia(_OCTET_STREAM, None) if strict or from_url else None
    if data.startswith(b"%PDF-"):  # a PDF can be all ASCII, and a provider reads it as a document, not as text
        return EncodedMedia("application/pdf", None)
    text, codec = _text(data, charset)
    if text is not None:
        return EncodedMedia("text/plain", text, codec)
    signature = _signature(data)
    if signature is not None:
        return EncodedMedia(signature, None)
    return EncodedMedia(_OCTET_STREAM, None) if strict or from_url else None


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
    UTF-8 first, as providers read it, then the charset the data URL names; (None, None) for binary data."""
    for name in ("utf-8-sig", charset):
        try:
            codec = codecs.lookup(name).name if name else None
            text = data.decode(codec) if codec else None
        except (LookupError, UnicodeDecodeError, ValueError):  # ValueError: a charset name with a NUL in it
            continue
        if text is not None and not _BINARY.search(text):
            # Written back with a byte-order mark only when it came with one.
            return text, "utf-8" if codec == "utf-8-sig" and not data.startswith(codecs.BOM_UTF8) else codec
    return None, None
