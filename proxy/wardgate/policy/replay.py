"""`wardgate policy replay`: decide recorded policy inputs again under a candidate bundle and say what would change.

Each audit `decision` event keeps the input it was decided on (`policy.recording`); the candidate's answer is
compared with the recorded one on what a client sees: allowed or not, and the reason code. Decisions Wardgate
made itself (a scanner or engine failure, fail-closed or fail-open) are replayed too, but kept apart: their
recorded outcome was never the policy's, so a difference there is not a change the bundle made.
"""

from __future__ import annotations

import collections
import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from wardgate.errors import PolicyError
from wardgate.policy.decision import Decision

__all__ = ["Outcome", "ReplayReport", "Replayed", "read_events", "replay"]

Decide = Callable[[Mapping[str, Any]], Decision]

# Why an event was not replayed (the keys of `ReplayReport.skipped`).
NO_INPUT = "no_input"  # written before inputs were recorded, or with audit.record_input: false
NOT_JUDGED = "refused_before_policy"  # malformed, too large, unauthenticated at the door: no input ever existed
INCOMPLETE = "input_incomplete"  # tool-call arguments are never recorded; deciding without them would mislead


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    allow: bool
    code: str

    def to_dict(self) -> dict[str, Any]:
        return {"allow": self.allow, "code": self.code}

    def __str__(self) -> str:
        return f"{'allow' if self.allow else 'deny'} {self.code}"


@dataclasses.dataclass(frozen=True, slots=True)
class Replayed:
    decision_id: str
    phase: str
    tenant: str
    source: str  # how the recorded decision came about: policy, fail_closed or fail_open
    before: Outcome
    after: Outcome
    error: str | None = None  # the candidate bundle could not decide (counted as the proxy would: a deny)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def to_dict(self) -> dict[str, Any]:
        entry = {"decision_id": self.decision_id, "phase": self.phase, "tenant": self.tenant,
                 "before": self.before.to_dict(), "after": self.after.to_dict()}  # fmt: skip
        if self.source != "policy":
            entry["source"] = self.source
        if self.error is not None:
            entry["error"] = self.error
        return entry


@dataclasses.dataclass(slots=True)
class ReplayReport:
    events: int = 0  # decision events read
    results: list[Replayed] = dataclasses.field(default_factory=list)
    skipped: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    unreadable: int = 0  # lines that are not JSON objects (a torn tail that `audit verify` reports)

    @property
    def changes(self) -> list[Replayed]:
        return [result for result in self.results if result.source == "policy" and result.changed]

    @property
    def fail_modes(self) -> list[Replayed]:
        return [result for result in self.results if result.source != "policy"]

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "replayed": len(self.results),
            "changed": len(self.changes),
            "changes": [change.to_dict() for change in self.changes],
            "fail_mode": [result.to_dict() for result in self.fail_modes],
            "skipped": dict(sorted(self.skipped.items())),
            "errors": sum(result.error is not None for result in self.results),
            "unreadable": self.unreadable,
        }

    def table(self) -> list[str]:
        """What a policy author reads: the summary, then changes counted by tenant, phase and before → after."""
        skipped = ", ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items()))
        lines = [
            f"{self.events} decision events: {len(self.results)} replayed, {len(self.changes)} changed"
            + (f"; skipped: {skipped}" if skipped else "")
            + (f"; {self.unreadable} unreadable lines" if self.unreadable else "")
        ]
        lines += _grouped(self.changes, "changes (before -> after)")
        lines += _grouped(self.fail_modes, "fail-closed/fail-open decisions (recorded -> the candidate policy's)")
        return lines


def _grouped(results: list[Replayed], title: str) -> list[str]:
    if not results:
        return []
    counts = collections.Counter((r.tenant, r.phase, str(r.before), str(r.after)) for r in results)
    rows = [("tenant", "phase", "before", "after", "events")]
    rows += [(*key, str(count)) for key, count in sorted(counts.items())]
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    return ["", title] + ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                          for row in rows]  # fmt: skip


def read_events(paths: Iterable[Path]) -> Iterator[dict[str, Any] | None]:
    """Every line of the audit files as an object; None for a line that is not one."""
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    event = None
                yield event if isinstance(event, dict) else None


def _before(result: Mapping[str, Any]) -> Outcome:
    allow = bool(result.get("allow"))
    return Outcome(allow, str(result.get("code") or ("allowed" if allow else "policy_denied")))


def replay(events: Iterable[dict[str, Any] | None], decide: Decide) -> ReplayReport:
    report = ReplayReport()
    for event in events:
        if event is None:
            report.unreadable += 1
            continue
        if event.get("event") != "decision":
            continue
        report.events += 1
        recorded = event.get("input")
        if not isinstance(recorded, dict):
            report.skipped[NO_INPUT if event.get("input_hash") else NOT_JUDGED] += 1
            continue
        if event.get("input_omitted"):
            report.skipped[INCOMPLETE] += 1
            continue
        result = event.get("result") or {}
        error = None
        try:
            decision = decide(recorded)
            after = Outcome(decision.allow, decision.code)
        except PolicyError as exc:
            error, after = str(exc), Outcome(False, "policy_engine_error")
        tenant = str((event.get("identity") or {}).get("tenant") or "-")
        source = str(result.get("source") or "policy")
        phase = str(event.get("phase"))
        report.results.append(
            Replayed(str(event.get("decision_id")), phase, tenant, source, _before(result), after, error)
        )
    return report
