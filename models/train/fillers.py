"""Recover what a templated dataset filled its templates with, from the rows alone."""

from __future__ import annotations

import itertools
import os
from collections import defaultdict


def template_fillers(rows: list[dict], source: str) -> set[str]:
    """The parts that differ between rows of `source` built from one template (grouped by their first 40 characters).

    Two rows from one template differ only where the filler went: the text between their common prefix and common
    suffix is each row's filler. Fillers that share first or last letters lose them ("rob a ban"), so the result
    holds fragments too; callers keep the whole ones.
    """
    by_template: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row["source"] == source:
            by_template[row["text"][:40]].append(row["text"])
    fillers: set[str] = set()
    for texts in by_template.values():
        for a, b in itertools.pairwise(texts):
            prefix = len(os.path.commonprefix([a, b]))
            suffix = len(os.path.commonprefix([a[::-1], b[::-1]]))
            fillers.update(t[prefix : len(t) - suffix].strip() for t in (a, b))
    return fillers


def whole_ones(fragments: set[str]) -> list[str]:
    """Drop every fragment that is part of a longer one."""
    return sorted(f for f in fragments if f and not any(other != f and f in other for other in fragments))
