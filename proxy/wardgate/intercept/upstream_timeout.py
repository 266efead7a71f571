"""Upstream timeouts: a connection that does not open, or a request whose answer does not start, within its limit
ends in a provider-shaped 504 `upstream_timeout` (audited by the addon's `error` hook), never a hang.

mitmproxy has no such timeouts (its `tcp_timeout` closes the client's connection without a word), and no hook runs
while a flow waits for its upstream, so each forwarded flow gets a timer. When it fires, the flow's upstream
connection is closed as mitmproxy closes one (its reader task cancelled), whether it is still opening or open, TLS
or not. A connection still opening fails with the mark as its error; an open one is remembered here, and the HTTP/1
head reader (intercept/informational.py) answers its close with the mark. mitmproxy answers the client with its
error page, which intercept/error_pages.py writes as this 504. (An HTTP/2 upstream's close fails its streams as a
disconnect: the client gets a 502 instead, and the audit still says `upstream_timeout`.)

The timer used to feed the open connection a line that is not HTTP: on a TLS upstream the TLS layer read it as a
bad record and the flow hung.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from mitmproxy import ctx as mitmproxy_ctx
from mitmproxy import http
from mitmproxy.connection import Connection, Server

from wardgate.intercept.error_pages import UPSTREAM_TIMEOUT_MARK

__all__ = ["TIMED_OUT", "UpstreamTimer", "closed_by_timer"]

logger = logging.getLogger(__name__)
TIMED_OUT = "wardgate_upstream_timeout"  # flow.metadata: which limit ran out ("connect" or "answer")
_TIMER = "wardgate_upstream_timer"
_CLOSED: weakref.WeakSet[Connection] = weakref.WeakSet()  # open connections whose answer did not start in time


def closed_by_timer(connection: Connection) -> bool:
    return connection in _CLOSED


class UpstreamTimer:
    def __init__(self, *, connect_s: float, answer_s: float) -> None:
        self.connect_s, self.answer_s = connect_s, answer_s

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
            transport = handler.transports.get(flow.server_conn)
            if transport is not None and transport.handler is not None:
                _CLOSED.add(flow.server_conn)
                transport.handler.cancel(UPSTREAM_TIMEOUT_MARK)
            return
        # Still opening: the connection being opened is not the flow's yet (mitmproxy sets it once open).
        for connection, transport in list(handler.transports.items()):
            if isinstance(connection, Server) and connection.timestamp_tcp_setup is None and transport.handler:
                transport.handler.cancel(UPSTREAM_TIMEOUT_MARK)  # the connect error mitmproxy answers with quotes it
