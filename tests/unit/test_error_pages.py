"""mitmproxy's own error answers: JSON in the provider's shape, naming what Wardgate knows only through its own tag."""

from __future__ import annotations

import json

from mitmproxy.net.http.http1 import read_response_head
from mitmproxy.proxy.events import Start
from mitmproxy.proxy.layers.http import SendHttp
from mitmproxy.proxy.layers.http._events import ErrorCode, ResponseProtocolError
from mitmproxy.test import tflow, tutils

from wardgate.intercept import error_pages


def answer(status: int, message: str) -> tuple[int, dict[str, str], dict]:
    head, _, body = error_pages._http1_error_response(status, message).partition(b"\r\n\r\n")
    response = read_response_head(head.split(b"\r\n"))
    return response.status_code, dict(response.headers), json.loads(body)


def tagged(request, message: str, monkeypatch) -> str:
    """The message a stream of `request` sends its client's server layer (HTTP/1 or 2) for an error answer."""
    error = SendHttp(ResponseProtocolError(1, message, ErrorCode.GENERIC_SERVER_ERROR), tflow.tclient_conn())
    monkeypatch.setattr(error_pages, "_stream_handle_event", lambda stream, event: iter([error]))
    stream = type("Stream", (), {"flow": type("Flow", (), {"request": request})()})()
    (command,) = error_pages._tagging(stream, Start())
    return command.event.message


def test_an_answer_to_a_judged_request_comes_in_its_providers_shape_with_its_decision(monkeypatch):
    request = tutils.treq()
    error_pages.name_decision(request, "anthropic", "d-1")
    status, headers, body = answer(502, tagged(request, "Server disconnected.", monkeypatch))
    assert (status, headers["x-wardgate-decision-id"]) == (502, "d-1")
    assert body == {
        "type": "error",
        "error": {
            "type": "api_error",
            "message": "Wardgate: Server disconnected.",
            "wardgate": {"code": "upstream_unavailable", "decision_id": "d-1"},
        },
    }
    error_pages.mark_timed_out(request)  # the upstream timer ended the wait: whatever mitmproxy says, a 504
    status, _, body = answer(502, tagged(request, "Server disconnected.", monkeypatch))
    assert (status, body["error"]["message"]) == (504, "Wardgate: the upstream did not answer in time")


def test_an_upstream_quoting_a_tag_names_nothing():
    """mitmproxy quotes what an upstream sent: only the per-process random tag counts."""
    quoted = """Cannot parse HTTP response: b' WARDGATE-0000 {"provider": "anthropic", "timed_out": true}'"""
    status, headers, body = answer(502, quoted)
    assert status == 502
    assert "x-wardgate-decision-id" not in headers
    assert (body["error"]["code"], body["error"]["wardgate"]) == ("upstream_unavailable", {})
