"""Decision metrics are read off audit events: each outcome, finding kind and timing lands in its series."""

from wardgate.audit import AuditLog, verify_files
from wardgate.telemetry import DecisionMetrics


def decision(allow: bool, *, source: str = "policy", masked: list[str] | None = None, code: str = "", **extra):
    reasons = [{"code": code, "message": "m"}] if code else []
    return {
        "phase": "request",
        "result": {"allow": allow, "source": source, "reasons": reasons},
        "masked": masked or [],
        "finding_counts": extra.pop("counts", {}),
        "scan_error": extra.pop("scan_error", None),
        "metrics": {"scan_ms": 4.0, "policy_ms": 1.0, "total_ms": 6.0},
    }


def value(metrics: DecisionMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_outcomes_findings_errors_and_timings_are_counted(tmp_path):
    metrics = DecisionMetrics()
    audit = AuditLog(tmp_path / "audit.jsonl", observers=[metrics])
    audit.record("decision", **decision(True))
    audit.record("decision", **decision(True, masked=["/messages/0/content"], counts={"pii:PERSON": 2}))
    audit.record("decision", **decision(False, code="secret_detected", counts={"secret:aws-access-token": 1}))
    audit.record("decision", **decision(True, source="fail_open", code="scanner_error", scan_error="timeout"))
    audit.record("something_else", phase="request")
    audit.close()

    for outcome, code in (("allow", ""), ("mask", ""), ("deny", "secret_detected"), ("fail_open", "scanner_error")):
        assert value(metrics, "wardgate_decisions_total", phase="request", outcome=outcome, code=code) == 1
    assert value(metrics, "wardgate_findings_total", phase="request", kind="pii:PERSON") == 2
    assert value(metrics, "wardgate_scan_errors_total", phase="request") == 1
    assert value(metrics, "wardgate_decision_duration_seconds_count", phase="request") == 4
    assert value(metrics, "wardgate_decision_duration_seconds_sum", phase="request") == 4 * 0.006
    assert value(metrics, "wardgate_stage_duration_seconds_count", stage="scan") == 4
    # The observer leaves the events as they were: all five written, and the chain verifies.
    assert len((tmp_path / "audit.jsonl").read_text().splitlines()) == 5
    assert verify_files([tmp_path / "audit.jsonl"]).ok
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain; version=")
    assert b'wardgate_decisions_total{code="secret_detected",outcome="deny",phase="request"} 1.0' in body
