"""Detection metrics for `wardgate eval injection`: confusion counts, precision, recall, FPR and ROC AUC per file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from wardgate.errors import ConfigError
from wardgate.evaluation.jsonl import json_lines

__all__ = ["binary_metrics", "read_labelled", "roc_auc"]


def read_labelled(path: Path) -> tuple[list[str], list[int]]:
    """`{"text", "label"}` JSON lines; a bad line is a clear error naming file and line."""
    texts, labels = [], []
    for number, row in json_lines(path):
        try:
            text, label = row["text"], int(row["label"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}:{number}: expected a JSON object with `text` and `label` ({exc})") from exc
        if label not in (0, 1) or not isinstance(text, str):
            raise ConfigError(f"{path}:{number}: `label` must be 0 or 1 and `text` a string")
        texts.append(text)
        labels.append(label)
    return texts, labels


def roc_auc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """Mann-Whitney AUC with ties counted half; None when only one class is present."""
    positives = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    negatives = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    if not positives or not negatives:
        return None
    ranked = sorted((score, label) for score, label in zip(scores, labels, strict=True))
    rank_sum, index = 0.0, 0
    while index < len(ranked):
        end = index
        while end + 1 < len(ranked) and ranked[end + 1][0] == ranked[index][0]:
            end += 1
        average_rank = (index + end) / 2 + 1
        rank_sum += average_rank * sum(1 for k in range(index, end + 1) if ranked[k][1] == 1)
        index = end + 1
    return (rank_sum - len(positives) * (len(positives) + 1) / 2) / (len(positives) * len(negatives))


def binary_metrics(scores: Sequence[float], labels: Sequence[int], threshold: float) -> dict[str, Any]:
    predicted = [score >= threshold for score in scores]
    tp = sum(1 for p, y in zip(predicted, labels, strict=True) if p and y == 1)
    fp = sum(1 for p, y in zip(predicted, labels, strict=True) if p and y == 0)
    tn = sum(1 for p, y in zip(predicted, labels, strict=True) if not p and y == 0)
    fn = sum(1 for p, y in zip(predicted, labels, strict=True) if not p and y == 1)
    auc = roc_auc(scores, labels)
    return {
        "n": len(labels),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "fpr": round(fp / (fp + tn), 4) if fp + tn else None,
        "auc": round(auc, 4) if auc is not None else None,
    }
