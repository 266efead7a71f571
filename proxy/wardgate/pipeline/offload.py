"""Reading a big body off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from wardgate.formats.decoding import content_codings, decode_content

__all__ = ["PARSE_ON_LOOP_BYTES", "decode_off_loop", "read_off_loop"]

# Parsing JSON, decoding the files inside it and building segments cost ~20-25 ms of CPU per MB (measured: a 1 MB chat
# body with an image, 7 ms to parse and 16 ms to build its exchange); below this a thread hop costs more than it saves.
PARSE_ON_LOOP_BYTES = 256 * 1024


async def read_off_loop[T](size: int, read: Callable[[], T]) -> T:
    """`read()`, on a worker thread when its body is over `PARSE_ON_LOOP_BYTES`."""
    return await asyncio.to_thread(read) if size > PARSE_ON_LOOP_BYTES else read()


async def decode_off_loop(raw: bytes, encoding: str, limit: int) -> bytes:
    """`decode_content`, on a worker thread when the body is big or compressed: a compressed body may inflate up to
    `limit` (a 1 KB gzip body can become megabytes, all of it zlib work)."""
    size = max(len(raw), limit) if content_codings(encoding) else len(raw)
    return await read_off_loop(size, lambda: decode_content(raw, encoding, limit))
