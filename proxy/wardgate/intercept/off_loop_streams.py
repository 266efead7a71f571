"""Judged streams whose chunks are judged on a worker thread, not inside mitmproxy's synchronous stream hook.

mitmproxy 12 calls `flow.response.stream(chunk)` on the event loop and sends what it returns (mitmproxy#8103): a
window that needs the PII tagger, an MCP tool result's injection scan or a remote OPA decision stalled every other
flow of the process while it ran. This makes the streaming state of mitmproxy's `HttpStream` hand a chunk of an
`OffLoopStream` to an addon hook instead (`wardgate_stream_chunk`). The hook judges it on a worker thread while the
stream's layer waits, as it waits for any blocking hook: chunks that arrive meanwhile queue in order, and a client
that hangs up meanwhile is noticed as the hook returns (`check_killed`). Other flows go on. A client that resets its
HTTP/2 stream meanwhile is noticed as the reset arrives (intercept/stream_resets.py calls `abandon`): the chunk's
judgement stops at its scanners' next check of their budget instead of running to its end.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextvars
import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

from mitmproxy.proxy import commands
from mitmproxy.proxy.layers.http import HttpStream, SendHttp
from mitmproxy.proxy.layers.http._events import (
    ErrorCode,
    RequestProtocolError,
    ResponseData,
    ResponseEndOfMessage,
    ResponseTrailers,
)
from mitmproxy.proxy.utils import expect

from wardgate.intercept.responses import JudgedStream
from wardgate.scanners import deadline

__all__ = ["OffLoopStream", "StreamChunk", "WardgateStreamChunkHook", "install_off_loop_streams"]

logger = logging.getLogger(__name__)

# What may queue behind a chunk being judged before the stream is stopped: the upstream outruns the judge by this
# much only when it floods (an LLM's tokens arrive far slower than they are judged).
MAX_BACKLOG_BYTES = 16 * 1024 * 1024
MAX_BACKLOG_EVENTS = 4096  # and a count, so that a flood of one-byte frames costs no more than this to add up
# Stream judgement has threads of its own: an MCP tool result's scans can take a while, and the event loop's default
# executor also reads request bodies, which must not queue behind them. MCP streams (each tool result read whole by the
# injection model, up to the scan budget) and the model's answer streams (a window at a time) do not share them:
# eight slow tool results held every thread, and every answer stream of the process waited behind them.
_ANSWER_JUDGES = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="wardgate-stream")
_TOOL_RESULT_JUDGES = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="wardgate-mcp-stream")


class OffLoopStream:
    """A stream callable that mitmproxy hands to `wardgate_stream_chunk` (with `install_off_loop_streams`)."""

    def __init__(
        self,
        judged: Callable[[bytes], bytes | list[bytes]],
        stream: JudgedStream,
        *,
        budget_s: float,
        tool_results: bool = False,
    ) -> None:
        """`budget_s`: what judging one chunk may take (the scanners' budget, scanners/deadline.py); `tool_results`:
        an MCP stream, judged on threads of its own."""
        self._judged, self.stream, self._budget_s = judged, stream, budget_s
        self._last_chunk = time.monotonic()
        self._judging = False
        # Set when the upstream went quiet for too long (intercept/upstream_timeout.py), which then closes it:
        # whatever mitmproxy makes of that, an end (a body read to the close) or an error, it ends as timed out.
        self.quiet_too_long: str | None = None
        self._judges = _TOOL_RESULT_JUDGES if tool_results else _ANSWER_JUDGES
        self._abandoned = threading.Event()

    def abandon(self) -> None:
        """The client is gone: a judgement running now, and any after it, gives up at its next budget check."""
        self._abandoned.set()

    def __call__(self, chunk: bytes) -> bytes | list[bytes]:
        return self._judged(chunk)

    def _judged_in_budget(self, chunk: bytes) -> bytes | list[bytes]:
        with deadline.budget(self._budget_s, self._abandoned):
            return self._judged(chunk)

    def quiet_s(self) -> float:
        """Seconds since the upstream's last chunk was judged (or since the answer began); 0 while one is judged
        (what the upstream sends meanwhile waits behind it)."""
        return 0.0 if self._judging else time.monotonic() - self._last_chunk

    async def judge(self, chunk: bytes) -> list[bytes]:
        """What the client gets for `chunk` (b"" = the end), judged on a worker thread within the budget; a judge
        that raises stops the stream with an error event (audited with the stream) instead of passing anything."""
        if self.quiet_too_long is not None:
            return _pieces(self.stream.refuse(self.quiet_too_long, code="upstream_timeout", status=504))
        self._judging = True
        try:
            judged = functools.partial(contextvars.copy_context().run, self._judged_in_budget, chunk)  # as to_thread
            return _pieces(await asyncio.get_running_loop().run_in_executor(self._judges, judged))
        except Exception:
            logger.exception("judging a stream chunk failed; the stream is stopped")
            return self.failed()
        finally:
            self._judging, self._last_chunk = False, time.monotonic()

    def failed(self) -> list[bytes]:
        return _pieces(self.stream.refuse("the stream could not be judged (an internal error)"))

    def overrun(self) -> list[bytes]:
        """The stream ends here: its upstream sends faster than it can be judged."""
        limit = f"{MAX_BACKLOG_BYTES // 2**20} MiB or {MAX_BACKLOG_EVENTS} pieces"
        return _pieces(self.stream.refuse(f"the upstream sent more than {limit} ahead of the judge"))


def _pieces(out: bytes | list[bytes]) -> list[bytes]:
    """mitmproxy's chunks, without empty ones (an empty chunk would end a chunked HTTP/1 body)."""
    return [piece for piece in ([out] if isinstance(out, bytes) else out) if piece]


@dataclasses.dataclass
class StreamChunk:
    """One chunk on its way through the hook: `data` in (b"" = end of body), `out` back."""

    stream: OffLoopStream
    data: bytes
    out: list[bytes] | None = None  # None after the hook: no judge answered (an addon error), so nothing passes


@dataclasses.dataclass
class WardgateStreamChunkHook(commands.StartHook):
    """Judge one chunk of an `OffLoopStream` (mitmproxy hooks take one argument)."""

    chunk: StreamChunk


_stream_response_body = HttpStream.state_stream_response_body


@expect(ResponseData, ResponseTrailers, ResponseEndOfMessage)  # type: ignore[untyped-decorator]
def _state_stream_response_body(self: HttpStream, event: Any) -> Generator[Any, Any, None]:
    assert self.flow.response
    stream = self.flow.response.stream
    if not isinstance(stream, OffLoopStream) or isinstance(event, ResponseTrailers):
        yield from _stream_response_body(self, event)
        return
    end = isinstance(event, ResponseEndOfMessage)
    if not end and not event.data:
        return  # an empty HTTP/2 DATA frame: b"" would read as the end of the body
    if stream.stream.stopped is not None:
        out = _pieces(stream(b"" if end else event.data))  # nothing more is judged: it answers at once
    else:
        chunk = StreamChunk(stream, b"" if end else event.data)
        yield WardgateStreamChunkHook(chunk)
        if (yield from self.check_killed(True)):
            # The client hung up while the chunk was judged: the upstream is told, as mitmproxy tells it when a
            # client cancels outside a hook (its generation, and its cost, stop).
            yield SendHttp(
                RequestProtocolError(self.stream_id, "the client is gone", ErrorCode.CANCEL), self.context.server
            )
            return
        out = chunk.out if chunk.out is not None else stream.failed()
        if stream.stream.stopped is None and _backlogged(self._paused_event_queue):
            out += stream.overrun()
    # A stream stopped here (a verdict, an event past its limit, an unreadable body) is over: the client's answer
    # ends now, and the upstream is told, as when a client cancels (its generation, and its cost, stop). It used to
    # read the upstream to its end, passing nothing, while the client waited for the end of the body.
    stopped = not end and stream.stream.stopped is not None
    if stopped:
        out += _pieces(stream(b""))
    for piece in out:
        if self.context.options.store_streamed_bodies:
            self.response_body_buf += piece
        yield SendHttp(ResponseData(self.stream_id, piece), self.context.client)
    if end or stopped:
        if self.context.options.store_streamed_bodies:
            self.flow.response.data.content = bytes(self.response_body_buf)
            self.response_body_buf.clear()
        yield from self.send_response(already_streamed=True)
    if stopped:
        yield SendHttp(
            RequestProtocolError(self.stream_id, "the stream was stopped", ErrorCode.CANCEL), self.context.server
        )
        # What the upstream sent while the chunk was judged is replayed after this returns; `send_response` left
        # the state that refuses any event (mitmproxy's "has crashed"), the errored ones drop them, and an upstream
        # error among them is not sent to a client whose answer has ended (an HTTP/1 client is on its next request).
        self.client_state = self.server_state = self.state_errored


def _backlogged(queue: collections.deque[Any]) -> bool:
    """More queued behind the judge than it may hold (counted in at most MAX_BACKLOG_EVENTS steps)."""
    if len(queue) > MAX_BACKLOG_EVENTS:
        return True
    return sum(len(queued.data) for queued in queue if isinstance(queued, ResponseData)) > MAX_BACKLOG_BYTES


def install_off_loop_streams() -> None:
    HttpStream.state_stream_response_body = _state_stream_response_body  # type: ignore[method-assign]
