"""With `audit.stdout`, stdout is the audit stream and nothing else: a log pipeline parses every line as JSON."""

from __future__ import annotations

import json

import httpx

from tests.conftest import AUTH, AWS_KEY
from tests.integration.helpers import wait_for_events
from wardgate.audit import verify_files


def test_stdout_holds_only_audit_events_and_the_ready_line_goes_to_stderr(start_proxy, upstream):
    # Every scanner on, as deployed: their start-up output must not reach stdout either.
    proxy = start_proxy({"upstream": upstream.url, "audit": {"stdout": True}})
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}
    assert httpx.post(proxy.url + "/v1/chat/completions", json=chat, headers=AUTH).status_code == 200
    secret = {**chat, "messages": [{"role": "user", "content": f"key {AWS_KEY}"}]}
    assert httpx.post(proxy.url + "/v1/chat/completions", json=secret, headers=AUTH).status_code == 403
    assert httpx.post(proxy.url + "/v1/chat/completions", json=chat).status_code == 401
    written = wait_for_events(proxy.audit_file, lambda event: event["event"] == "decision", count=4)
    assert proxy.stop() == 0

    events = [json.loads(line) for line in proxy.stdout]  # every line, or this raises
    assert [event["hash"] for event in events] == [event["hash"] for event in written]
    assert verify_files([proxy.audit_file]).ok
    stderr = [line for line in proxy.output if line not in proxy.stdout]
    assert any(line.startswith("wardgate listening on http://") for line in stderr)
    assert any(line.startswith("wardgate stopped") for line in stderr)
