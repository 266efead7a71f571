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
    stream = type("Stream", (), {"flow": type("Flow", (), {"request": request})()})()
    (command,) = error_pages._tagging(lambda stream, event: iter([error]), stream, Start())
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
            "message": "Wardgate: the upstream could not be reached, or its answer broke off or could not be read",
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


def test_the_stream_patches_compose_in_either_order_and_install_once(monkeypatch):
    """Error tags and reset notices both wrap HttpStream.handle_event: neither may drop the other, whichever comes
    first (the tags captured mitmproxy's method at import, so installed after the notices they dropped them)."""
    from mitmproxy.proxy.layers.http import HttpStream, _http1, _http2
    from mitmproxy.proxy.layers.http._events import RequestProtocolError

    from wardgate.intercept.stream_resets import client_reset, install_stream_reset_notice

    # install_json_error_pages patches these too: kept to this test.
    monkeypatch.setattr(_http1, "make_error_response", _http1.make_error_response)
    monkeypatch.setattr(_http2.Http2Server, "_handle_event", _http2.Http2Server._handle_event)
    error = SendHttp(ResponseProtocolError(1, "Server disconnected.", ErrorCode.GENERIC_SERVER_ERROR), None)
    for first, second in (
        (error_pages.install_json_error_pages, install_stream_reset_notice),
        (install_stream_reset_notice, error_pages.install_json_error_pages),
    ):
        monkeypatch.setattr(HttpStream, "handle_event", lambda stream, event: iter([error]))
        for install in (first, second, first, second):
            install()
        flow = tflow.tflow()
        error_pages.name_decision(flow.request, "openai", "d-2")
        stream = type("Stream", (), {"flow": flow})()
        reset = RequestProtocolError(1, "client reset", ErrorCode.CANCEL)
        (command,) = HttpStream.handle_event(stream, reset)
        assert client_reset(flow)
        assert answer(502, command.event.message)[2]["error"]["wardgate"]["decision_id"] == "d-2"
        assert len(HttpStream.handle_event.wardgate_wrappers) == 2


def test_mitmproxys_words_about_the_upstream_never_reach_the_client():
    """They name the upstream's address, quote an answer no one judged, or name mitmproxy's own options."""
    for status, message, hidden in (
        (502, "Connect call failed ('10.0.3.7', 8000)", "10.0.3.7"),
        (502, "Cannot parse HTTP response: b'AKIAZ3MSJVEXAMPLE42 leaked'", "AKIAZ3MSJV"),
        (413, "Request body exceeds mitmproxy's body_size_limit.", "mitmproxy"),
    ):
        _, _, body = answer(status, message)
        assert hidden not in json.dumps(body)
        assert body["error"]["message"].startswith("Wardgate: ")
