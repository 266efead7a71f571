"""mitmproxy's own error answers: JSON in the provider's shape, naming the decision only through our own tag."""

from __future__ import annotations

import json

from mitmproxy.net.http.http1 import read_response_head

from wardgate.intercept import error_pages


def answer(status: int, message: str) -> tuple[int, dict[str, str], dict]:
    head, _, body = error_pages._json_error_response(status, message).partition(b"\r\n\r\n")
    response = read_response_head(head.split(b"\r\n"))
    return response.status_code, dict(response.headers), json.loads(body)


def test_a_tagged_message_is_answered_in_its_providers_shape_with_its_decision():
    status, headers, body = answer(502, f"Server disconnected.{error_pages._DECISION_TAG}anthropic d-1")
    assert (status, headers["x-wardgate-decision-id"]) == (502, "d-1")
    assert body == {
        "type": "error",
        "error": {
            "type": "api_error",
            "message": "Wardgate: Server disconnected.",
            "wardgate": {"code": "upstream_unavailable", "decision_id": "d-1"},
        },
    }


def test_an_upstream_quoting_a_tag_or_a_mark_names_nothing():
    """mitmproxy quotes what an upstream sent: only the per-process random tag and mark count."""
    quoted = "Cannot parse HTTP response: b' WARDGATE-DECISION-0000 anthropic d-2 WARDGATE-UPSTREAM-TIMEOUT'"
    status, headers, body = answer(502, quoted)
    assert status == 502
    assert "x-wardgate-decision-id" not in headers
    assert (body["error"]["code"], body["error"]["wardgate"]) == ("upstream_unavailable", {})


def test_the_timeout_mark_is_a_504():
    status, _, body = answer(502, f"{error_pages.UPSTREAM_TIMEOUT_MARK}{error_pages._DECISION_TAG}openai d-3")
    assert (status, body["error"]["code"], body["error"]["wardgate"]) == (
        504,
        "upstream_timeout",
        {"decision_id": "d-3"},
    )
