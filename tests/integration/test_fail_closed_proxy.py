"""Faults on the request path end in audited refusals: an audit trail that cannot be written stops all traffic."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time

import httpx
from aiohttp import web

from tests.conftest import AUTH
from wardgate.audit import verify_files
from wardgate.testing._server import BackgroundServer

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
SPINE = {"scanners": {"injection": {"enabled": False}}}


def test_an_unwritable_audit_trail_refuses_everything_and_turns_not_ready(start_proxy, upstream):
    # /dev/full accepts the open and fails every write with ENOSPC: a full disk, for real.
    proxy = start_proxy({"upstream": upstream.url, "audit": {"file": "/dev/full"}, **SPINE})
    before = len(upstream.received)
    ready = httpx.get(f"http://127.0.0.1:{proxy.admin_port}/readyz", timeout=10)
    assert ready.status_code == 200
    for headers in (AUTH, {}):  # a caller with a key, and one without (its 401 cannot be audited either)
        refused = httpx.post(proxy.url + "/v1/chat/completions", json=BODY, headers=headers, timeout=30)
        assert (refused.status_code, refused.json()["error"]["code"]) == (503, "audit_unavailable")
    assert len(upstream.received) == before
    ready = httpx.get(f"http://127.0.0.1:{proxy.admin_port}/readyz", timeout=10)
    assert (ready.status_code, ready.json()["status"]) == (503, "audit_unavailable")
    metrics = httpx.get(f"http://127.0.0.1:{proxy.admin_port}/metrics", timeout=10).text
    assert "wardgate_audit_write_failures_total 2.0" in metrics


def test_a_torn_last_line_is_sealed_at_start_and_verifies_as_a_recovered_gap(start_proxy, upstream, tmp_path):
    first = start_proxy({"upstream": upstream.url, "audit": {"file": str(tmp_path / "audit.jsonl")}, **SPINE})
    assert httpx.post(first.url + "/v1/chat/completions", json=BODY, headers=AUTH, timeout=30).status_code == 200
    first.stop()
    with (tmp_path / "audit.jsonl").open("a") as audit:
        audit.write('{"event": "decision", "seq": 2, "torn mid-wri')  # a crash or a full disk, mid-line
    second = start_proxy({"upstream": upstream.url, "audit": {"file": str(tmp_path / "audit.jsonl")}, **SPINE})
    assert httpx.post(second.url + "/v1/chat/completions", json=BODY, headers=AUTH, timeout=30).status_code == 200
    second.stop()
    events = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines() if "torn" not in line]
    kinds = [event["event"] for event in events]
    assert kinds.count("audit_recovered") == 1
    assert kinds[kinds.index("audit_recovered") + 1 :] == ["decision"] * 2  # the second proxy's request and answer
    result = verify_files([tmp_path / "audit.jsonl"])
    assert result.ok, result
    assert len(result.recovered) == 1


def test_an_audit_file_deleted_while_running_is_made_again_and_the_chain_goes_on(start_proxy, upstream, tmp_path):
    """A log shipper that deletes the file it shipped: the next events go to a new file at the path, not to the
    deleted one (which no one can read)."""
    path = tmp_path / "audit.jsonl"
    proxy = start_proxy({"upstream": upstream.url, "audit": {"file": str(path)}, **SPINE})
    assert httpx.post(proxy.url + "/v1/chat/completions", json=BODY, headers=AUTH, timeout=30).status_code == 200
    shipped = path.read_text()
    path.unlink()
    assert httpx.post(proxy.url + "/v1/chat/completions", json=BODY, headers=AUTH, timeout=30).status_code == 200
    proxy.stop()
    after = [json.loads(line) for line in path.read_text().splitlines()]
    before = [json.loads(line) for line in shipped.splitlines()]
    assert [event["seq"] for event in after] == [len(before), len(before) + 1]  # the request and its answer
    assert after[0]["prev_hash"] == before[-1]["hash"]
    shipped_copy = tmp_path / "shipped.jsonl"
    shipped_copy.write_text(shipped + path.read_text())
    assert verify_files([shipped_copy]).ok


def test_a_stdout_reader_that_stops_costs_prompt_refusals_not_the_proxy_and_recovers(start_proxy, upstream):
    """audit.stdout read by a pipeline that stalls: once the pipe is full each request waits at most ~0.5 s and is
    refused (503 audit_unavailable; a line stdout refused is taken back from the file too), the admin endpoints keep
    answering (the write blocked the event loop once: everything froze), and when the reader drains the pipe traffic
    flows again."""
    proxy = start_proxy({"upstream": upstream.url, "audit": {"stdout": True}, **SPINE})
    admin = f"http://127.0.0.1:{proxy.admin_port}"
    proxy.pause_stdout()
    chat = {**BODY, "messages": [{"role": "user", "content": "hello " * 400}]}  # ~3 KB audit lines: a 64 KB pipe fills
    for _ in range(200):
        answer = httpx.post(proxy.url + "/v1/chat/completions", json=chat, headers=AUTH, timeout=30)
        if answer.status_code != 200:
            break
    assert (answer.status_code, answer.json()["error"]["code"]) == (503, "audit_unavailable")
    started = time.monotonic()
    answer = httpx.post(proxy.url + "/v1/chat/completions", json=chat, headers=AUTH, timeout=30)
    assert answer.status_code == 503
    assert time.monotonic() - started < 2
    assert httpx.get(admin + "/healthz", timeout=2).status_code == 200
    assert httpx.get(admin + "/readyz", timeout=2).status_code == 503
    proxy.resume_stdout()
    deadline = time.monotonic() + 10
    while (
        answer := httpx.post(proxy.url + "/v1/chat/completions", json=chat, headers=AUTH, timeout=30)
    ).status_code != 200:
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.1)
    assert proxy.stop() == 0
    assert verify_files([proxy.audit_file]).ok
    lines = [json.loads(line) for line in proxy.stdout]
    assert [line["seq"] for line in lines] == list(range(len(lines)))  # no gap, no repeat on stdout either


class SlowUpstream(BackgroundServer):
    """Answers a chat completion after 1.5 s: a request that is in flight when Wardgate is told to stop."""

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._slow)

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)
        return web.json_response({"id": "c", "object": "chat.completion", "choices": []})


def test_sigterm_drains_the_request_in_flight_then_exits(start_proxy):
    with SlowUpstream() as upstream:
        proxy = start_proxy({"upstream": upstream.url, "drain_timeout_s": 10, **SPINE})
        answers: list[int] = []

        def ask() -> None:
            response = httpx.post(proxy.url + "/v1/chat/completions", json=BODY, headers=AUTH, timeout=30)
            answers.append(response.status_code)

        call = threading.Thread(target=ask)
        call.start()
        time.sleep(0.5)  # the request is waiting on the upstream
        started = time.monotonic()
        proxy.signal(signal.SIGTERM)
        call.join(10)
        assert answers == [200]  # the flow in flight finished
        assert proxy.stop(timeout=10) == 0
        assert time.monotonic() - started < 8


def test_a_healthy_start_is_quiet(start_proxy, upstream):
    """Only the ready line and informational lines: a warning at start means something is wrong."""
    proxy = start_proxy({"upstream": upstream.url})  # every default scanner, both models
    warnings = [line for line in proxy.output if '"level": "warning"' in line or '"level": "error"' in line]
    assert warnings == []
