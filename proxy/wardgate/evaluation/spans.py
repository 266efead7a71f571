"""Span metrics for `wardgate eval pii`: per entity type precision/recall/F1 at char IoU ≥ 0.5, and "masked".

"masked" is what a masking proxy cares about: the share of gold entities at least half covered by any
prediction, whatever type it was given (a name tagged LOCATION is still hidden from the model).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wardgate.errors import ConfigError
from wardgate.evaluation.jsonl import json_lines

__all__ = ["GoldSpan", "read_spans", "span_metrics"]

IOU = 0.5
COVERED = 0.5


@dataclasses.dataclass(frozen=True, slots=True)
class GoldSpan:
    start: int
    end: int
    label: str


def read_spans(path: Path) -> tuple[list[str], list[list[GoldSpan]]]:
    """`{"text", "spans": [{"start", "end", "label"}]}` JSON lines; a bad line is an error naming file and line."""
    texts, spans = [], []
    for number, row in json_lines(path):
        try:
            text = row["text"]
            gold = [GoldSpan(int(s["start"]), int(s["end"]), str(s["label"])) for s in row["spans"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{number}: expected `text` and `spans` [{{start, end, label}}] ({exc})") from exc
        if not isinstance(text, str) or any(not 0 <= s.start < s.end <= len(text) for s in gold):
            raise ConfigError(f"{path}:{number}: `text` must be a string and every span inside it")
        texts.append(text)
        spans.append(gold)
    return texts, spans


def _overlap(a: GoldSpan, b: GoldSpan) -> int:
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def _iou(a: GoldSpan, b: GoldSpan) -> float:
    shared = _overlap(a, b)
    return shared / (a.end - a.start + b.end - b.start - shared) if shared else 0.0


def _covered(gold: GoldSpan, predicted: Sequence[GoldSpan]) -> bool:
    hidden: set[int] = set()
    for span in predicted:
        hidden.update(range(max(gold.start, span.start), min(gold.end, span.end)))
    return len(hidden) >= COVERED * (gold.end - gold.start)


def _scores(tp: int, predicted: int, support: int, masked: int) -> dict[str, Any]:
    precision = tp / predicted if predicted else None
    recall = tp / support if support else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else (0.0 if support else None)
    return {
        "precision": round(precision, 4) if precision is not None else None,
        "recall": round(recall, 4) if recall is not None else None,
        "f1": round(f1, 4) if f1 is not None else None,
        "masked": round(masked / support, 4) if support else None,
        "support": support,
        "predicted": predicted,
    }


def span_metrics(gold: Sequence[Sequence[GoldSpan]], predicted: Sequence[Sequence[GoldSpan]]) -> dict[str, Any]:
    """`{"entities": {TYPE: {precision, recall, f1, masked, support, predicted}}, "overall": {...}}`.

    A prediction is a true positive when it has the gold span's type and char IoU ≥ 0.5 with a gold span not
    already matched (best IoU first).
    """
    counts: dict[str, list[int]] = {}  # type → [tp, predicted, support, masked]
    for gold_spans, predicted_spans in zip(gold, predicted, strict=True):
        for span in gold_spans:
            row = counts.setdefault(span.label, [0, 0, 0, 0])
            row[2] += 1
            row[3] += _covered(span, predicted_spans)
        for span in predicted_spans:
            counts.setdefault(span.label, [0, 0, 0, 0])[1] += 1
        pairs = sorted(
            ((_iou(g, p), gi, pi) for gi, g in enumerate(gold_spans) for pi, p in enumerate(predicted_spans)
             if g.label == p.label),
            reverse=True,
        )  # fmt: skip
        used_gold, used_predicted = set(), set()
        for iou, gi, pi in pairs:
            if iou < IOU or gi in used_gold or pi in used_predicted:
                continue
            used_gold.add(gi)
            used_predicted.add(pi)
            counts[gold_spans[gi].label][0] += 1
    totals = [sum(row[i] for row in counts.values()) for i in range(4)]
    return {
        "entities": {label: _scores(*row) for label, row in sorted(counts.items())},
        "overall": _scores(*totals),
    }
