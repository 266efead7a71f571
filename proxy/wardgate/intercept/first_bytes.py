"""What a connection sends before mitmproxy knows what it carries is bounded in size and in time.

mitmproxy keeps a connection's first bytes until it can tell its protocol (a TLS ClientHello whole, to read its
name), and its TLS layer keeps a ClientHello until it is whole; both read all of it again on every read. A
ClientHello may declare 16 MB: an outside review sent one in 16 KB records and kept a core busy for as long as it
sent (13.5 s of CPU for 16 MB, here), with no time limit. Past `MAX_UNDECIDED_BYTES` (Go's limit on a ClientHello,
64 KB, and its records' headers), or once the client has taken `client_timeout_s` since its first bytes to say what
it carries, the connection is closed: no request was read, so there is nothing to answer or audit; the operator's
log says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from typing import Any

from mitmproxy.addons import next_layer
from mitmproxy.connection import ConnectionState
from mitmproxy.proxy import commands, events, layer
from mitmproxy.proxy.layers import tls
from mitmproxy.proxy.tunnel import TunnelState

__all__ = ["MAX_UNDECIDED_BYTES", "BoundedNextLayer", "install_client_hello_limit"]

logger = logging.getLogger(__name__)
MAX_UNDECIDED_BYTES = 2**16 + 5 * 5  # a ClientHello of 64 KB, with the headers of the five TLS records it takes
_FIRST_ASKED = "_wardgate_first_asked"


class _Closed(layer.Layer):
    """The layer of a connection Wardgate will not read: closed at once, anything after ignored."""

    def _handle_event(self, event: events.Event) -> layer.CommandGenerator[None]:
        if isinstance(event, events.Start):
            yield commands.CloseConnection(self.context.client)


class BoundedNextLayer(next_layer.NextLayer):
    """mitmproxy's choice of a connection's protocol, within a size and a time."""

    name = "nextlayer"  # mitmproxy's proxy server looks for it by this name (and warns without it)

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self._timeout_s = timeout_s

    def next_layer(self, nextlayer: layer.NextLayer) -> None:
        client = nextlayer.context.client
        # From the first bytes to decide on (a tunnel's come after its CONNECT, on a connection that may be older).
        waited = time.time() - nextlayer.__dict__.setdefault(_FIRST_ASKED, time.time())
        if waited <= self._timeout_s:
            super().next_layer(nextlayer)  # a first read past the size may still say it all (a head and a body)
        if nextlayer.layer is not None:
            return
        undecided = len(nextlayer.data_client())  # joined anew from every read so far: once here
        if waited > self._timeout_s or undecided > MAX_UNDECIDED_BYTES:
            logger.warning(
                "closed a connection from %s: what it sent in %.1f s (%d bytes) did not say what it carries",
                client.peername,
                waited,
                undecided,
            )
            nextlayer.layer = _Closed(nextlayer.context)


_receive_handshake_data = tls.ClientTLSLayer.receive_handshake_data
_client_tls_handle_event = tls.ClientTLSLayer._handle_event
_HANDSHAKE_DEADLINE = "_wardgate_handshake_deadline"


class _HandshakeDeadline(commands.RequestWakeup):
    """When a client's TLS handshake must be done (mitmproxy wakes the layer that asked)."""


class _Timeout:
    seconds = 60.0  # client_timeout_s, set at install


def _bounded_hello(self: tls.ClientTLSLayer, data: bytes) -> Generator[commands.Command, Any, tuple[bool, str | None]]:
    if not self.client_hello_parsed and len(self.recv_buffer) + len(data) > MAX_UNDECIDED_BYTES:
        self.recv_buffer.clear()
        return False, f"the ClientHello is larger than {MAX_UNDECIDED_BYTES} bytes"  # mitmproxy closes the connection
    return (yield from _receive_handshake_data(self, data))


def _timed_handshake(self: tls.ClientTLSLayer, event: events.Event) -> Generator[commands.Command, Any, None]:
    """A client's TLS handshake must be done within `client_timeout_s` of its first bytes: in reverse mode the TLS
    layer is chosen from the first bytes, before the time limit above could apply, and a ClientHello dripped a byte
    every few seconds held its connection for ever (an outside review filled `max_connections` so)."""
    if isinstance(event, events.Wakeup) and isinstance(event.command, _HandshakeDeadline):
        if event.command is getattr(self, _HANDSHAKE_DEADLINE, None) and self.tunnel_state is TunnelState.ESTABLISHING:
            message = f"the TLS handshake did not end within {_Timeout.seconds:g} s"
            if self.conn != self.tunnel_connection:
                self.conn.state = ConnectionState.CLOSED
            yield from self.on_handshake_error(message)  # closes the connection
            yield from self._handshake_finished(message)
        return
    yield from _client_tls_handle_event(self, event)
    if (
        isinstance(event, events.DataReceived)
        and event.connection == self.tunnel_connection
        and self.tunnel_state is TunnelState.ESTABLISHING
        and getattr(self, _HANDSHAKE_DEADLINE, None) is None
    ):
        wakeup = _HandshakeDeadline(_Timeout.seconds)
        setattr(self, _HANDSHAKE_DEADLINE, wakeup)
        yield wakeup


def install_client_hello_limit(timeout_s: float) -> None:
    """A ClientHello past `MAX_UNDECIDED_BYTES`, or a handshake not done within `timeout_s`, closes the connection."""
    _Timeout.seconds = timeout_s
    tls.ClientTLSLayer.receive_handshake_data = _bounded_hello  # type: ignore[method-assign]
    tls.ClientTLSLayer._handle_event = _timed_handshake  # type: ignore[method-assign,assignment]
