"""A client's reset of one HTTP/2 stream, noticed while the stream's request is being judged.

mitmproxy queues every event for a stream whose hook is pending (the request's judgement) and hands them over only
once the hook is done, so a client that reset one stream (not its connection, whose state the judgement polls) was
noticed after the judgement had run to its end. This looks at each event as it reaches the stream, ahead of that
queue: a protocol error from the client's side (its reset, a broken body) marks the flow (`client_reset`), which
the judgement's check of its client reads (intercept/addon.py), and abandons a judgement of its answer's stream
that is running (intercept/off_loop_streams.py).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from mitmproxy import http
from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layers.http import HttpStream
from mitmproxy.proxy.layers.http._events import RequestProtocolError

from wardgate.intercept.off_loop_streams import OffLoopStream
from wardgate.intercept.stream_events import HandleEvent, wrap_stream_events

__all__ = ["client_reset", "install_stream_reset_notice"]

_RESET = "wardgate_client_reset"


def client_reset(flow: http.HTTPFlow) -> bool:
    """The client gave up this flow's stream (mitmproxy has not told the flow yet if its hook is pending)."""
    return bool(flow.metadata.get(_RESET))


def _noting_resets(inner: HandleEvent, self: HttpStream, event: events.Event) -> Generator[commands.Command, Any, None]:
    if isinstance(event, RequestProtocolError) and (flow := getattr(self, "flow", None)) is not None:
        flow.metadata[_RESET] = True
        if flow.response is not None and isinstance(flow.response.stream, OffLoopStream):
            flow.response.stream.abandon()
    yield from inner(self, event)


def install_stream_reset_notice() -> None:
    wrap_stream_events(_noting_resets)
