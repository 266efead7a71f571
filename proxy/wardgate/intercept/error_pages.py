"""mitmproxy's own error answers (upstream unreachable, reset, a malformed request line) as JSON, never HTML.

mitmproxy writes those answers itself (`make_error_response` in its HTTP/1 layer) without asking any addon, so an
API client would get an HTML page it cannot parse. This swaps that one function for one that answers in the error
shape of the request's provider (the OpenAI one when Wardgate never judged the request), carrying the decision id
its audit event has. That function sees only a status and a message, so the HTTP/1 server layer tags the message of
an answer to a judged request with them (`name_decision`), and the page reads the tag off.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import weakref
from collections.abc import Generator
from typing import Any

from mitmproxy import http
from mitmproxy.net.http import http1
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.proxy.layers.http._events import ResponseProtocolError

from wardgate.formats import error_body
from wardgate.intercept.responses import DECISION_HEADER

__all__ = ["UPSTREAM_TIMEOUT_MARK", "install_json_error_pages", "name_decision"]

# What intercept/upstream_timeout.py makes mitmproxy's error message carry when an upstream ran out of time. Random
# per process, like the decision tag: mitmproxy's messages quote what an upstream sent, and one sending a mark must not
# make its own 504 or name a decision.
UPSTREAM_TIMEOUT_MARK = f"WARDGATE-UPSTREAM-TIMEOUT-{secrets.token_hex(8)}"
_DECISION_TAG = f" WARDGATE-DECISION-{secrets.token_hex(8)} "

_CODES = {400: "malformed_request", 413: "body_too_large", 502: "upstream_unavailable", 504: "upstream_timeout"}
_DECISIONS: weakref.WeakKeyDictionary[http.Request, tuple[str, str]] = weakref.WeakKeyDictionary()
_send = _http1.Http1Server.send


def name_decision(request: http.Request, provider: str, decision_id: str) -> None:
    """mitmproxy's error answer to `request` comes in `provider`'s shape and names `decision_id`."""
    _DECISIONS[request] = (provider, decision_id)


def _send_tagged(self: _http1.Http1Server, event: Any) -> Generator[Any, Any, None]:
    named = _DECISIONS.get(self.request) if isinstance(event, ResponseProtocolError) and self.request else None
    if named is not None:
        event = dataclasses.replace(event, message=f"{event.message}{_DECISION_TAG}{named[0]} {named[1]}")
    yield from _send(self, event)


def _json_error_response(status_code: int, message: str = "") -> bytes:
    message, tagged, named = message.partition(_DECISION_TAG)
    provider, _, decision_id = named.partition(" ") if tagged else ("openai", "", "")
    if UPSTREAM_TIMEOUT_MARK in message:
        status_code, message = 504, "the upstream did not answer in time"
    code = _CODES.get(status_code, "proxy_error")
    details = {"decision_id": decision_id} if decision_id else {}
    body = error_body(provider, status_code, code, f"Wardgate: {message or code}", details)
    headers = {"content-type": "application/json", "connection": "close"}
    if decision_id:
        headers[DECISION_HEADER] = decision_id
    assembled: bytes = http1.assemble_response(http.Response.make(status_code, json.dumps(body).encode(), headers))
    return assembled


def install_json_error_pages() -> None:
    _http1.make_error_response = _json_error_response
    _http1.Http1Server.send = _send_tagged  # type: ignore[method-assign]
