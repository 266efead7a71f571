"""Rewrite the spans a decision masks, segment by segment."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from wardgate.models import Finding, JsonPath, Segment

__all__ = ["masked_texts", "redaction_marker"]


def redaction_marker(kind: str) -> str:
    """`[REDACTED:aws-access-token]` for `secret:aws-access-token`: says what was there, never the value."""
    return f"[REDACTED:{kind.split(':', 1)[-1]}]"


def masked_texts(
    segments: Sequence[Segment], findings: Sequence[Finding], wanted: Callable[[str], bool]
) -> dict[JsonPath, str]:
    """New text per JSON path for every segment that holds a span to mask (overlaps merged)."""
    spans: dict[int, list[tuple[int, int, str]]] = {}
    for finding in findings:
        if wanted(finding.kind):
            spans.setdefault(finding.segment, []).append((finding.start, finding.end, finding.kind))
    rewrites: dict[JsonPath, str] = {}
    for index, found in spans.items():
        text = segments[index].text
        cursor, pieces = 0, []
        for start, end, kind in sorted(found):
            if start < cursor:  # overlaps a span already masked
                continue
            pieces += [text[cursor:start], redaction_marker(kind)]
            cursor = end
        rewrites[segments[index].path] = "".join(pieces) + text[cursor:]
    return rewrites
