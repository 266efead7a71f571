"""Recorded policy inputs: what the real Guard writes holds no text, and replay decides it again."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import AWS_KEY, POLICIES
from tests.integration.helpers import audit_events, policy_copy
from wardgate.audit import AuditLog
from wardgate.config import FailClosedSettings, ScannerSettings
from wardgate.errors import PolicyError
from wardgate.models import Exchange, Segment, ToolCall
from wardgate.pipeline import Guard, Masker, RequestContext
from wardgate.policy import Decision, EmbeddedEngine
from wardgate.policy.replay import INCOMPLETE, NO_INPUT, NOT_JUDGED, read_events, replay
from wardgate.scanners import build_scanners

EMAIL = "jane.doe@example.org"
IDENTITY = {"subject": "svc", "tenant": "default", "authenticated": True, "source": "api_key", "roles": []}


@pytest.fixture
def engine():
    engine = EmbeddedEngine(POLICIES, timeout=5)
    engine.load()
    yield engine
    engine.shutdown()


def context() -> RequestContext:
    return RequestContext("POST", "api.openai.com", "/v1/chat/completions", "openai", IDENTITY)


def chat(text: str) -> Exchange:
    return Exchange(
        "openai", "chat", "gpt-4o-mini", False, [Segment("user", "prompt", text, ("messages", 0, "content"))]
    )


@pytest.fixture(scope="module")
def scanners():
    # Secrets, links and PII from patterns (no spaCy, no tagger): the e-mail is found without the models.
    settings = ScannerSettings.model_validate(
        {"injection": {"enabled": False}, "pii": {"spacy": False, "ner": {"model": None}}}
    )
    built = build_scanners(settings)
    yield built
    for scanner in built.all:
        getattr(scanner, "close", lambda: None)()


def guard(engine, audit, scanners, **kwargs) -> Guard:
    return Guard(scanners.all, engine, audit, masker=Masker(), fail_closed=FailClosedSettings(), scan_timeout=10,
                 record_input=True, stream_scanners=scanners.stream, **kwargs)  # fmt: skip


async def test_a_recorded_input_holds_no_secret_and_no_email(tmp_path, engine, scanners):
    audit = AuditLog(tmp_path / "audit.jsonl")
    prompt = f"deploy with {AWS_KEY} and mail the result to {EMAIL}"
    verdict = await guard(engine, audit, scanners).judge(context(), "request", chat(prompt), has_body=True)
    audit.close()
    assert verdict.decision.code == "secret_detected"
    kinds = {finding.kind for finding in verdict.findings}
    assert "pii:EMAIL_ADDRESS" in kinds
    assert any(kind.startswith("secret:") for kind in kinds)

    line = (tmp_path / "audit.jsonl").read_text()
    (event,) = audit_events(tmp_path / "audit.jsonl")
    recorded = event["input"]
    assert recorded["request"]["segments"] == [{"role": "user", "source": "prompt", "chars": len(prompt)}]
    assert {finding["kind"] for finding in recorded["findings"]} == kinds
    assert event["input_omitted"] == []
    for value in (AWS_KEY, EMAIL, "jane.doe", "example.org", "deploy with"):
        assert value not in line


async def test_tool_call_arguments_are_left_out_of_the_record(tmp_path, engine, scanners):
    audit = AuditLog(tmp_path / "audit.jsonl")
    call = ToolCall("call_1", "send_email", json.dumps({"to": EMAIL, "body": "hi"}))
    await guard(engine, audit, scanners).judge_tool_call(context(), chat("send it"), call, "llm")
    audit.close()
    (event,) = audit_events(tmp_path / "audit.jsonl")
    assert EMAIL not in (tmp_path / "audit.jsonl").read_text()
    assert event["input"]["tool_call"] == {"id": "call_1", "name": "send_email", "arguments_chars": len(call.arguments),
                                           "source": "llm"}  # fmt: skip
    assert event["input_omitted"] == ["tool_call.arguments"]
    # Deciding it again without the arguments could mislead: replay counts it and skips it.
    report = replay(read_events([tmp_path / "audit.jsonl"]), engine.evaluate_blocking)
    assert report.skipped == {INCOMPLETE: 1}
    assert report.results == []


async def test_replay_reports_changes_and_keeps_fail_modes_apart(tmp_path, engine, scanners):
    audit = AuditLog(tmp_path / "audit.jsonl")
    wardgate = guard(engine, audit, scanners)
    await wardgate.judge(context(), "request", chat("hello there"), has_body=True)
    await wardgate.judge(context(), "request", chat(f"key {AWS_KEY}"), has_body=True)
    wardgate.refuse(context(), "request", Decision.deny("body_too_large", "too large", status=413))

    class Broken:
        name = "broken"

        async def scan(self, segments):
            raise RuntimeError("model file is gone")

    failing = Guard([Broken()], engine, audit, masker=Masker(), fail_closed=FailClosedSettings(), scan_timeout=10,
                    record_input=True)  # fmt: skip
    await failing.judge(context(), "request", chat("hello"), has_body=True)
    audit.close()
    # An event from before inputs were recorded: it has the hash, not the input.
    with (tmp_path / "audit.jsonl").open("a") as handle:
        handle.write(json.dumps({"event": "decision", "decision_id": "old", "input_hash": "ab", "input": None}) + "\n")
        handle.write("{torn\n")

    candidate = policy_copy(tmp_path, secrets={"request": "mask", "response": "mask"})
    candidate_engine = EmbeddedEngine(candidate, timeout=5)
    candidate_engine.load()
    report = replay(read_events([tmp_path / "audit.jsonl"]), candidate_engine.evaluate_blocking)
    candidate_engine.shutdown()

    assert report.events == 5
    assert report.skipped == {NO_INPUT: 1, NOT_JUDGED: 1}
    assert report.unreadable == 1
    document = report.to_json()
    assert document["replayed"] == 3
    assert document["changed"] == 1
    (change,) = document["changes"]
    assert change["phase"] == "request"
    assert change["before"] == {"allow": False, "code": "secret_detected"}
    assert change["after"] == {"allow": True, "code": "allowed"}
    (fail_mode,) = document["fail_mode"]
    assert fail_mode["source"] == "fail_closed"
    assert fail_mode["before"] == {"allow": False, "code": "scanner_error"}
    assert fail_mode["after"] == {"allow": True, "code": "allowed"}
    table = "\n".join(report.table())
    assert "5 decision events: 3 replayed, 1 changed" in table
    assert ["default", "request", "deny secret_detected", "allow allowed", "1"] in [
        re.split(r"\s{2,}", row) for row in report.table()
    ]


def test_a_candidate_that_cannot_decide_is_a_deny_with_its_error():
    def broken(policy_input):
        raise PolicyError("data.wardgate.decision is undefined")

    event = {"event": "decision", "decision_id": "d1", "phase": "request", "identity": {"tenant": "acme"},
             "result": {"allow": True, "code": "allowed", "source": "policy"}, "input": {"phase": "request"},
             "input_omitted": []}  # fmt: skip
    (change,) = replay([event], broken).to_json()["changes"]
    assert change["after"] == {"allow": False, "code": "policy_engine_error"}
    assert change["tenant"] == "acme"
    assert "undefined" in change["error"]
