"""mitmproxy's own error answers (upstream unreachable, reset, a malformed request line) as JSON, never HTML.

mitmproxy writes those answers itself without asking any addon (`make_error_response` in its HTTP/1 server layer,
a branch of its HTTP/2 one), so an API client would get an HTML page it cannot parse. Both are replaced by an answer
in the error shape of the request's provider (the OpenAI one when Wardgate never judged the request), carrying the
decision id its audit event has, and as a 504 `upstream_timeout` when the upstream timer ended the wait
(upstream_timeout.py). The server layers see only a status and a message, so the stream that sends the error tags
its message with what Wardgate knows of its request (`name_decision`, `mark_timed_out`), and the page reads the tag
off. The tag is random per process: mitmproxy's messages quote what an upstream sent, and an upstream quoting a tag
must not name a decision or make a 504. (HTTP/3, which Wardgate does not serve, keeps mitmproxy's page.)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import weakref
from collections.abc import Callable, Generator
from typing import Any

from mitmproxy import http
from mitmproxy.net.http import http1
from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layers.http import HttpStream, SendHttp, _http1, _http2
from mitmproxy.proxy.layers.http._events import ErrorCode, ResponseData, ResponseProtocolError

from wardgate.audit.redaction import unquoted
from wardgate.formats import error_body
from wardgate.intercept.head_limits import TOO_MANY_FIELDS
from wardgate.intercept.responses import DECISION_HEADER
from wardgate.intercept.stream_events import HandleEvent, wrap_stream_events

__all__ = [
    "UPSTREAM_UNAVAILABLE",
    "answer_instead",
    "end_with_before_break",
    "install_json_error_pages",
    "mark_timed_out",
    "name_decision",
    "refuse_stream",
    "tagged_for",
]

logger = logging.getLogger(__name__)
_TAG = f" WARDGATE-{secrets.token_hex(8)} "

_CODES = {400: "malformed_request", 408: "request_timeout", 413: "body_too_large", 431: "headers_too_large",
          502: "upstream_unavailable", 503: "overloaded", 504: "upstream_timeout"}  # fmt: skip
UPSTREAM_UNAVAILABLE = "the upstream could not be reached, or its answer broke off or could not be read"
_OWN_WORDS = {413: "the request body is larger than this proxy accepts (max_body_bytes)", 502: UPSTREAM_UNAVAILABLE}
_h2_server_handle_event = _http2.Http2Server._handle_event


@dataclasses.dataclass
class _Known:
    """What Wardgate knows of a request its error answer is for."""

    provider: str = "openai"
    decision_id: str = ""
    status: int = 0  # with `message`: Wardgate's own answer, whatever mitmproxy's error says (0: none)
    message: str = ""


_KNOWN: weakref.WeakKeyDictionary[http.Request, _Known] = weakref.WeakKeyDictionary()
# The last bytes of a started stream whose upstream broke off (its provider's error event), written before mitmproxy
# ends the client's side: without them the client saw a stream that merely stopped (an outside fault run).
_LAST_WORDS: weakref.WeakKeyDictionary[http.Request, bytes] = weakref.WeakKeyDictionary()


def name_decision(request: http.Request, provider: str, decision_id: str) -> None:
    """mitmproxy's error answer to `request` comes in `provider`'s shape and names `decision_id`."""
    known = _KNOWN.setdefault(request, _Known())
    known.provider, known.decision_id = provider, decision_id


def answer_instead(request: http.Request, status: int, message: str) -> None:
    """mitmproxy's error answer to `request`, whatever its cause, is Wardgate's `status` saying `message`."""
    known = _KNOWN.setdefault(request, _Known())
    known.status, known.message = status, message


def mark_timed_out(request: http.Request) -> None:
    """mitmproxy's error answer to `request`, whatever its cause, is a 504: the upstream timer ended the wait."""
    answer_instead(request, 504, "the upstream did not answer in time")


def refuse_stream(
    inner: HandleEvent, stream: HttpStream, status: int, message: str
) -> Generator[commands.Command, Any, None]:
    """End `stream`, whose request is still arriving, with Wardgate's `status` answer saying `message`: mitmproxy's
    own error path (the flow's error hook, which audits it, then the answer) as for an upstream's failure."""
    answer_instead(stream.flow.request, status, message)
    yield from inner(stream, ResponseProtocolError(stream.stream_id, message, ErrorCode.GENERIC_CLIENT_ERROR))
    # What arrived is let go now, not when the collector frees the stream (mitmproxy's streams are reference cycles).
    stream.request_body_buf.clear()


def end_with_before_break(request: http.Request, data: bytes) -> None:
    """When the upstream's break ends the answer to `request` (a stream already sent its headers), the client gets
    `data` first."""
    _LAST_WORDS[request] = data


def tagged_for(request: http.Request, message: str) -> str:
    """`message` with what Wardgate knows of `request` (its provider, its decision), for an error answer to it."""
    if (known := _KNOWN.get(request)) is None:
        return message
    return f"{message}{_TAG}{json.dumps(dataclasses.asdict(known))}"


def _tagging(inner: HandleEvent, self: HttpStream, event: events.Event) -> Generator[commands.Command, Any, None]:
    """Around HttpStream.handle_event: an error this stream sends its client carries what Wardgate knows of the
    request, and a stream that broke off gets its last words first."""
    for command in inner(self, event):
        flow = getattr(self, "flow", None)
        if isinstance(command, SendHttp) and isinstance(command.event, ResponseProtocolError) and flow is not None:
            if (last := _LAST_WORDS.pop(flow.request, None)) is not None:
                yield SendHttp(ResponseData(command.event.stream_id, last), command.connection)
            if (tagged := tagged_for(flow.request, command.event.message)) != command.event.message:
                command = SendHttp(dataclasses.replace(command.event, message=tagged), command.connection)
        yield command


# Audits a refusal mitmproxy answers itself for a request no hook saw (a malformed request line, a header line with
# no colon, Content-Length with Transfer-Encoding): (status, code) -> the audited decision's id. Set at install.
_audit_refusal: Callable[[int, str], str] | None = None
# The client's own request was refused; a 502 is the upstream's, audited by the addon.
_REFUSALS = frozenset({400, 408, 413, 431})


def _error_answer(status_code: int, message: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the answer to an error mitmproxy would describe as (status_code, message)."""
    message, _, tag = message.partition(_TAG)
    known = _Known(**json.loads(tag)) if tag else _Known()
    if not tag and status_code in _REFUSALS and _audit_refusal is not None:
        # Every refusal is audited (an outside review: these had no event). The answer goes out either way: nothing
        # was forwarded, and a failed write already marked the trail unhealthy (readiness).
        try:
            known.decision_id = _audit_refusal(status_code, _CODES[status_code])
        except Exception:
            logger.exception("could not audit a refusal of an unreadable request")
    if known.status:
        status_code, message = known.status, known.message
    elif status_code in _OWN_WORDS:
        # mitmproxy's words name the upstream's address (`Connect call failed ('10.0.3.7', 8000)`), quote bytes of an
        # answer no one judged (`Cannot parse HTTP response: b'…'`) or its own option names (an outside review): the
        # operator's log keeps them, the client gets Wardgate's.
        logger.warning("answering %d for mitmproxy: %s", status_code, unquoted(message))
        message = _OWN_WORDS[status_code]
    code = _CODES.get(status_code, "proxy_error")
    details = {"decision_id": known.decision_id} if known.decision_id else {}
    body = error_body(known.provider, status_code, code, f"Wardgate: {message or code}", details)
    headers = {"content-type": "application/json"}
    if status_code == 503:  # Wardgate is full (intercept/stream_buffers.py): the client may come back soon
        headers["retry-after"] = "1"
    if known.decision_id:
        headers[DECISION_HEADER] = known.decision_id
    return status_code, headers, json.dumps(body).encode()


def _http1_error_response(status_code: int, message: str = "") -> bytes:
    if message == TOO_MANY_FIELDS:  # refused before mitmproxy read the head, which makes it a 400
        status_code = 431
    status_code, headers, body = _error_answer(status_code, message)
    response = http.Response.make(status_code, body, {**headers, "connection": "close"})
    assembled: bytes = http1.assemble_response(response)
    return assembled


def _h2_server_error_first(self: _http2.Http2Server, event: events.Event) -> Generator[commands.Command, Any, None]:
    """Http2Server._handle_event: the error answer mitmproxy would write as HTML (the same conditions as its own
    branch: the stream is open and has sent no headers yet) is written as JSON; everything else is mitmproxy's."""
    if (
        not isinstance(event, ResponseProtocolError)
        or (status := event.code.http_status_code()) is None
        or not self.is_open_for_us(event.stream_id)
        or self.h2_conn.streams[event.stream_id].state_machine.headers_sent
    ):
        yield from _h2_server_handle_event(self, event)
        return
    status, headers, body = _error_answer(status, event.message)
    fields = [(b":status", b"%d" % status), *((name.encode(), value.encode()) for name, value in headers.items())]
    self.h2_conn.send_headers(event.stream_id, fields)
    self.h2_conn.send_data(event.stream_id, body, end_stream=True)
    yield commands.SendData(self.conn, self.h2_conn.data_to_send())


def install_json_error_pages(audit_refusal: Callable[[int, str], str] | None = None) -> None:
    """`audit_refusal(status, code)` audits a refusal of a request Wardgate never saw and returns its decision id."""
    global _audit_refusal
    _audit_refusal = audit_refusal
    _http1.make_error_response = _http1_error_response
    wrap_stream_events(_tagging)
    _http2.Http2Server._handle_event = _h2_server_error_first  # type: ignore[method-assign]
