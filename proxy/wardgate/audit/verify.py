"""`wardgate audit verify`: find the first event whose hash, link or sequence is broken."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from wardgate.audit.chain import GENESIS, event_hash

__all__ = ["Break", "VerifyResult", "verify_files"]


@dataclasses.dataclass(frozen=True, slots=True)
class Break:
    file: Path
    line: int
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class VerifyResult:
    events: int
    first_seq: int | None
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def _first_seq(path: Path) -> int:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    return int(json.loads(line)["seq"])
                except (ValueError, KeyError, TypeError):
                    return -1
    return -1


def _lines(paths: Sequence[Path]) -> Iterator[tuple[Path, int, str]]:
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield path, number, line


def verify_files(paths: Sequence[Path]) -> VerifyResult:
    """Verify one chain spread over files (rotation), ordered by their first event's `seq`.

    The chain must start at the genesis link unless its first event is a later `seq` (older files
    deleted by retention); then that event's `prev_hash` is the trusted anchor.
    """
    ordered = sorted(paths, key=_first_seq)
    count, first_seq, prev_hash, expected_seq = 0, None, None, None
    for path, number, line in _lines(ordered):
        try:
            event = json.loads(line)
            seq, link, recorded = int(event["seq"]), event["prev_hash"], event["hash"]
        except (ValueError, KeyError, TypeError):
            return VerifyResult(
                count, first_seq, Break(path, number, "not an audit event (bad JSON or missing fields)")
            )
        if event_hash(event) != recorded:
            return VerifyResult(count, first_seq, Break(path, number, "hash mismatch: the event was altered"))
        if expected_seq is None:
            first_seq = seq
            if seq == 0 and link != GENESIS:
                return VerifyResult(count, first_seq, Break(path, number, "first event does not start at genesis"))
        elif seq != expected_seq:
            return VerifyResult(
                count, first_seq, Break(path, number, f"sequence gap: expected {expected_seq}, got {seq}")
            )
        elif link != prev_hash:
            return VerifyResult(count, first_seq, Break(path, number, "broken link: prev_hash does not match"))
        prev_hash, expected_seq, count = recorded, seq + 1, count + 1
    return VerifyResult(count, first_seq, None)
