"""An upstream's 101 that no WebSocket will take closes its connection instead of making it a pipe.

mitmproxy 12 turns the upstream connection into a raw pipe on any 101 (`should_make_pipe`). Wardgate refuses a 101
that does not complete a WebSocket handshake (the addon's `upstream_protocol`, a JSON 502), but what the upstream sent
after it still arrived as data of a finished stream: mitmproxy's handler of the connection crashed, and its traceback
logged those bytes (outside reviews' findings: a key among them, after a 101 to a chat request, then to a Realtime
upgrade answered without `upgrade: websocket`). So a 101 that mitmproxy's HTTP layer will not hand to its WebSocket
layer (`HttpStream.send_response`'s test) is read as the last answer on its connection: marked `connection: close`
before mitmproxy decides, its connection is closed after the head and nothing after it is read.
"""

from __future__ import annotations

from mitmproxy import http
from mitmproxy.proxy.layers.http import _http1

__all__ = ["install_upgrade_guard"]

_should_make_pipe = _http1.should_make_pipe


_WEBSOCKET_VERSION = "13"  # RFC 6455's, the only one mitmproxy (wsproto's WEBSOCKET_VERSION) speaks


def _completes_a_websocket(request: http.Request, response: http.Response) -> bool:
    upgrade: str = response.headers.get("upgrade", "")
    version: str = request.headers.get("sec-websocket-version", "")
    return upgrade.lower() == "websocket" and version == _WEBSOCKET_VERSION


def _pipe_only_when_asked(request: http.Request, response: http.Response) -> bool:
    if response.status_code == 101 and not _completes_a_websocket(request, response):
        response.headers["connection"] = "close"
        return False
    return _should_make_pipe(request, response)


def install_upgrade_guard() -> None:
    _http1.should_make_pipe = _pipe_only_when_asked
