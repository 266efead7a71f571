"""Policy replay end to end: a real proxy writes the audit trail, `wardgate policy replay` re-decides it.

The proxy runs with its default audit settings (inputs are recorded by default); the candidate bundle masks
secrets instead of denying them and allows only gpt-4.1 models, so two recorded decisions change.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx

from tests.conftest import AUTH, AWS_KEY
from tests.integration.helpers import event_for, policy_copy

QUIET = {"scanners": {"injection": {"enabled": False}, "pii": {"enabled": False}}}


def chat(model: str, text: str) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


def test_replay_under_a_candidate_bundle_reports_what_would_change(start_proxy, upstream, tmp_path):
    proxy = start_proxy({"upstream": upstream.url, **QUIET})
    url = proxy.url + "/v1/chat/completions"
    mini = httpx.post(url, json=chat("gpt-4o-mini", "hello"), headers=AUTH)
    assert mini.status_code == 200
    secret = httpx.post(url, json=chat("gpt-4.1", f"use {AWS_KEY}"), headers=AUTH)
    assert secret.status_code == 403
    assert httpx.post(url, json=chat("gpt-4.1", "hello"), headers=AUTH).status_code == 200
    assert httpx.post(url, json=chat("gpt-4.1", "hello")).status_code == 401  # no credential: unchanged
    # The last request's response event is written after its answer: wait for it before reading the file.
    event_for(proxy.audit_file, secret.headers["x-wardgate-decision-id"])
    recorded = event_for(proxy.audit_file, mini.headers["x-wardgate-decision-id"], phase="response")
    assert recorded["input"]["phase"] == "response"
    assert AWS_KEY not in proxy.audit_file.read_text()

    candidate = policy_copy(tmp_path, secrets={"request": "mask", "response": "mask"},
                            tenants={"default": {"models": ["gpt-4.1*"]}})  # fmt: skip
    report_file = tmp_path / "replay.json"
    result = subprocess.run(
        [sys.executable, "-m", "wardgate", "policy", "replay", str(proxy.audit_file), "--policies", str(candidate),
         "--json", str(report_file)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(report_file.read_text())
    # Four request decisions and two response decisions (the refused requests were never answered upstream).
    assert report["events"] == 6
    assert report["replayed"] == 6
    assert report["skipped"] == {}
    assert report["changed"] == 2
    changes = {change["decision_id"]: change for change in report["changes"]}
    assert changes[mini.headers["x-wardgate-decision-id"]] == {
        "decision_id": mini.headers["x-wardgate-decision-id"], "phase": "request", "tenant": "default",
        "before": {"allow": True, "code": "allowed"}, "after": {"allow": False, "code": "model_not_allowed"},
    }  # fmt: skip
    assert changes[secret.headers["x-wardgate-decision-id"]]["after"] == {"allow": True, "code": "allowed"}
    assert report["fail_mode"] == []
    assert "6 decision events: 6 replayed, 2 changed" in result.stdout
    rows = [re.split(r"\s{2,}", line) for line in result.stdout.splitlines()]
    assert ["default", "request", "allow allowed", "deny model_not_allowed", "1"] in rows
    assert ["default", "request", "deny secret_detected", "allow allowed", "1"] in rows
