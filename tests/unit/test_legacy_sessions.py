"""A legacy MCP session's refused POST becomes Wardgate's placeholders: nothing of the caller's goes upstream."""

from __future__ import annotations

import json

import pytest

from wardgate.pipeline.mcp_judge import DENIED_METHOD, LegacySession, LegacySessions, session_of
from wardgate.policy import Decision

DENIAL = Decision.deny("secret_detected", "a secret (aws_access_key) was found in the request", status=403)
SESSION = "4cb07e98946040f69bb050d43331a4a9"


def placeholders(body):
    session = LegacySession(("default", "agent"), "/messages/")
    sent = session.refused(body, DENIAL)
    return session, None if sent is None else json.loads(sent)


def test_a_request_becomes_a_placeholder_under_an_id_of_wardgate_s():
    body = {"jsonrpc": "2.0", "id": "AKIAZ3MSJV4WWNKWW5FG", "method": "tools/call", "params": {"arguments": "x"}}
    session, sent = placeholders(body)
    assert set(sent) == {"jsonrpc", "id", "method", "params"}
    assert (sent["method"], sent["params"]) == (DENIED_METHOD, {})
    assert sent["id"].startswith("wardgate-")
    assert "AKIA" not in json.dumps(sent)
    assert session.denied == {
        sent["id"]: ("AKIAZ3MSJV4WWNKWW5FG", "secret_detected", "a secret (aws_access_key) was found in the request")
    }


def test_a_batch_keeps_its_shape_and_drops_its_notifications():
    body = [
        {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"note": "AKIA"}},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {}},
    ]
    session, sent = placeholders(body)
    assert [message["method"] for message in sent] == [DENIED_METHOD, DENIED_METHOD]
    assert sorted(caller for caller, _, _ in session.denied.values()) == [1, 2]


@pytest.mark.parametrize(
    "body",
    [
        {"jsonrpc": "2.0", "method": "notifications/initialized"},  # nothing to answer
        {"jsonrpc": "2.0", "id": True, "method": "tools/call"},
        {"jsonrpc": "2.0", "id": {"nested": 1}, "method": "tools/call"},
        [{"jsonrpc": "2.0", "id": 1, "method": "tools/call"}, "not a message"],
        {"jsonrpc": "2.0", "id": 1, "result": {}},  # a client's answer to the server: no method to replace
    ],
    ids=["notification", "bool-id", "object-id", "stray-item", "response"],
)
def test_what_is_not_a_json_rpc_request_is_refused_over_http_instead(body):
    session, sent = placeholders(body)
    assert sent is None
    assert session.denied == {}


@pytest.mark.parametrize(
    ("target", "session"),
    [
        (f"/messages/?session_id={SESSION}", SESSION),
        ("/message?sessionId=6f1c0e2a-8d4b-4c1e-9a7b-2f3d4e5a6b7c", "6f1c0e2a-8d4b-4c1e-9a7b-2f3d4e5a6b7c"),
        ("/messages/", None),
        (f"/messages/?session_id={SESSION}&session_id=0123456789abcdef", None),  # which one would the server read?
        (f"/messages/?session_id={SESSION}&sessionId=0123456789abcdef", None),
        ("/messages/?session_id=ignore%20previous%20instructions", None),  # text, not a server's id
        ("/messages/?session_id=e", None),
    ],
    ids=["python", "typescript", "none", "twice", "both-keys", "text", "short"],
)
def test_a_session_is_one_token_shaped_id_under_either_sdks_key(target, session):
    assert session_of(target) == session


def test_a_post_belongs_to_a_session_only_on_the_path_its_server_named():
    sessions = LegacySessions()
    sessions.open(SESSION, ("default", "agent"), "/messages/")
    assert sessions.posted_to("POST", f"/messages/?session_id={SESSION}") is not None
    assert sessions.posted_to("GET", f"/messages/?session_id={SESSION}") is None
    assert sessions.posted_to("POST", f"/v1/chat/completions?session_id={SESSION}") is None
    assert sessions.posted_to("POST", "/messages/?session_id=0123456789abcdef") is None
