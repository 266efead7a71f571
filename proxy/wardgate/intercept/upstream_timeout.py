"""Upstream timeouts: a connection that does not open, or a request whose answer does not start, within its limit
ends in a provider-shaped 504 `upstream_timeout` (audited by the addon's `error` hook), never a hang.

mitmproxy has no such timeouts (its `tcp_timeout` closes the client's connection without a word), and no hook runs
while a flow waits for its upstream, so each forwarded flow gets a timer. When it fires, the flow is ended through
mitmproxy's own error path: a connection still opening is cancelled; an open one that has not answered is fed a line
that is not HTTP, which the HTTP/1 head reader (intercept/informational.py, whatever part of a head came before the
line) refuses by closing that connection, and mitmproxy answers the client with its error page, which
intercept/error_pages.py writes as this 504. (An HTTP/2 upstream refuses the line as a
protocol error: the client gets a 502 instead, and the audit still says `upstream_timeout`.)
"""

from __future__ import annotations

import asyncio
import logging

from mitmproxy import ctx as mitmproxy_ctx
from mitmproxy import http
from mitmproxy.connection import Server
from mitmproxy.proxy import events

from wardgate.intercept.error_pages import UPSTREAM_TIMEOUT_MARK

__all__ = ["TIMED_OUT", "UpstreamTimer"]

logger = logging.getLogger(__name__)
TIMED_OUT = "wardgate_upstream_timeout"  # flow.metadata: which limit ran out ("connect" or "answer")
_TIMER = "wardgate_upstream_timer"
# Never a valid status line: the HTTP/1 reader's refusal quotes it, and the error page recognises it.
_TIMEOUT_LINE = UPSTREAM_TIMEOUT_MARK.encode() + b"\r\n\r\n"


class UpstreamTimer:
    def __init__(self, *, connect_s: float, answer_s: float) -> None:
        self.connect_s, self.answer_s = connect_s, answer_s
        self._ending: set[asyncio.Task[None]] = set()  # flows being ended (a reference keeps each task alive)

    def start(self, flow: http.HTTPFlow) -> None:
        """From forwarding: the connection must open within `connect_s`, the answer start within `answer_s`."""
        loop = asyncio.get_running_loop()
        flow.metadata[_TIMER] = loop.call_later(min(self.connect_s, self.answer_s), self._check, flow, "connect")

    def stop(self, flow: http.HTTPFlow) -> None:
        if (timer := flow.metadata.pop(_TIMER, None)) is not None:
            timer.cancel()

    def _check(self, flow: http.HTTPFlow, limit: str) -> None:
        if flow.response is not None or flow.error is not None:
            return
        opened = flow.server_conn.timestamp_tcp_setup is not None
        if limit == "connect" and opened:
            later = self.answer_s - self.connect_s
            flow.metadata[_TIMER] = asyncio.get_running_loop().call_later(later, self._check, flow, "answer")
            return
        handler = mitmproxy_ctx.master.addons.get("proxyserver").connections.get(flow.client_conn.id)
        if handler is None:
            return  # the client is gone: its flow ends with it
        flow.metadata[TIMED_OUT] = limit
        logger.warning("upstream %s: no %s within its limit", flow.request.host, limit)
        if opened:
            ending = asyncio.ensure_future(handler.server_event(events.DataReceived(flow.server_conn, _TIMEOUT_LINE)))
            self._ending.add(ending)
            ending.add_done_callback(self._ending.discard)
            return
        # Still opening: the connection being opened is not the flow's yet (mitmproxy sets it once open).
        for connection, transport in list(handler.transports.items()):
            if isinstance(connection, Server) and connection.timestamp_tcp_setup is None and transport.handler:
                transport.handler.cancel(UPSTREAM_TIMEOUT_MARK)  # the connect error mitmproxy answers with quotes it
