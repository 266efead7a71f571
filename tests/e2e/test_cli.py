"""The `wardgate` command line, run as a user runs it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POLICIES, write_policy
from wardgate.audit import AuditLog


def wardgate(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wardgate", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )


class TestPolicyTest:
    def test_shipped_bundle_passes(self):
        result = wardgate("policy", "test", str(POLICIES))
        assert result.returncode == 0, result.stdout
        assert "PASS: 9/9" in result.stdout

    def test_failing_test_exits_1_and_names_it(self, tmp_path):
        write_policy(tmp_path, 'package wardgate\n\ndecision := {"allow": true}\n')
        (tmp_path / "wardgate" / "decision_test.rego").write_text(
            "package wardgate_test\n\nimport data.wardgate\n\n"
            "test_allows if wardgate.decision.allow\n\ntest_denies if not wardgate.decision.allow\n"
        )
        result = wardgate("policy", "test", str(tmp_path))
        assert result.returncode == 1
        assert "FAIL: wardgate_test.test_denies" in result.stdout
        assert "PASS: 1/2" in result.stdout

    def test_bundle_that_does_not_compile_is_a_clear_error(self, tmp_path):
        write_policy(tmp_path, "package wardgate\n\ndecision := {")
        result = wardgate("policy", "test", str(tmp_path))
        assert result.returncode == 1
        assert "rego_parse_error" in result.stderr + result.stdout
        assert "Traceback" not in result.stderr


class TestAuditVerify:
    def test_ok_and_tampered(self, tmp_path):
        path = tmp_path / "audit.jsonl"
        log = AuditLog(path)
        for n in range(4):
            log.record("decision", n=n)
        log.close()
        ok = wardgate("audit", "verify", str(path))
        assert (ok.returncode, ok.stdout.strip()) == (0, "ok 4 events")
        lines = path.read_text().splitlines()
        event = json.loads(lines[2])
        event["n"] = 99
        lines[2] = json.dumps(event)
        path.write_text("\n".join(lines) + "\n")
        bad = wardgate("audit", "verify", str(path))
        assert bad.returncode == 1
        assert "line 3: hash mismatch" in bad.stdout


class TestRun:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--mode", "reverse"], "reverse mode needs `upstream`"),
            (["--upstream", "nota-url"], "must be an http(s) URL"),
            (["--upstream", "http://127.0.0.1:1", "--policies", "/nonexistent"], "does not exist"),
        ],
    )
    def test_bad_configuration_exits_2_with_a_message(self, tmp_path, args, message):
        result = wardgate("run", *args, cwd=tmp_path)
        assert result.returncode == 2
        assert message in result.stderr
        assert "Traceback" not in result.stderr

    def test_broken_policy_refuses_to_start(self, tmp_path):
        write_policy(tmp_path / "p", "package wardgate\n\ndecision := x if { y := 1 }\n")
        result = wardgate("run", "--upstream", "http://127.0.0.1:1", "--policies", str(tmp_path / "p"), cwd=tmp_path)
        assert result.returncode == 2
        assert "rego_unsafe_var_error" in result.stderr

    def test_port_in_use_fails_instead_of_running_without_a_listener(self, tmp_path):
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = wardgate(
                "run",
                "--upstream",
                "http://127.0.0.1:1",
                "--port",
                str(port),
                "--admin-port",
                "0",
                "--policies",
                str(POLICIES),
                cwd=tmp_path,
            )
        assert result.returncode != 0
        assert "listening on" not in result.stdout


def test_ca_prints_the_certificate_path(tmp_path):
    config = tmp_path / "w.yaml"
    config.write_text(f"confdir: {tmp_path / 'ca'}\n")
    result = wardgate("ca", "--config", str(config))
    assert result.returncode == 0
    path = result.stdout.strip()
    assert path.endswith("mitmproxy-ca-cert.pem")
    assert "BEGIN CERTIFICATE" in Path(path).read_text()
    assert "HTTPS_PROXY" in result.stderr
