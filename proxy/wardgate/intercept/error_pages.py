"""mitmproxy's own error answers (upstream unreachable, reset, a malformed request line) as JSON, never HTML.

mitmproxy writes those answers itself (`make_error_response` in its HTTP/1 layer) without asking any addon, so an
API client would get an HTML page it cannot parse. This swaps that one function for one that answers in the
OpenAI error shape, which the OpenAI SDKs read and the Anthropic SDKs still surface by status and message.
"""

from __future__ import annotations

import json
import secrets

from mitmproxy import http
from mitmproxy.net.http import http1
from mitmproxy.proxy.layers.http import _http1

__all__ = ["UPSTREAM_TIMEOUT_MARK", "install_json_error_pages"]

# What intercept/upstream_timeout.py makes mitmproxy's error message carry when an upstream ran out of time. Random
# per process: mitmproxy's messages quote what an upstream sent, and one sending the mark must not make its own 504.
UPSTREAM_TIMEOUT_MARK = f"WARDGATE-UPSTREAM-TIMEOUT-{secrets.token_hex(8)}"

_CODES = {400: "malformed_request", 413: "body_too_large", 502: "upstream_unavailable", 504: "upstream_timeout"}


def _json_error_response(status_code: int, message: str = "") -> bytes:
    if UPSTREAM_TIMEOUT_MARK in message:
        status_code, message = 504, "the upstream did not answer in time"
    code = _CODES.get(status_code, "proxy_error")
    body = {"error": {"message": f"Wardgate: {message or code}", "type": "server_error", "param": None, "code": code}}
    response = http.Response.make(
        status_code, json.dumps(body).encode(), {"content-type": "application/json", "connection": "close"}
    )
    assembled: bytes = http1.assemble_response(response)
    return assembled


def install_json_error_pages() -> None:
    _http1.make_error_response = _json_error_response
