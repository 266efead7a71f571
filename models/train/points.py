"""Operating points on held-out validation (numpy only: the main environment's tests import it too).

The recipes choose every line here: the lowest threshold with at most a share of false positives pooled over the
benign validation rows (and, for a role's point, on each benign source), never on the dev sets.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

import numpy as np


def threshold_for_fpr(scores: np.ndarray, labels: np.ndarray, max_fpr: float) -> float:
    negatives = np.sort(scores[labels == 0])[::-1]
    allowed = int(math.floor(max_fpr * len(negatives)))
    # The smallest threshold that keeps at most `allowed` negatives at or above it.
    return float(np.nextafter(negatives[allowed], 1.0)) if allowed < len(negatives) else 0.5


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    ranks = np.argsort(np.argsort(np.concatenate([pos, neg]))) + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def operating_point(
    scores: np.ndarray,
    labels: np.ndarray,
    sources: np.ndarray,
    max_fpr: float,
    max_source_fpr: float,
    min_rows: int,
    source_rows: Mapping[str, int] | None = None,
) -> dict:
    """The lowest threshold with at most `max_fpr` false positives pooled over the benign validation rows and at most
    `max_source_fpr` on each benign source of `min_rows` or more (counted in `source_rows`, the whole split's benign
    rows per source, when the rows given are a part of it). The cap is what keeps a large, easy source (4,000 Korean
    chit-chat turns, none flagged) from spending the pooled budget on one kind of text: without it the user point
    flagged 30% of the held-out short turns and 8% of bastioncorpus' benign prompts at 1% pooled."""
    threshold = threshold_for_fpr(scores, labels, max_fpr)
    for source in np.unique(sources[labels == 0]) if max_source_fpr < 1 else ():
        pick = (sources == source) & (labels == 0)
        if (source_rows or {}).get(source, pick.sum()) >= min_rows:
            threshold = max(threshold, threshold_for_fpr(scores[pick], labels[pick], max_source_fpr))
    threshold = math.ceil(threshold * 1e6) / 1e6  # up: never one more FP
    flagged = scores >= threshold
    return {
        "threshold": threshold,
        "n": len(labels),
        "auc": round(auc(scores, labels), 4),
        "recall": round(float(flagged[labels == 1].mean()), 4),
        "fpr": round(float(flagged[labels == 0].mean()), 4),
    }


def choose_points(scores: np.ndarray, valid: list[dict], args: argparse.Namespace) -> tuple[dict, dict, dict]:
    """The pooled point, the per-role points, and each source's share flagged at both, for the int8 `scores`."""
    labels = np.array([r["label"] for r in valid])
    sources = np.array([r["source"] for r in valid])
    point = {"max_fpr": args.max_fpr, "max_source_fpr": args.max_source_fpr, "min_rows": args.min_source_rows}
    # The pooled point is the measure (≤ 1% pooled over every row, no per-source cap): what `wardgate eval`
    # reports without --role. The scanner judges every text at its role's point, and those are capped per source and
    # chosen on the rows the scanner gives this model: routed (the default), text in other languages than English.
    # Chosen on every row, the 5% cap on held-out long English prose set the user point and Korean direct attacks
    # fell to 0.37 (EXPERIMENTS.md, "One model for every language?").
    pooled = operating_point(scores, labels, sources, **(point | {"max_source_fpr": 1.0}))
    read = np.array([args.point_rows == "all" or r["lang"] != "en" for r in valid])
    documents = np.array([r["role"] == "document" for r in valid])
    benign_rows = Counter(sources[labels == 0].tolist())  # a source is capped by its size, not by how much is read
    roles = {}
    for name, pick in (("user", read & ~documents), ("document", read & documents)):
        if len(set(labels[pick])) != 2:
            raise SystemExit(f"no {name} point: its rows ({int(pick.sum())}) need benign rows and attacks both")
        roles[name] = operating_point(scores[pick], labels[pick], sources[pick], **point, source_rows=benign_rows)
    role_threshold = np.where(documents, roles["document"]["threshold"], roles["user"]["threshold"])
    per_source = {}
    for source in sorted(set(sources)):
        pick = sources == source
        per_source[source] = {
            "n": int(pick.sum()),
            "attacks": int(labels[pick].sum()),
            "flagged": round(float((scores[pick] >= pooled["threshold"]).mean()), 4),
            "flagged_at_role_point": round(float((scores[pick] >= role_threshold[pick]).mean()), 4),
        }
    return pooled, roles, per_source


def save_scores(path: Path | None, valid: list[dict], scores: np.ndarray) -> None:
    if path is not None:
        with path.open("w") as out:
            for row, score in zip(valid, scores, strict=True):
                kept = {k: row[k] for k in ("source", "label", "role", "lang")}
                out.write(json.dumps(kept | {"score": float(score)}) + "\n")


def saved_scores(path: Path, valid: list[dict]) -> np.ndarray:
    """Scores an earlier --scores run wrote for these rows (a new rule for the points, no new forward pass)."""
    saved = [json.loads(line) for line in path.open()]
    if [(s["source"], s["label"]) for s in saved] != [(r["source"], r["label"]) for r in valid]:
        raise SystemExit(f"{path} holds other rows than the validation split")
    return np.array([s["score"] for s in saved])
