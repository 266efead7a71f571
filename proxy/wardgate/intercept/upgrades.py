"""An upstream's 101 to a request that asked for no upgrade closes its connection instead of making it a pipe.

mitmproxy 12 turns the upstream connection into a raw pipe on any 101 (`should_make_pipe`). Wardgate refuses such
an answer (the addon's `upstream_protocol`, a JSON 502), but what the upstream sent after the 101 still arrived as
data of a finished stream: mitmproxy's handler of the connection crashed, and its traceback logged those bytes (an
outside review's finding: a key among them). A server sends 101 only to a request that asks to upgrade (RFC 9110
§15.2.2), so any other 101 is read as the last answer on its connection: marked `connection: close` before
mitmproxy decides, its connection is closed after the head and nothing after it is read.
"""

from __future__ import annotations

from mitmproxy import http
from mitmproxy.proxy.layers.http import _http1

__all__ = ["install_upgrade_guard"]

_should_make_pipe = _http1.should_make_pipe


def _pipe_only_when_asked(request: http.Request, response: http.Response) -> bool:
    if response.status_code == 101 and "upgrade" not in request.headers:
        response.headers["connection"] = "close"
        return False
    return _should_make_pipe(request, response)


def install_upgrade_guard() -> None:
    _http1.should_make_pipe = _pipe_only_when_asked
