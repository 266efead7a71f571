"""The bundle as users author it: extensions, the OPA bundle tarball, replay of an audited input."""

import json
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

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
    assert manifest["roots"] == ["exfiltration", "media", "pii", "secrets", "tenants", "wardgate"]
    assert opa_refuses(output) == []
    assert len(manifest["revision"]) == 64
    again = tmp_path / "again.tar.gz"
    run("policy", "bundle", str(POLICIES), "-o", str(again))
    assert output.read_bytes() == again.read_bytes()


def opa_refuses(tarball) -> list[str]:
    """What OPA's bundle loader would refuse in this tarball: overlapping roots, and any data document or package
    outside the roots (it looks into a data object only while the object's path leads to a deeper root)."""
    with tarfile.open(tarball) as tar:
        files = {member.name.lstrip("/"): tar.extractfile(member).read().decode() for member in tar.getmembers()}
    roots = json.loads(files.pop(".manifest"))["roots"]

    def under(root, path):
        return root == "" or path == root or path.startswith(root + "/")

    def outside(node, prefix):
        for key, value in node.items():
            path = f"{prefix}{key}"
            if any(under(root, path) for root in roots):
                continue
            if isinstance(value, dict) and any(under(path, root) for root in roots):
                yield from outside(value, path + "/")
            else:
                yield f"data {path}"

    refused = [f"overlap {a} {b}" for i, a in enumerate(roots) for b in roots[i + 1 :] if under(a, b) or under(b, a)]
    for name, text in files.items():
        if name.endswith(".rego"):
            package = re.search(r"^package\s+([\w.]+)", text, re.MULTILINE).group(1).replace(".", "/")
            refused += [f"package {package}"] if not any(under(root, package) for root in roots) else []
        else:  # a/b/data.json is the document at data.a.b
            prefix = name.removesuffix("data.json")
            refused += list(outside(json.loads(text), prefix))
    return refused


def test_bundle_roots_cover_extensions_and_their_data(tmp_path):
    source = bundle_with_example(tmp_path, "budget", {"budgets": {"default": {"tokens_per_day": 10}}})
    output = tmp_path / "bundle.tar.gz"
    assert run("policy", "bundle", str(source), "-o", str(output)).returncode == 0
    assert opa_refuses(output) == []
    with tarfile.open(output) as tar:
        assert "budgets" in json.load(tar.extractfile("/.manifest"))["roots"]


@pytest.mark.parametrize(
    ("roots", "reason"),
    [
        (["wardgate", "secrets", "tenants"], "data at 'exfiltration' is outside them"),
        (["wardgate", "wardgate/extensions", "secrets", "tenants", "exfiltration", "media", "pii"], "overlap"),
        (["wardgate/other", "secrets", "tenants", "exfiltration", "media", "pii"], "package wardgate"),
        (
            ["wardgate", "secrets", "tenants", "exfiltration", "media", "pii/request"],
            "data at 'pii/response' is outside them",
        ),
    ],
)
def test_declared_roots_opa_would_refuse_are_refused_before_packing(tmp_path, roots, reason):
    source = tmp_path / "policies"
    shutil.copytree(POLICIES, source, ignore=shutil.ignore_patterns("examples"))
    (source / ".manifest").write_text(json.dumps({"roots": roots}))
    output = tmp_path / "bundle.tar.gz"
    result = run("policy", "bundle", str(source), "-o", str(output))
    assert result.returncode != 0
    assert reason in result.stderr
    assert not output.exists()


def test_declared_roots_that_cover_the_bundle_are_kept(tmp_path):
    source = tmp_path / "policies"
    shutil.copytree(POLICIES, source, ignore=shutil.ignore_patterns("examples"))
    roots = ["wardgate", "secrets", "tenants", "exfiltration", "media", "pii/request", "pii/response"]
    (source / ".manifest").write_text(json.dumps({"roots": roots}))
    output = tmp_path / "bundle.tar.gz"
    assert run("policy", "bundle", str(source), "-o", str(output)).returncode == 0
    assert opa_refuses(output) == []
    with tarfile.open(output) as tar:
        assert json.load(tar.extractfile("/.manifest"))["roots"] == roots


def test_policy_eval_replays_an_audited_input(tmp_path):
    event = {"event": "decision", "input": {**AFTER_HOURS, "findings": [{"kind": "secret:x", "family": "secret"}]}}
    captured = tmp_path / "event.json"
    captured.write_text(json.dumps(event))
    result = run("policy", "eval", str(POLICIES), "--input", str(captured))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["result"]["reasons"][0]["code"] == "secret_detected"
    assert result.stderr == ""
    event["input_omitted"] = ["tool_call.arguments"]
    captured.write_text(json.dumps(event))
    assert "recorded without tool_call.arguments" in run("policy", "eval", "--input", str(captured)).stderr
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
