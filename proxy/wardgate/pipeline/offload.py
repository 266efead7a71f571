"""Reading a big body off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["PARSE_ON_LOOP_BYTES", "decoded_size_bound", "read_off_loop"]

# Parsing JSON, decoding the files inside it and building segments cost ~20-25 ms of CPU per MB (measured: a 1 MB chat
# body with an image, 7 ms to parse and 16 ms to build its exchange); below this a thread hop costs more than it saves.
PARSE_ON_LOOP_BYTES = 256 * 1024


async def read_off_loop[T](size: int, read: Callable[[], T]) -> T:
    """`read()`, on a worker thread when its body is over `PARSE_ON_LOOP_BYTES`."""
    return await asyncio.to_thread(read) if size > PARSE_ON_LOOP_BYTES else read()


def decoded_size_bound(size: int, encoding: str, limit: int) -> int:
    """The most bytes decoding a body of `size` may produce: its size as it is, or up to `limit` when it is compressed
    (a 1 KB gzip body can inflate to megabytes, all of it zlib work)."""
    codings = {part.strip().lower() for part in encoding.split(",")} - {"", "identity", "none"}
    return max(size, limit) if codings else size
