"""The request stages without a proxy: real embedded OPA, real secrets scanner, real audit file."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time

import pytest

from tests.conftest import AWS_KEY, OPENAI_KEY, POLICIES
from wardgate.audit import AuditLog
from wardgate.config import FailClosedSettings, IdentitySettings
from wardgate.identity import build_resolver, hash_key
from wardgate.limits import UsageUnavailable
from wardgate.limits.store import MemoryUsageStore
from wardgate.pipeline import Guard, Masker, RequestContext
from wardgate.pipeline.admission import Admission
from wardgate.pipeline.destination import Destination
from wardgate.pipeline.request import Forward, IncomingRequest, Refuse, RequestPipeline, RequestRules
from wardgate.pipeline.usage import UsageMeter
from wardgate.policy import Decision
from wardgate.policy.engine import EmbeddedEngine
from wardgate.scanners import SecretsScanner


class CountingScanner:
    """Counts the segments it was asked to scan: a cheap refusal must never get here."""

    name = "counting"

    def __init__(self) -> None:
        self.scanned = 0

    async def scan(self, segments):
        self.scanned += len(segments)
        return []


@pytest.fixture
async def pipeline(tmp_path):
    keys = tmp_path / "keys.yaml"
    keys.write_text(f"keys:\n  - {{sha256: {hash_key(OPENAI_KEY)}, subject: svc, tenant: default}}\n")
    engine = EmbeddedEngine(POLICIES, timeout=1)
    engine.load()
    counting = CountingScanner()
    audit = AuditLog(tmp_path / "audit.jsonl")
    guard = Guard([SecretsScanner.from_file(), counting], engine, audit, masker=Masker(),
                  fail_closed=FailClosedSettings(), scan_timeout=2)  # fmt: skip
    identity = build_resolver(IdentitySettings(api_keys={"enabled": True, "file": keys}), "default")
    rules = RequestRules(
        max_body_bytes=64 * 1024,
        max_scan_chars=10_000,
        max_body_nodes=1_000,
        max_segments=500,
        deadline_s=5,
        binds_host=True,
    )
    built = RequestPipeline(guard, identity, rules, usage=UsageMeter(None, fail_closed=False),
                            admission=Admission(concurrent=1, queue=0, wait_s=0.05))  # fmt: skip
    built.counting, built.audit_file = counting, tmp_path / "audit.jsonl"
    yield built
    audit.close()
    await engine.close()


def incoming(
    body: dict | bytes,
    *,
    key: str | None = OPENAI_KEY,
    host: str = "api.openai.com",
    content_type: str = "application/json",
    **headers: str,
) -> IncomingRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    auth = {"authorization": f"Bearer {key}"} if key else {}
    return IncomingRequest("POST", "/v1/chat/completions", {"content-type": content_type, **auth, **headers},
                           [], raw, Destination("api.openai.com", "api.openai.com", host))  # fmt: skip


def chat(text: str) -> dict:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}


def ctx() -> RequestContext:
    return RequestContext("POST", "api.openai.com", "/v1/chat/completions", "openai", {})


def events(pipeline) -> list[dict]:
    return [json.loads(line) for line in pipeline.audit_file.read_text().splitlines()]


async def test_a_clean_request_is_forwarded_with_the_credential_stripped(pipeline):
    request = incoming(chat("hello"))
    outcome = await pipeline.run(ctx(), request)
    assert isinstance(outcome, Forward)
    assert "authorization" not in request.headers
    assert outcome.headers["accept-encoding"] == "identity"
    assert [e["result"]["allow"] for e in events(pipeline)] == [True]


@pytest.mark.parametrize(
    ("request_", "code", "status"),
    [
        (incoming(chat("hello"), key=None), "unauthenticated", 401),
        (incoming(chat("hello"), host="localhost."), "misdirected_request", 421),
        (incoming(chat("hello"), upgrade="websocket"), "upgrade_refused", 403),
        (incoming(b"x" * (65 * 1024)), "body_too_large", 413),
        (incoming(chat("a " * 6000)), "scan_budget_exceeded", 413),
        (incoming(b'{"model": "m", "model": "n"}'), "malformed_request", 400),
        (incoming(b"\x00\x01\x02\xff", content_type="application/octet-stream"), "unreadable_body", 415),
        (incoming({**chat("hi"), "metadata": {f"k{i}": 1 for i in range(1_001)}}), "body_too_complex", 413),
        (incoming({"model": "m", "messages": [{"role": "user", "content": "hi"}] * 300}), "body_too_complex", 413),
    ],
    ids=["anonymous", "host", "upgrade", "size", "budget", "duplicate", "binary", "nodes", "segments"],
)
async def test_cheap_refusals_are_audited_and_never_reach_a_scanner(pipeline, request_, code, status):
    outcome = await pipeline.run(ctx(), request_)
    assert isinstance(outcome, Refuse)
    assert (outcome.decision.code, outcome.decision.status) == (code, status)
    assert pipeline.counting.scanned == 0
    assert [e["result"]["code"] for e in events(pipeline)] == [code]


async def test_a_secret_is_refused_by_the_judging_stage_once(pipeline):
    outcome = await pipeline.run(ctx(), incoming(chat(f"my key is {AWS_KEY}")))
    assert isinstance(outcome, Refuse)
    assert outcome.decision.code == "secret_detected"
    assert [e["result"]["code"] for e in events(pipeline)] == ["secret_detected"]  # one event, not two


async def test_past_the_queue_a_request_is_refused_as_overloaded(pipeline):
    async with pipeline._admission.slot():  # the one slot is taken and the queue holds none
        outcome = await pipeline.run(ctx(), incoming(chat("hello")))
    assert isinstance(outcome, Refuse)
    assert (outcome.decision.code, outcome.decision.status) == ("overloaded", 503)
    assert outcome.decision.headers == {"retry-after": "1"}  # nothing measured yet: the shortest retry
    assert events(pipeline)[-1]["result"]["code"] == "overloaded"


async def test_with_no_scanner_a_request_needs_no_scanning_slot(pipeline):
    """Admission bounds scanning work; the policy alone is served however many requests arrive at once."""
    pipeline._guard._scanners = []
    async with pipeline._admission.slot():  # the one slot is taken and the queue holds none
        outcome = await pipeline.run(ctx(), incoming(chat("hello")))
    assert isinstance(outcome, Forward)
    assert events(pipeline)[-1]["result"]["code"] == "allowed"


async def test_an_unmapped_body_naming_two_models_is_refused(pipeline):
    request = incoming({"model": "amazon.nova-lite-v1:0", "modelId": "x.forbidden-v1", "modelInput": {}})
    request.path = "/async-invoke"
    outcome = await pipeline.run(ctx(), request)
    assert (outcome.decision.code, outcome.decision.status) == ("malformed_request", 400)
    assert pipeline.counting.scanned == 0


class SlowScanner:
    name = "slow"

    async def scan(self, segments):
        await asyncio.sleep(30)
        return []


async def test_new_text_that_would_not_be_scanned_in_time_is_refused_at_once(pipeline):
    """After a scan of 8,000 new characters timed out (2 s), as much new text is refused before any scan; text a
    completed scan read (a chat's history) does not count."""
    scanners, history = pipeline._guard._scanners, "We met on Tuesday and agreed on the plan. " * 100
    assert isinstance(await pipeline.run(ctx(), incoming(chat(history))), Forward)  # 4,300 characters, read
    pipeline._guard._scanners = [SlowScanner()]
    timed_out = await pipeline.run(ctx(), incoming(chat("The budget is fine. " * 400)))
    assert timed_out.decision.code == "scanner_error"
    pipeline._guard._scanners = scanners
    started = time.perf_counter()
    refused = await pipeline.run(ctx(), incoming(chat("Another report arrived. " * 350)))
    assert (refused.decision.code, refused.decision.status) == ("scan_budget_exceeded", 413)
    assert time.perf_counter() - started < 0.5
    assert "~2.1 s to scan" in refused.decision.reasons[0].message
    assert events(pipeline)[-1]["result"]["code"] == "scan_budget_exceeded"
    again = {"model": "m", "messages": [{"role": "user", "content": history}, {"role": "user", "content": "and?"}]}
    assert isinstance(await pipeline.run(ctx(), incoming(again)), Forward)


LEGACY = "4cb07e98946040f69bb050d43331a4a9"
LEGACY_CALL = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "n", "arguments": {"k": "v"}}}


async def legacy_post(pipeline, call=LEGACY_CALL, **headers) -> IncomingRequest:
    """A POST to a legacy MCP session that the fixture's caller opened (its GET stream, as the proxy runs it)."""
    stream = ctx()
    await pipeline.run(stream, incoming(chat("hello")))
    pipeline.legacy_sessions.open(stream, LEGACY, "/messages/")
    request = incoming(call, **headers)
    request.path = f"/messages/?session_id={LEGACY}&x=data"
    request.query = [("session_id", LEGACY), ("x", "data")]
    return request


async def test_a_refused_post_of_a_legacy_mcp_session_is_forwarded_as_placeholders_only(pipeline):
    pipeline._usage = UsageMeter(store := MemoryUsageStore(), fail_closed=False)
    call = {**LEGACY_CALL, "params": {"name": "n", "arguments": {"k": AWS_KEY}}}
    request = await legacy_post(pipeline, call, **{"x-smuggled": "data"})
    async with pipeline._admission.slot():  # saturated: no refusal on the headers, it needs the body
        assert pipeline.overloaded(request) is None
        elsewhere = dataclasses.replace(request, path=f"/v1/chat/completions?session_id={LEGACY}")
        assert pipeline.overloaded(elsewhere) is not None
        outcome = await pipeline.run(ctx(), request)
    assert isinstance(outcome, Forward)
    assert outcome.bare
    assert outcome.path == f"/messages/?session_id={LEGACY}"
    placeholder = json.loads(outcome.body)
    assert (placeholder["method"], placeholder["params"]) == ("wardgate/denied", {})
    assert outcome.headers == {"accept-encoding": "identity", "content-type": "application/json"}
    assert pipeline.legacy_sessions.get(LEGACY).denied[placeholder["id"]][:2] == (3, "overloaded")
    refusal = events(pipeline)[-1]
    assert (refusal["result"]["code"], refusal["request"].get("placeholder")) == ("overloaded", True)
    await asyncio.sleep(0.05)  # usage is counted in the background
    assert (await store.today("default")).requests == 2  # the stream's request and the placeholder: both went on


async def test_under_overload_a_legacy_session_post_with_other_credentials_is_refused_on_its_headers(pipeline):
    """Only the credentials that opened the session skip the cheap refusal (identity is not known on headers)."""
    request = await legacy_post(pipeline)
    async with pipeline._admission.slot():
        assert pipeline.overloaded(request) is None
        for other in ("Bearer sk-someone-else", ""):
            stranger = dataclasses.replace(request, headers={**request.headers, "authorization": other})
            assert pipeline.overloaded(stranger).code == "overloaded"


class UnreadableUsage:
    async def today(self, tenant):
        raise UsageUnavailable("redis: connection refused")

    async def add(self, tenant, *, tokens=0, requests=0):
        raise UsageUnavailable("redis: connection refused")


@pytest.mark.parametrize("spelling", ["API.OPENAI.COM", "api.openai.com.", "162.159.140.245"])
async def test_another_caller_cannot_reach_a_legacy_session_by_spelling_its_server_otherwise(pipeline, spelling):
    victim = RequestContext("GET", "api.openai.com", "/sse", "mcp", {"tenant": "other", "subject": "victim"})
    victim.server = "api.openai.com"
    pipeline.legacy_sessions.open(victim, LEGACY, "/messages/")
    request = incoming(LEGACY_CALL)
    request.path = f"/messages/?session_id={LEGACY}"
    request.query = [("session_id", LEGACY)]
    request = dataclasses.replace(request, destination=Destination(spelling, "api.openai.com", "api.openai.com"))
    outcome = await pipeline.run(ctx(), request)
    assert isinstance(outcome, Refuse)
    assert (outcome.decision.code, outcome.decision.status) == ("mcp_session_mismatch", 403)


async def test_a_legacy_session_is_the_same_whatever_the_spelling_of_its_server(pipeline):
    request = await legacy_post(pipeline)
    for spelling in ("API.OPENAI.COM", "api.openai.com."):
        respelled = dataclasses.replace(request, destination=Destination(spelling, None, spelling))
        assert pipeline.legacy_sessions.posted_to("POST", respelled.destination.server(), request.path) is not None


async def test_a_client_gone_before_its_refusal_gets_no_placeholder(pipeline):
    call = {**LEGACY_CALL, "params": {"name": "n", "arguments": {"k": AWS_KEY}}}
    request = await legacy_post(pipeline, call)
    outcome = await pipeline.run(ctx(), request, client_gone=lambda: events(pipeline)[-1]["result"]["allow"] is False)
    assert isinstance(outcome, Refuse)
    assert pipeline.legacy_sessions.get(LEGACY).denied == {}


async def test_a_refusal_of_the_caller_in_a_legacy_session_stays_an_http_error_and_nothing_goes_upstream(pipeline):
    request = await legacy_post(pipeline)
    pipeline._usage = UsageMeter(UnreadableUsage(), fail_closed=True)
    outcome = await pipeline.run(ctx(), request)
    assert isinstance(outcome, Refuse)
    assert (outcome.decision.code, outcome.decision.status) == ("usage_unavailable", 503)
    assert pipeline.legacy_sessions.get(LEGACY).denied == {}
    assert "placeholder" not in events(pipeline)[-1]["request"]


async def test_an_mcp_post_naming_two_sessions_is_refused(pipeline):
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "add", "arguments": {}}}
    request = incoming(call)
    request.path = "/messages/?session_id=0123456789abcdef&session_id=fedcba9876543210"
    request.query = [("session_id", "0123456789abcdef"), ("session_id", "fedcba9876543210")]
    outcome = await pipeline.run(ctx(), request)
    assert isinstance(outcome, Refuse)
    assert (outcome.decision.code, outcome.decision.status) == ("mcp_session_ambiguous", 400)


async def test_a_waiting_request_gets_the_slot_when_it_frees(pipeline):
    pipeline._admission = Admission(concurrent=1, queue=1, wait_s=2)
    async with pipeline._admission.slot():
        waiting = asyncio.ensure_future(pipeline.run(ctx(), incoming(chat("hello"))))
        await asyncio.sleep(0.05)
        assert pipeline._admission.waiting == 1
    assert isinstance(await waiting, Forward)


async def test_a_secret_in_the_query_string_is_judged_like_body_text(pipeline):
    request = incoming(chat("hello"))
    request.query = [("q", f"use {AWS_KEY}")]
    outcome = await pipeline.run(ctx(), request)
    assert isinstance(outcome, Refuse)
    assert outcome.decision.code == "secret_detected"


async def test_a_compressed_body_is_decoded_and_judged(pipeline):
    import gzip

    request = incoming(gzip.compress(json.dumps(chat(f"key {AWS_KEY}")).encode()), **{"content-encoding": "gzip"})
    outcome = await pipeline.run(ctx(), request)
    assert isinstance(outcome, Refuse)
    assert outcome.decision.code == "secret_detected"


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
async def test_a_compression_bomb_is_refused_without_inflating_it(pipeline, encoding):
    import gzip

    import brotli
    import zstandard

    zeros = b"0" * (64 * 1024 * 1024)  # 64 MiB behind a small body; the limit is 64 KiB
    compress = {"gzip": gzip.compress, "br": brotli.compress, "zstd": zstandard.ZstdCompressor().compress}[encoding]
    outcome = await pipeline.run(ctx(), incoming(compress(zeros), **{"content-encoding": encoding}))
    assert isinstance(outcome, Refuse)
    assert (outcome.decision.code, outcome.decision.status) == ("body_too_large", 413)


async def test_a_zstd_body_asking_for_a_window_past_http_s_limit_is_refused(pipeline):
    """RFC 9659 holds HTTP's zstd to 8 MB windows; a frame's header alone would have the decoder allocate 128 MB."""
    import zstandard

    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=27)
    compressor = zstandard.ZstdCompressor(compression_params=params).compressobj()
    body = compressor.compress(json.dumps(chat("hello")).encode()) + compressor.flush()
    outcome = await pipeline.run(ctx(), incoming(body, **{"content-encoding": "zstd"}))
    assert isinstance(outcome, Refuse)
    assert outcome.decision.status == 400


async def test_a_big_body_is_read_off_the_event_loop(pipeline, monkeypatch):
    from wardgate.pipeline import offload
    from wardgate.pipeline import request as stage

    readers, real = [], stage.read_body
    monkeypatch.setattr(stage, "read_body", lambda *args: readers.append(threading.get_ident()) or real(*args))
    monkeypatch.setattr(offload, "PARSE_ON_LOOP_BYTES", 1024)
    big = await pipeline.run(ctx(), incoming(chat("hello " * 300 + AWS_KEY)))
    malformed = await pipeline.run(ctx(), incoming(b'{"model": "m", "model": "n"' + b" " * 2000 + b"}"))
    small = await pipeline.run(ctx(), incoming(chat("hello")))
    assert isinstance(big, Refuse)
    assert isinstance(malformed, Refuse)
    assert (big.decision.code, malformed.decision.code) == ("secret_detected", "malformed_request")
    assert isinstance(small, Forward)
    loop = threading.get_ident()
    assert [reader == loop for reader in readers] == [False, False, True]


async def test_a_compressed_body_is_inflated_off_the_event_loop_however_small_it_is(pipeline, monkeypatch):
    import gzip

    from wardgate.pipeline import offload

    decoders, real = [], offload.decode_content
    monkeypatch.setattr(offload, "decode_content", lambda *args: decoders.append(threading.get_ident()) or real(*args))
    monkeypatch.setattr(offload, "PARSE_ON_LOOP_BYTES", 1024)
    small = json.dumps(chat("hello")).encode()
    compressed = await pipeline.run(ctx(), incoming(gzip.compress(small), **{"content-encoding": "gzip"}))
    plain = await pipeline.run(ctx(), incoming(small))
    assert isinstance(compressed, Forward)
    assert isinstance(plain, Forward)
    loop = threading.get_ident()
    assert [decoder == loop for decoder in decoders] == [False, True]  # a few bytes of gzip may inflate to the limit


async def test_a_body_that_is_not_its_declared_encoding_is_a_400(pipeline):
    outcome = await pipeline.run(ctx(), incoming(b"not gzip at all", **{"content-encoding": "gzip"}))
    assert isinstance(outcome, Refuse)
    assert (outcome.decision.code, outcome.decision.status) == ("malformed_request", 400)


class SlowScan:
    """A scan that takes `seconds` unless it is cancelled, which it records."""

    def __init__(self, seconds: float = 10) -> None:
        self.seconds, self.cancelled = seconds, False

    async def __call__(self, segments):
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return []


async def test_past_the_deadline_the_request_is_refused_and_its_scan_cancelled(pipeline, monkeypatch):
    slow = SlowScan()
    monkeypatch.setattr(pipeline.counting, "scan", slow)
    pipeline._rules = dataclasses.replace(pipeline._rules, deadline_s=0.2)
    started = time.perf_counter()
    outcome = await pipeline.run(ctx(), incoming(chat("hello")))
    assert time.perf_counter() - started < 1
    assert isinstance(outcome, Refuse)
    assert (outcome.decision.code, outcome.decision.status) == ("deadline_exceeded", 503)
    assert slow.cancelled
    assert [e["result"]["code"] for e in events(pipeline)] == ["deadline_exceeded"]


async def test_a_client_that_hangs_up_mid_scan_gets_its_scan_cancelled_and_audited(pipeline, monkeypatch):
    slow = SlowScan()
    monkeypatch.setattr(pipeline.counting, "scan", slow)
    hung_up_at = time.monotonic() + 0.2
    outcome = await pipeline.run(ctx(), incoming(chat("hello")), client_gone=lambda: time.monotonic() > hung_up_at)
    assert time.monotonic() - hung_up_at < 0.5
    assert isinstance(outcome, Refuse)
    assert outcome.decision.code == "client_closed"
    assert slow.cancelled
    assert [e["result"]["code"] for e in events(pipeline)] == ["client_closed"]


async def test_a_request_allowed_after_its_client_left_is_not_forwarded(pipeline, monkeypatch):
    monkeypatch.setattr(pipeline.counting, "scan", SlowScan(seconds=0.01))
    outcome = await pipeline.run(ctx(), incoming(chat("hello")), client_gone=lambda: True)
    assert isinstance(outcome, Refuse)
    assert outcome.decision.code == "client_closed"


async def test_the_access_log_keeps_a_placeholders_refusal_and_what_its_answer_met(pipeline):
    refused = dataclasses.replace(ctx(), placeholder=True, decision="secret_detected")
    answer = Decision.deny("upstream_unreadable", "the server's answer could not be read", status=502)
    pipeline._guard.refuse(refused, "response", answer)
    assert refused.decision == "secret_detected, upstream_unreadable"
    assert events(pipeline)[-1]["request"]["placeholder"] is True
