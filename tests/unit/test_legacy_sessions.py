"""A legacy MCP session's refused POST becomes Wardgate's placeholders: nothing of the caller's goes upstream."""

from __future__ import annotations

import dataclasses
import json

import pytest

from wardgate.pipeline.context import RequestContext
from wardgate.pipeline.mcp_judge import DENIED_METHOD, LegacySession, LegacySessions, session_of
from wardgate.policy import Decision

DENIAL = Decision.deny("secret_detected", "a secret (aws_access_key) was found in the request", status=403)
SESSION = "4cb07e98946040f69bb050d43331a4a9"


def placeholders(body):
    session = LegacySession(("default", "agent"), "digest", "mcp.test", "/messages/")
    sent = session.refused(body, DENIAL) if LegacySession.answerable(body) else None
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


def test_a_post_belongs_to_a_session_only_on_the_server_and_path_that_named_it():
    sessions = LegacySessions()
    stream = RequestContext("GET", "mcp.test", "/sse", "mcp", {"tenant": "default", "subject": "agent"})
    stream.server = "mcp.test"
    opened = sessions.open(stream, SESSION, "/messages/")
    assert (opened.owner, opened.credential, opened.server) == (("default", "agent", None, None), "", "mcp.test")
    assert sessions.posted_to("POST", "mcp.test", f"/messages/?session_id={SESSION}") == (SESSION, opened)
    assert sessions.posted_to("GET", "mcp.test", f"/messages/?session_id={SESSION}") is None
    assert sessions.posted_to("POST", "mcp.test", f"/v1/chat/completions?session_id={SESSION}") is None
    assert sessions.posted_to("POST", "mcp.test", "/messages/?session_id=0123456789abcdef") is None
    # Forward mode sees many servers: the same id elsewhere is not this session (and its owner is still checked).
    assert sessions.posted_to("POST", "other.test", f"/messages/?session_id={SESSION}") is None
    assert sessions.get(SESSION) is opened


@pytest.mark.parametrize(
    ("decision", "answered"),
    [
        (DENIAL, True),
        (Decision.deny("overloaded", "busy", status=503, source="fail_closed"), True),
        (Decision.deny("deadline_exceeded", "slow", status=503, source="fail_closed"), True),
        (Decision.deny("budget_exceeded", "tenant used its tokens", status=429), False),
        (Decision.deny("rate_limited", "too many", status=429), False),
        (Decision.deny("unauthenticated", "who", status=401), False),
        (Decision.deny("usage_unavailable", "redis down", status=503, source="fail_closed"), False),
        (Decision.deny("client_closed", "gone", status=499, source="fail_closed"), False),
        (Decision.deny("internal_error", "ours", status=500, source="fail_closed"), False),
        # A policy combining reasons names the status of its worst: the codes still say it is about the caller.
        (
            Decision(allow=False, status=403, reasons=[{"code": "budget_exceeded", "message": "m"}, DENIAL.reasons[0]]),
            False,
        ),
        (Decision.deny("budget_exceeded", "an operator's status", status=402), False),
    ],
    ids=lambda value: value.code if isinstance(value, Decision) else str(value),
)
def test_only_a_refusal_of_the_request_is_answered_in_the_session_never_one_of_the_caller(decision, answered):
    """An over-budget or unknown caller gets its HTTP error: a placeholder would still reach the server for it."""
    ctx = RequestContext("POST", "mcp.test", "/messages/", "mcp", {}, in_session=True)
    assert ctx.answered_in_session(decision) is answered
    assert not dataclasses.replace(ctx, in_session=False).answered_in_session(decision)
