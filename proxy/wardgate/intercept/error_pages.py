"""mitmproxy's own error answers (upstream unreachable, reset, a malformed request line) as JSON, never HTML.

mitmproxy writes those answers itself (`make_error_response` in its HTTP/1 layer) without asking any addon, so an
API client would get an HTML page it cannot parse. This swaps that one function for one that answers in the error
shape of the request's provider (the OpenAI one when Wardgate never judged the request), carrying the decision id
its audit event has, and as a 504 `upstream_timeout` when the upstream timer ended the wait (upstream_timeout.py).
That function sees only a status and a message, so the HTTP/1 server layer tags the message of an answer to a
request Wardgate knows with what it knows (`name_decision`, `mark_timed_out`), and the page reads the tag off. The
tag is random per process: mitmproxy's messages quote what an upstream sent, and an upstream quoting a tag must not
name a decision or make a 504.
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

__all__ = ["install_json_error_pages", "mark_timed_out", "name_decision"]

_TAG = f" WARDGATE-{secrets.token_hex(8)} "

_CODES = {400: "malformed_request", 413: "body_too_large", 502: "upstream_unavailable", 504: "upstream_timeout"}
_send = _http1.Http1Server.send


@dataclasses.dataclass
class _Known:
    """What Wardgate knows of a request its error answer is for."""

    provider: str = "openai"
    decision_id: str = ""
    timed_out: bool = False


_KNOWN: weakref.WeakKeyDictionary[http.Request, _Known] = weakref.WeakKeyDictionary()


def name_decision(request: http.Request, provider: str, decision_id: str) -> None:
    """mitmproxy's error answer to `request` comes in `provider`'s shape and names `decision_id`."""
    known = _KNOWN.setdefault(request, _Known())
    known.provider, known.decision_id = provider, decision_id


def mark_timed_out(request: http.Request) -> None:
    """mitmproxy's error answer to `request`, whatever its cause, is a 504: the upstream timer ended the wait."""
    _KNOWN.setdefault(request, _Known()).timed_out = True


def _send_tagged(self: _http1.Http1Server, event: Any) -> Generator[Any, Any, None]:
    known = _KNOWN.get(self.request) if isinstance(event, ResponseProtocolError) and self.request else None
    if known is not None:
        event = dataclasses.replace(event, message=f"{event.message}{_TAG}{json.dumps(dataclasses.asdict(known))}")
    yield from _send(self, event)


def _json_error_response(status_code: int, message: str = "") -> bytes:
    message, _, tag = message.partition(_TAG)
    known = _Known(**json.loads(tag)) if tag else _Known()
    if known.timed_out:
        status_code, message = 504, "the upstream did not answer in time"
    code = _CODES.get(status_code, "proxy_error")
    details = {"decision_id": known.decision_id} if known.decision_id else {}
    body = error_body(known.provider, status_code, code, f"Wardgate: {message or code}", details)
    headers = {"content-type": "application/json", "connection": "close"}
    if known.decision_id:
        headers[DECISION_HEADER] = known.decision_id
    assembled: bytes = http1.assemble_response(http.Response.make(status_code, json.dumps(body).encode(), headers))
    return assembled


def install_json_error_pages() -> None:
    _http1.make_error_response = _json_error_response
    _http1.Http1Server.send = _send_tagged  # type: ignore[method-assign]
