"""Content-Encoding undone a step at a time, for a stream judged as it arrives: gzip, deflate, br and zstd.

Each step's output is bounded whatever the input: a few KB of a hostile stream would otherwise become gigabytes in
one call, before the stream's own limits could look at it. The consumer stops iterating `feed` once it has seen
enough (a verdict, an event past its limit), and the rest of the chunk is never decoded. And a stream may decode to
no more than `MAX_RATIO` times what it has sent (after its first MiB), as Apache's mod_deflate bounds a request
body: 71 bytes of brotli became 7 MB of SSE comments, which took the judge 10 s (an outside review).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

import brotli
import zstandard

from wardgate.formats.decoding import ZSTD_MAX_WINDOW, DecodingError, TooLarge

__all__ = ["MAX_RATIO", "STEP", "StreamDecoder", "stream_decoder"]

STEP = 256 * 1024  # decoded bytes a step yields, about (brotli's and zstd's steps: up to twice that)
MAX_RATIO = 200  # decoded bytes per byte sent, past the first MiB (mod_deflate's DeflateInflateRatioLimit)
_RATIO_FROM = 1024 * 1024


class StreamDecoder(Protocol):
    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """`chunk` decoded, in pieces of about `STEP` bytes; raises DecodingError, or TooLarge past the ratio."""
        ...

    def end(self) -> bytes:
        """What is left once the input has ended."""
        ...


class _Zlib:
    """gzip (every member, as gzip readers decode them) or one deflate stream: zlib-wrapped as RFC 9110 has it or
    raw as some servers send it, told apart by its first two bytes as httpx and urllib3 do."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._wbits = 16 + zlib.MAX_WBITS
        self._decoder = zlib.decompressobj(self._wbits)
        self._held: bytes | None = None if gzip else b""  # deflate: nothing is decoded before its first two bytes

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        if self._held is not None:
            self._held += chunk
            if len(self._held) < 2:
                return
            chunk = self._decide()
        yield from self._inflated(chunk)

    def end(self) -> bytes:
        rest = b"".join(self._inflated(self._decide())) if self._held is not None else b""  # a byte at most
        try:
            return rest + self._decoder.flush()
        except zlib.error as exc:
            raise DecodingError(str(exc)) from exc

    def _inflated(self, chunk: bytes) -> Iterator[bytes]:
        pending = chunk
        while pending:
            try:
                piece = self._decoder.decompress(pending, STEP)
            except zlib.error as exc:
                raise DecodingError(str(exc)) from exc
            pending = self._decoder.unconsumed_tail
            if piece:
                yield piece
            if self._decoder.eof and self._decoder.unused_data:
                if not self._gzip:
                    raise DecodingError("data follows the end of the deflate stream")
                pending, self._decoder = self._decoder.unused_data, zlib.decompressobj(self._wbits)

    def _decide(self) -> bytes:
        held, self._held = self._held or b"", None
        self._wbits = zlib.MAX_WBITS if _zlib_header(held) else -zlib.MAX_WBITS
        self._decoder = zlib.decompressobj(self._wbits)
        return held


def _zlib_header(head: bytes) -> bool:
    """RFC 1950's two header bytes: method 8 (deflate), a window of at most 32 KB, a check that divides by 31."""
    return len(head) >= 2 and head[0] & 0x0F == 8 and head[0] >> 4 <= 7 and (head[0] << 8 | head[1]) % 31 == 0


class _Brotli:
    def __init__(self) -> None:
        self._decoder = brotli.Decompressor()

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        try:
            piece = self._decoder.process(chunk, output_buffer_limit=STEP)
            # Output held back by the limit comes on calls with no input, until there is none. (brotli 1.2's
            # can_accept_more_data() says True while some is still held back.)
            while piece:
                yield piece
                piece = self._decoder.process(b"", output_buffer_limit=STEP)
        except brotli.error as exc:
            raise DecodingError(str(exc)) from exc

    def end(self) -> bytes:
        return b""


class _Zstd:
    """Every frame, as zstd readers decode a concatenation of them. python-zstandard's decompressor has no output
    limit, so it gets 8 bytes at a time: a zstd block takes 3 bytes of header and at least 1 of content and
    decodes to 128 KB at most, so 8 bytes decode to two blocks at most, however the stream is made."""

    _SLICE = 8

    def __init__(self) -> None:
        self._decoder = self._frame()

    @staticmethod
    def _frame() -> zstandard.ZstdDecompressionObj:
        return zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).decompressobj()

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        view, out = memoryview(chunk), bytearray()
        try:
            for start in range(0, len(chunk), self._SLICE):
                pending: bytes | memoryview = view[start : start + self._SLICE]
                while pending:
                    out += self._decoder.decompress(pending)
                    pending = b""
                    if self._decoder.eof:
                        pending, self._decoder = self._decoder.unused_data, self._frame()
                if len(out) >= STEP:
                    yield bytes(out)
                    out.clear()
        except zstandard.ZstdError as exc:
            raise DecodingError(str(exc)) from exc
        if out:
            yield bytes(out)

    def end(self) -> bytes:
        return b""


class _WithinRatio:
    """A decoder whose output stays within `MAX_RATIO` times its input (past the first MiB)."""

    def __init__(self, decoder: StreamDecoder) -> None:
        self._decoder, self._sent, self._decoded = decoder, 0, 0

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self._sent += len(chunk)
        for piece in self._decoder.feed(chunk):
            self._count(piece)
            yield piece

    def end(self) -> bytes:
        rest = self._decoder.end()
        self._count(rest)
        return rest

    def _count(self, piece: bytes) -> None:
        self._decoded += len(piece)
        if self._decoded > _RATIO_FROM and self._decoded > MAX_RATIO * self._sent:
            raise TooLarge(f"decodes to more than {MAX_RATIO} times its size")


def stream_decoder(encoding: str) -> StreamDecoder | None:
    """The decoder of one Content-Encoding a stream may arrive in, or None for one it cannot be read in."""
    decoder: StreamDecoder
    match encoding:
        case "gzip" | "x-gzip":
            decoder = _Zlib(gzip=True)
        case "deflate":
            decoder = _Zlib(gzip=False)
        case "br":
            decoder = _Brotli()
        case "zstd":
            decoder = _Zstd()
        case _:
            return None
    return _WithinRatio(decoder)
