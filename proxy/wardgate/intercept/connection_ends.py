"""A connection mitmproxy closes is closed, however its reader was waiting when it was told to stop.

mitmproxy closes a connection by cancelling the task that reads it, which ends by closing the socket, unless the
cancellation lands while the task waits to hand over what it read (`server_event`, behind a lock that a hook's
task may hold): that `await` catches nothing (mitmproxy 12.2 and 12.3), so the task ended with the socket open and
registered, never read again and never closed (found here: a connection refused for an oversized ClientHello stayed
established with 800 KB unread, its client still writing; the same for one refused for bytes sent ahead). What
mitmproxy's reader does at its own end is done here for it: the layers are told the connection closed, its socket
is closed, its transport let go.
"""

from __future__ import annotations

import asyncio

from mitmproxy.connection import Connection, ConnectionState
from mitmproxy.proxy import events, server

__all__ = ["install_connection_ends"]

_handle_connection = server.ConnectionHandler.handle_connection


async def _ending_closed(self: server.ConnectionHandler, connection: Connection) -> None:
    try:
        await _handle_connection(self, connection)
    except asyncio.CancelledError:
        if (io := self.transports.get(connection)) is not None:  # still there: mitmproxy's own ending was skipped
            connection.state = ConnectionState.CLOSED
            try:
                await self.server_event(events.ConnectionClosed(connection))
            finally:
                if io.writer is not None:
                    io.writer.close()
                self.transports.pop(connection, None)
        raise


def install_connection_ends() -> None:
    server.ConnectionHandler.handle_connection = _ending_closed  # type: ignore[method-assign]
