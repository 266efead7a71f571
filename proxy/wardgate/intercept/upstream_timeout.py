"""Upstream timeouts: a connection that does not open, a request whose answer does not start, or a buffered answer
of declared length whose body does not arrive whole, within its limit, ends in a provider-shaped 504
`upstream_timeout` (audited by the addon's `error` hook), never a hang. (Such a body dripped a byte a second kept
mitmproxy's idle timeout from ever firing, and one cut off then silent got the client a bare close at the idle
timeout: an outside review's findings.) A body of no declared length may be a stream Wardgate buffers (Ollama's JSON
Lines) and take its time, so like a stream it may not go quiet for the limit in the middle: one cut off then silent
held its client until the idle timeout, which then audited the upstream's fault as the client's (499; an outside
review). A guarded stream whose upstream sends nothing for as long ends with its provider's error event, audited as
a 504 with the stream: mitmproxy's inactivity timer closed it later without a word, which a client reads as an
answer cut short by the network (an outside fault run).

mitmproxy has no such timeouts (its `tcp_timeout` closes the client's connection without a word), and no hook runs
while a flow waits for its upstream, so each forwarded flow gets a timer. When it fires, the request is marked timed
out (intercept/error_pages.py answers any error to it as this 504) and its upstream connection is closed as mitmproxy
closes one (its reader task cancelled): the one still opening (TCP connect or TLS handshake), or the open one that
has not answered. mitmproxy then ends the flow through its own error path, whatever state the connection was in.
(An HTTP/2 upstream connection carries other flows' streams too: they end with it, as 502s. The other flows of an
HTTP/2 client waiting for the same connection attempt, which mitmproxy shares between them, end with it as 504s:
the attempt they waited for did not open in time.)

The timer used to feed the open connection a line that is not HTTP: on a TLS upstream the TLS layer read it as a
bad record and the flow hung; a connection stalled in its TLS handshake was not found as still opening.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Generator, Iterable
from typing import Any

from mitmproxy import ctx as mitmproxy_ctx
from mitmproxy import http
from mitmproxy.connection import Server
from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layers.http import HttpStream
from mitmproxy.proxy.layers.http._events import ResponseData

from wardgate.intercept.error_pages import mark_timed_out
from wardgate.intercept.off_loop_streams import OffLoopStream
from wardgate.intercept.stream_events import HandleEvent, wrap_stream_events

__all__ = ["TIMED_OUT", "UpstreamTimer", "install_answer_clock"]

logger = logging.getLogger(__name__)
TIMED_OUT = "wardgate_upstream_timeout"  # flow.metadata: which limit ran out ("connect", "answer", "body", "stream")
_TIMER = "wardgate_upstream_timer"
_LAST_BYTES = "wardgate_upstream_last_bytes"  # flow.metadata: when the upstream last sent bytes of its answer
_WHAT = {"connect": "connection", "answer": "answer", "body": "whole body", "stream": "answer bytes"}
_RETRY_S = 0.5  # a timed-out flow with no connection to close yet (between mitmproxy's steps) is looked at again


def _established(connection: Server) -> bool:
    return connection.timestamp_tcp_setup is not None and (not connection.tls or connection.tls_established)


class UpstreamTimer:
    def __init__(self, *, connect_s: float, answer_s: float) -> None:
        self.connect_s, self.answer_s = connect_s, answer_s
        self._waiting: weakref.WeakSet[http.HTTPFlow] = weakref.WeakSet()  # timed flows with no answer yet

    def start(self, flow: http.HTTPFlow) -> None:
        """From forwarding: the connection must open within `connect_s`, the answer start within `answer_s`."""
        loop = asyncio.get_running_loop()
        flow.metadata[_TIMER] = loop.call_later(min(self.connect_s, self.answer_s), self._check, flow, "connect")
        self._waiting.add(flow)

    def body(self, flow: http.HTTPFlow) -> None:
        """From the head of a buffered answer of declared length: its body must be whole within `answer_s`."""
        self.stop(flow)
        flow.metadata[_TIMER] = asyncio.get_running_loop().call_later(self.answer_s, self._check, flow, "body")

    def stream(self, flow: http.HTTPFlow) -> None:
        """From the head of a guarded stream or a buffered answer of no declared length: its upstream may not go
        quiet for `answer_s` in the middle of it."""
        self.stop(flow)
        flow.metadata[_LAST_BYTES] = time.monotonic()
        flow.metadata[_TIMER] = asyncio.get_running_loop().call_later(self.answer_s, self._check, flow, "stream")

    def stop(self, flow: http.HTTPFlow) -> None:
        self._waiting.discard(flow)
        if (timer := flow.metadata.pop(_TIMER, None)) is not None:
            timer.cancel()

    def _check(self, flow: http.HTTPFlow, limit: str) -> None:
        response = flow.response
        answering = limit in ("body", "stream")  # limits on an answer that has begun
        if flow.error is not None or (response is not None and (not answering or response.timestamp_end)):
            self._waiting.discard(flow)
            return
        loop = asyncio.get_running_loop()
        if limit == "connect" and _established(flow.server_conn):
            flow.metadata[_TIMER] = loop.call_later(self.answer_s - self.connect_s, self._check, flow, "answer")
            return
        if limit == "stream" and (quiet := _quiet_s(flow)) < self.answer_s:
            flow.metadata[_TIMER] = loop.call_later(self.answer_s - quiet, self._check, flow, "stream")
            return
        handler = mitmproxy_ctx.master.addons.get("proxyserver").connections.get(flow.client_conn.id)
        if handler is None:
            return  # the client is gone: its flow ends with it
        if TIMED_OUT not in flow.metadata:
            logger.warning("upstream %s: no %s within its limit", flow.request.host, _WHAT[limit])
        ending = {
            connection: transport.handler
            for connection, transport in list(handler.transports.items())
            if isinstance(connection, Server)
            and transport.handler is not None
            and not transport.handler.done()  # a failed attempt mitmproxy left behind
            and (connection is flow.server_conn if limit != "connect" else _opening_for(connection, flow))
        }
        # This flow, and the client's other flows waiting for the same attempt, which ends for them too.
        for waiting in [flow] if limit != "connect" else self._sharing(flow, ending):
            waiting.metadata[TIMED_OUT] = limit
            mark_timed_out(waiting.request)
        if limit == "stream" and isinstance(stream := response.stream if response else None, OffLoopStream):
            stream.quiet_too_long = f"the upstream sent nothing for {self.answer_s:g} s in the middle of its answer"
        for task in ending.values():
            task.cancel("the upstream did not answer in time")
        if not ending:
            flow.metadata[_TIMER] = loop.call_later(_RETRY_S, self._check, flow, limit)

    def _sharing(self, flow: http.HTTPFlow, attempts: Iterable[Server]) -> list[http.HTTPFlow]:
        """`flow` and the flows of its client still waiting for one of these connection attempts."""
        return [flow] + [
            other
            for other in list(self._waiting)
            if other is not flow
            and other.client_conn.id == flow.client_conn.id
            and other.response is None
            and other.error is None
            and not _established(other.server_conn)  # one whose own connection is open waits for an answer instead
            and any(_opening_for(attempt, other) for attempt in attempts)
        ]


def _quiet_s(flow: http.HTTPFlow) -> float:
    stream = flow.response.stream if flow.response is not None else None
    if isinstance(stream, OffLoopStream):
        return stream.quiet_s()  # which does not count the time its own judgement takes
    now = time.monotonic()
    last: float = flow.metadata.get(_LAST_BYTES, now)
    return now - last


def _noting_answer_bytes(
    inner: HandleEvent, self: HttpStream, event: events.Event
) -> Generator[commands.Command, Any, None]:
    if isinstance(event, ResponseData) and (flow := getattr(self, "flow", None)) is not None:
        flow.metadata[_LAST_BYTES] = time.monotonic()
    yield from inner(self, event)


def install_answer_clock() -> None:
    """Note when each flow's upstream last sent bytes of its answer (what a buffered answer's quiet time reads)."""
    wrap_stream_events(_noting_answer_bytes)


def _opening_for(connection: Server, flow: http.HTTPFlow) -> bool:
    """A connection being opened to this flow's upstream (mitmproxy makes it the flow's only once it is open).
    Not one still waiting for a free slot (mitmproxy's per-address limit): cancelled there, its opener never tells
    the flow, which would wait for ever; it is looked at again until it has started."""
    request = flow.request
    return (
        connection.timestamp_start is not None
        and not _established(connection)
        and connection.address == (request.host, request.port)
        and connection.tls == (request.scheme == "https")
    )
