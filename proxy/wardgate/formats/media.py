"""Files and media inside JSON bodies: base64 data URLs and the providers' base64 fields, read for what they hold.

A text file sent as `data:text/plain;base64,…` (OpenAI's `file_data`), an Anthropic `document` with a base64
source, an MCP embedded resource's `blob` or a Gemini `inlineData` part reaches the model as text: its decoded text is
judged like any other document, and a mask is written back encoded as it came. What decodes to no text (an image, a
PDF, audio) is content Wardgate cannot read: its segment names the media type so the policy can allow or refuse it.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import dataclasses
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["DECODED_MARK", "EncodedMedia", "encoded_media", "reencode", "remote_media"]

# A segment path ending in this marker holds the decoded text of the string at the path before it.
DECODED_MARK = "$decoded"

_DATA_URL = re.compile(r"data:(?P<type>[^,;]*)(?P<params>(?:;[^,;]*)*?);base64,", re.IGNORECASE)
# Fields that hold a base64 payload beside a media type: Anthropic sources (`data` + `media_type`), MCP contents
# (`data` / `blob` + `mimeType`), Gemini parts (`data` + `mimeType` / `mime_type`).
_PAYLOAD_KEYS = frozenset(("data", "blob"))
_TYPE_KEYS = ("media_type", "mimeType", "mime_type")
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"
_NOT_ALPHABET = str.maketrans("", "", _ALPHABET)
_NO_SPACE = str.maketrans("", "", " \t\r\n")
_URLSAFE = str.maketrans("-_", "+/")
# Control characters other than tab, line feed, form feed and carriage return: what binary data is full of.
_BINARY = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_OCTET_STREAM = "application/octet-stream"
_REMOTE = ("http://", "https://", "gs://")


@dataclasses.dataclass(frozen=True, slots=True)
class EncodedMedia:
    """A base64 payload: its declared media type, and its text when it decodes to text (else it is opaque)."""

    media_type: str
    text: str | None
    codec: str | None = None  # what the text was decoded with, to encode a mask back the same way


def encoded_media(body: Any, path: tuple[str | int, ...], value: str) -> EncodedMedia | None:
    """The payload `value` (at `path` in `body`) carries, when it is a base64 data URL or a provider's base64 field;
    None for every other string (plain text stays what it is)."""
    found = _data_url(value)
    if found is not None:
        return _read(found[2], found[0], found[1])
    if not path or path[-1] not in _PAYLOAD_KEYS:
        return None
    parent = _parent(body, path)
    declared: str | None = next((t for key in _TYPE_KEYS if isinstance(t := parent.get(key), str)), None)
    if declared is None and len(path) > 1 and path[-2] == "input_audio":  # OpenAI: `data` + `format`
        declared = f"audio/{parent.get('format')}"
    if declared is None or parent.get("type") == "text":  # Anthropic's plain-text source: judged as written
        return None
    return _read(value, declared.strip().lower(), None)


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
    media = _read(found[2], found[0], found[1]) if found else _read(original, _OCTET_STREAM, None)
    codec = media.codec if media is not None and media.codec else "utf-8"
    payload = base64.b64encode(text.encode(codec, errors="replace")).decode("ascii")
    return original[: original.index(",") + 1] + payload if found else payload


def _data_url(value: str) -> tuple[str, str | None, str] | None:
    """(media type, charset, base64 payload) of a base64 data URL."""
    start = len(value) - len(value.lstrip())
    match = _DATA_URL.match(value, start, start + 300) if value[start : start + 5].lower() == "data:" else None
    if match is None:
        return None
    params = [p.strip().lower() for p in match["params"].split(";") if "=" in p]
    charset = next((p.split("=", 1)[1].strip("\"'") for p in params if p.startswith("charset=")), None)
    return match["type"].strip().lower() or "text/plain", charset, value[match.end() :]


def _parent(body: Any, path: tuple[str | int, ...]) -> Mapping[str, Any]:
    node = body
    for key in path[:-1]:
        node = node[key]
    return node if isinstance(node, Mapping) else {}


def _read(payload: str, media_type: str, charset: str | None) -> EncodedMedia | None:
    """None when `payload` is not one base64 run (then it is plain text, judged as written): padding only at its
    end, so no decoder can stop early at a `=` and leave the rest unread."""
    compact = payload.translate(_NO_SPACE)
    core = compact.rstrip("=")
    if not core or len(compact) - len(core) > 2 or core.translate(_NOT_ALPHABET):
        return None
    try:
        data = base64.b64decode(compact.translate(_URLSAFE), validate=True)
    except (binascii.Error, ValueError):
        return None
    return EncodedMedia(media_type or _OCTET_STREAM, *_text(data, charset))


def _text(data: bytes, charset: str | None) -> tuple[str | None, str | None]:
    """(text, codec) when the payload is text, whatever type it declares (a model that is sent text reads it):
    UTF-8 first, as providers read it, then the charset the data URL names; (None, None) for binary data."""
    for name in ("utf-8-sig", charset):
        try:
            codec = codecs.lookup(name).name if name else None
            text = data.decode(codec) if codec else None
        except (LookupError, UnicodeDecodeError):
            continue
        if text is not None and not _BINARY.search(text):
            # Written back with a byte-order mark only when it came with one.
            return text, "utf-8" if codec == "utf-8-sig" and not data.startswith(codecs.BOM_UTF8) else codec
    return None, None
