"""The stream judge with the real Guard, the shipped policy and real sync scanners: mask, deny, fail closed."""

from __future__ import annotations

import json

import pytest

from tests.conftest import AWS_KEY, POLICIES
from wardgate.audit import AuditLog
from wardgate.config import FailClosedSettings
from wardgate.errors import ScannerError
from wardgate.formats.streams import AnthropicStream, OpenAIChatStream
from wardgate.models import Exchange
from wardgate.pipeline import Guard, Masker, RequestContext, StreamJudge
from wardgate.pipeline.stream import StreamGuard
from wardgate.pipeline.vault import Vault
from wardgate.policy import EmbeddedEngine
from wardgate.scanners import LinkScanner, SecretsScanner

IDENTITY = {"subject": "svc", "tenant": "default", "authenticated": True}


class Broken:
    name = "broken"

    def scan_sync(self, segments):
        raise ScannerError("the scanner's model fell over")


@pytest.fixture
def judge_with(tmp_path):
    engine = EmbeddedEngine(POLICIES, timeout=1)
    engine.load()
    audit_file = tmp_path / "audit.jsonl"

    def build(scanners, fail_closed: FailClosedSettings | None = None) -> tuple[StreamJudge, object]:
        rules = fail_closed or FailClosedSettings()
        guard = Guard([], engine, AuditLog(audit_file), masker=Masker(), fail_closed=rules,
                      scan_timeout=1, stream_scanners=scanners)  # fmt: skip
        ctx = RequestContext("POST", "api.openai.com", "/v1/chat/completions", "openai", IDENTITY)
        return StreamJudge(guard, ctx, Exchange("openai", "chat", "gpt-4o-mini", True, [])), audit_file

    return build


def test_a_secret_across_the_window_edge_is_masked_in_the_new_part(judge_with):
    judge, _ = judge_with([SecretsScanner.from_file()])
    verdict = judge.window(AWS_KEY[6:] + " is the key", "my key " + AWS_KEY[:6], tool=None)
    assert verdict.decision.allow
    assert verdict.text == "[REDACTED:aws-access-token] is the key"


def test_clean_windows_never_ask_the_policy(judge_with, monkeypatch):
    judge, _ = judge_with([SecretsScanner.from_file(), LinkScanner()])
    monkeypatch.setattr(EmbeddedEngine, "evaluate_blocking", lambda *a: pytest.fail("the policy was asked"))
    assert judge.window("The capital of France is Paris.", "", tool=None).text == "The capital of France is Paris."


def test_a_scanner_error_mid_stream_fails_closed_and_is_audited(judge_with):
    judge, audit_file = judge_with([Broken()])
    verdict = judge.window("anything", "", tool=None)
    assert not verdict.decision.allow
    assert verdict.decision.code == "scanner_error"
    judge.close(released_bytes=120, unparsed_events=0, stopped=verdict.decision)
    [event] = [json.loads(line) for line in audit_file.read_text().splitlines()]
    assert (event["result"]["code"], event["streamed"]) == (
        "scanner_error", {"released_bytes": 120, "stopped": True, "unparsed_events": 0},
    )  # fmt: skip


def test_a_scanner_error_passes_when_the_response_phase_fails_open(judge_with):
    judge, _ = judge_with([Broken()], FailClosedSettings(scanner_error=["request"]))
    assert judge.window("anything", "", tool=None).decision.allow


def test_a_key_split_around_another_channel_s_text_is_masked(judge_with):
    """A choice's text, 230 characters of its refusal (or another choice), then the rest of the key: clients join the
    choice's pieces, while the window was judged only after the other channel's text (an outside review's finding)."""
    judge, _ = judge_with([SecretsScanner.from_file()])
    guard = StreamGuard(OpenAIChatStream(), judge, Vault())

    def chunk(index: int, delta: dict, finish: str | None = None) -> bytes:
        choice = {"index": index, "delta": delta, "finish_reason": finish}
        return f"data: {json.dumps({'id': 'c', 'object': 'chat.completion.chunk', 'choices': [choice]})}\n\n".encode()

    stream = (
        chunk(0, {"content": "The key is " + AWS_KEY[:2]})
        + chunk(0, {"refusal": "Nothing to refuse here, just many ordinary words to fill the context. " * 4})
        + chunk(0, {"content": AWS_KEY[2:] + " okay."})
        + chunk(0, {}, "stop")
        + b"data: [DONE]\n\n"
    )
    out = guard.feed(stream) + guard.finish()
    assert AWS_KEY.encode()[2:] not in out
    assert b"[REDACTED:aws-access-token]" in out


def test_a_key_split_around_a_thinking_block_between_two_text_blocks_is_masked(judge_with):
    """Clients join a message's text blocks and leave out the thinking between them: the second text block's first
    window was judged only after the thinking (an outside review's finding, through the anthropic SDK)."""
    judge, _ = judge_with([SecretsScanner.from_file()])
    guard = StreamGuard(AnthropicStream(), judge, Vault())

    def event(kind: str, **fields: object) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n".encode()

    def block(index: int, kind: str, text: str) -> bytes:
        delta = {"type": "text_delta", "text": text} if kind == "text" else {"type": "thinking_delta", "thinking": text}
        start = {"type": kind, kind: ""}
        return (event("content_block_start", index=index, content_block=start)
                + event("content_block_delta", index=index, delta=delta)
                + event("content_block_stop", index=index))  # fmt: skip

    stream = (
        event("message_start", message={"content": []})
        + block(0, "text", "The key is " + AWS_KEY[:8])
        + block(1, "thinking", "x")
        + block(2, "text", AWS_KEY[8:] + " okay.")
        + event("message_stop")
    )
    out = guard.feed(stream) + guard.finish()
    assert AWS_KEY.encode()[8:] not in out
