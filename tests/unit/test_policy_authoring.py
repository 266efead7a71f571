"""The bundle as users author it: extensions, the OPA bundle tarball, replay of an audited input."""

import json
import shutil
import subprocess
import sys
import tarfile

from tests.conftest import POLICIES
from wardgate.policy import EmbeddedEngine

AFTER_HOURS = {
    "phase": "request",
    "identity": {"subject": "svc", "tenant": "default", "authenticated": True, "roles": []},
    "request": {"model": "gpt-4o-mini", "tools": []},
    "findings": [],
    "now": 1_795_302_000_000_000_000,  # Saturday 2026-11-21, 23:00 UTC
}


def bundle_with_example(tmp_path, name, data):
    target = tmp_path / "policies"
    shutil.copytree(POLICIES, target, ignore=shutil.ignore_patterns("examples"))
    extensions = target / "wardgate" / "extensions"
    extensions.mkdir()
    shutil.copy(POLICIES / "examples" / name / f"{name}.rego", extensions)
    document = json.loads((target / "data.json").read_text())
    (target / "data.json").write_text(json.dumps({**document, **data}))
    return target


async def test_examples_are_not_served_until_copied_in(tmp_path):
    served = EmbeddedEngine(POLICIES, timeout=1)
    served.load()
    assert (await served.evaluate(AFTER_HOURS)).allow
    data = {"business_hours": {"default": {"start_hour": 8, "end_hour": 18}}}
    extended = EmbeddedEngine(bundle_with_example(tmp_path, "business_hours", data), timeout=1)
    extended.load()
    decision = await extended.evaluate(AFTER_HOURS)
    assert (decision.allow, decision.code) == (False, "outside_business_hours")


async def test_an_extension_reason_can_carry_its_own_status(tmp_path):
    engine = EmbeddedEngine(
        bundle_with_example(tmp_path, "budget", {"budgets": {"default": {"tokens_per_day": 10}}}), timeout=1
    )
    engine.load()
    decision = await engine.evaluate({**AFTER_HOURS, "usage": {"tokens_today": 11}})
    assert (decision.status, decision.code) == (429, "budget_exceeded")


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "wardgate", *args], capture_output=True, text=True, timeout=60, cwd=cwd
    )


def test_bundle_tarball_is_an_opa_bundle(tmp_path):
    output = tmp_path / "bundle.tar.gz"
    result = run("policy", "bundle", str(POLICIES), "-o", str(output))
    assert result.returncode == 0, result.stderr
    with tarfile.open(output) as tar:
        names = sorted(tar.getnames())
        manifest = json.load(tar.extractfile("/.manifest"))
    assert names == ["/.manifest", "/data.json", "/wardgate/decision.rego"]
    assert manifest["roots"] == ["wardgate", "secrets", "tenants"]
    assert len(manifest["revision"]) == 64
    again = tmp_path / "again.tar.gz"
    run("policy", "bundle", str(POLICIES), "-o", str(again))
    assert output.read_bytes() == again.read_bytes()


def test_policy_eval_replays_an_audited_input(tmp_path):
    event = {"event": "decision", "input": {**AFTER_HOURS, "findings": [{"kind": "secret:x", "family": "secret"}]}}
    captured = tmp_path / "event.json"
    captured.write_text(json.dumps(event))
    result = run("policy", "eval", str(POLICIES), "--input", str(captured))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["result"]["reasons"][0]["code"] == "secret_detected"
    event.pop("input")
    captured.write_text(json.dumps(event))
    assert "did not record its input" in run("policy", "eval", "--input", str(captured)).stderr


def test_coverage_is_reported():
    result = run("policy", "test", str(POLICIES), "--coverage")
    assert result.returncode == 0
    assert "coverage wardgate/decision.rego:" in result.stdout


def test_hash_key_prints_a_key_file_line():
    result = subprocess.run([sys.executable, "-m", "wardgate", "identity", "hash-key"], input="sk-abc\n",
                            capture_output=True, text=True, timeout=30)  # fmt: skip
    from wardgate.identity import hash_key

    assert f"sha256: {hash_key('sk-abc')}" in result.stdout
    assert "sk-abc" not in result.stdout
