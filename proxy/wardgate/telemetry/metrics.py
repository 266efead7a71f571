"""Decision metrics as a structlog processor: every audited decision is counted, nothing else is instrumented.

The audit event is the one record of a decision (DESIGN §4), so counting there keeps the metrics and the trail in
agreement by construction. Labels are bounded: phase, outcome, the policy's reason code, the finding kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

__all__ = ["DecisionMetrics"]

# Seconds; a decision spans ~1 ms (secrets only) to seconds (long texts through every model).
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def outcome_of(result: Mapping[str, Any], masked: object, enforced: object = True) -> str:
    """`deny`, `mask` (allowed with rewrites) or `allow`; fail-open allows are told apart so alerts can see them.
    A shadowed decision (`enforced: false`) is `shadow_deny` or `shadow_mask` (any rewrite it would have made): a
    would-be denial that the denial alerts do not count."""
    if enforced is False:
        return "shadow_deny" if not result.get("allow") else "shadow_mask"
    if not result.get("allow"):
        return "deny"
    if result.get("source") == "fail_open":
        return "fail_open"
    return "mask" if masked else "allow"


class DecisionMetrics:
    """Counters and latency histograms in a registry of their own (tests and a second proxy never share one)."""

    def __init__(self, *, scan_work: Callable[[], int] | None = None) -> None:
        """`scan_work`: how many units of scan work run on worker threads now (`wardgate_scan_work_inflight`)."""
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.decisions = Counter(
            "wardgate_decisions",
            "Policy decisions by phase, outcome and the first reason code.",
            ["phase", "outcome", "code"],
            registry=self.registry,
        )
        self.findings = Counter(
            "wardgate_findings", "Scanner findings by kind and phase.", ["phase", "kind"], registry=self.registry
        )
        self.scan_errors = Counter(
            "wardgate_scan_errors", "Decisions taken without a complete scan.", ["phase"], registry=self.registry
        )
        self.audit_failures = Counter(
            "wardgate_audit_write_failures",
            "Audit events that could not be written (each one's request was refused with 503).",
            registry=self.registry,
        )
        self.duration = Histogram(
            "wardgate_decision_duration_seconds",
            "Time from a phase's start to its decision (scan + policy), by phase.",
            ["phase"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.stage = Histogram(
            "wardgate_stage_duration_seconds",
            "Time in each stage of a decision (scan, policy).",
            ["stage"],
            buckets=_BUCKETS,
            registry=self.registry,
        )

        if scan_work is not None:
            # Read at scrape time: work of requests that are gone must fall to zero within one batch.
            Gauge(
                "wardgate_scan_work_inflight",
                "Units of scan work (a model batch, a text slice through Presidio, a secrets pass) running now.",
                registry=self.registry,
            ).set_function(scan_work)

    def __call__(self, logger: object, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        if event_dict.get("event") == "decision":
            self.observe(event_dict)
        return event_dict

    def observe(self, event: Mapping[str, Any]) -> None:
        phase = str(event.get("phase", "unknown"))
        result = event.get("result") or {}
        reasons = result.get("reasons") or []
        code = reasons[0].get("code", "") if reasons else ""
        self.decisions.labels(phase, outcome_of(result, event.get("masked"), event.get("enforced")), code).inc()
        for kind, count in (event.get("finding_counts") or {}).items():
            self.findings.labels(phase, kind).inc(count)
        if event.get("scan_error"):
            self.scan_errors.labels(phase).inc()
        timings = event.get("metrics") or {}
        if "total_ms" in timings:
            self.duration.labels(phase).observe(timings["total_ms"] / 1000)
        for stage in ("scan", "policy"):
            if f"{stage}_ms" in timings:
                self.stage.labels(stage).observe(timings[f"{stage}_ms"] / 1000)

    def exposition(self) -> tuple[bytes, str]:
        """The text format body and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
