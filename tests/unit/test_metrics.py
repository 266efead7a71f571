"""Decision metrics are read off audit events: each outcome, finding kind and timing lands in its series."""

from tests.conftest import POLICIES
from tests.integration.helpers import audit_events
from wardgate.audit import AuditLog, verify_files
from wardgate.config import FailClosedSettings
from wardgate.models import Exchange, Finding, Segment
from wardgate.pipeline import Guard, Masker, RequestContext
from wardgate.policy import EmbeddedEngine
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


class ScoredInjection:
    """An injection scanner's output: every scored segment is returned, each with the model's threshold."""

    name = "injection"

    async def scan(self, segments):
        return [Finding("injection", "injection", score, index, 0, 5, threshold=0.8)
                for index, score in enumerate((0.1, 0.79, 0.8, 0.97))]  # fmt: skip


async def test_a_scored_segment_below_the_threshold_is_not_counted_as_a_finding(tmp_path):
    engine = EmbeddedEngine(POLICIES, timeout=1)
    engine.load()
    metrics = DecisionMetrics()
    audit = AuditLog(tmp_path / "audit.jsonl", observers=[metrics])
    guard = Guard([ScoredInjection()], engine, audit, masker=Masker(), fail_closed=FailClosedSettings(), scan_timeout=1)
    ctx = RequestContext("POST", "api.openai.com", "/v1/chat/completions", "openai", {"subject": "svc"})
    segments = [Segment("user", "prompt", "hello", ("messages", index, "content")) for index in range(4)]
    verdict = await guard.judge(
        ctx, "request", Exchange("openai", "chat", "gpt-4o-mini", False, segments), has_body=True
    )
    audit.close()
    assert len(verdict.findings) == 4  # the policy still sees every score
    (event,) = audit_events(tmp_path / "audit.jsonl")
    assert len(event["findings"]) == 4
    assert event["finding_counts"] == {"injection": 2}  # 0.8 and 0.97
    assert value(metrics, "wardgate_findings_total", phase="request", kind="injection") == 2
    await engine.close()
