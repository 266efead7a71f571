"""Content-Encoding decoded with a hard output limit: a 1 MB gzip body never inflates to 1 GiB in memory.

mitmproxy's own decoding inflates the whole body before anything can look at its size; this one stops at
`limit` bytes and says so, so a compression bomb costs what its first `limit` bytes cost.
"""

from __future__ import annotations

import zlib

import brotli
import zstandard

from wardgate.quoting import quoted

__all__ = ["ZSTD_MAX_WINDOW", "DecodingError", "TooLarge", "content_codings", "decode_content"]

# RFC 9659: HTTP's zstd uses windows of 8 MB at most, which browsers hold to. zstd's own limit (128 MB) would let one
# frame's header make the decoder allocate its whole window.
ZSTD_MAX_WINDOW = 8 * 1024 * 1024


class DecodingError(ValueError):
    """The body does not decode as its Content-Encoding says."""


class TooLarge(ValueError):
    """The decoded body would exceed the limit."""


def _zlib(raw: bytes, wbits: int, limit: int) -> bytes:
    """Every member of the stream, as gzip readers decode it (a second member is more body, not garbage); bytes
    after the end of a zlib or raw deflate stream are refused rather than left unread."""
    out = bytearray()
    data = raw
    while data:
        decoder = zlib.decompressobj(wbits)
        while data:
            out += decoder.decompress(data, limit + 1 - len(out))
            if len(out) > limit:
                raise TooLarge(f"the body decodes to more than {limit} bytes")
            data = decoder.unconsumed_tail
            if decoder.eof:
                break
        if not decoder.eof:
            raise zlib.error("the compressed stream is truncated")
        data = decoder.unused_data
        if data and wbits <= zlib.MAX_WBITS:
            raise zlib.error("data follows the end of the compressed stream")
    return bytes(out)


def _brotli(raw: bytes, limit: int) -> bytes:
    decoder = brotli.Decompressor()
    out = bytearray(decoder.process(raw, output_buffer_limit=limit + 1))
    # Output held back by the buffer limit comes out on calls with no new input.
    while len(out) <= limit and not decoder.is_finished() and not decoder.can_accept_more_data():
        out += decoder.process(b"", output_buffer_limit=limit + 1 - len(out))
    if len(out) > limit:
        raise TooLarge(f"the body decodes to more than {limit} bytes")
    return bytes(out)


def _zstd(raw: bytes, limit: int) -> bytes:
    # Every frame, as zstd readers decode a concatenation of them.
    decompressor = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
    with decompressor.stream_reader(raw, read_across_frames=True) as reader:
        out = reader.read(limit + 1)
    if len(out) > limit:
        raise TooLarge(f"the body decodes to more than {limit} bytes")
    return out


def content_codings(encoding: str) -> list[str]:
    """The codings a Content-Encoding lists, in the order they were applied (`identity` and `none` are none)."""
    return [name for part in encoding.split(",") if (name := part.strip().lower()) and name not in ("identity", "none")]


def decode_content(raw: bytes, encoding: str, limit: int) -> bytes:
    """`raw` decoded through each listed encoding (`gzip, br` applies br last), never past `limit` bytes."""
    data = raw
    for name in reversed(content_codings(encoding)):
        try:
            if name in ("gzip", "x-gzip"):
                data = _zlib(data, 16 + zlib.MAX_WBITS, limit)
            elif name == "deflate":
                # zlib-wrapped as the RFC says, or raw deflate as some clients send it.
                try:
                    data = _zlib(data, zlib.MAX_WBITS, limit)
                except zlib.error:
                    data = _zlib(data, -zlib.MAX_WBITS, limit)
            elif name == "br":
                data = _brotli(data, limit)
            elif name == "zstd":
                data = _zstd(data, limit)
            else:
                raise DecodingError(f"unknown content encoding {quoted(name)}")
        except (zlib.error, brotli.error, zstandard.ZstdError) as exc:
            raise DecodingError(f"the body is not valid {name}: {exc}") from exc
    if len(data) > limit:
        raise TooLarge(f"the body is more than {limit} bytes")
    return data
