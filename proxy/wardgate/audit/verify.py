"""`wardgate audit verify`: find the first event whose hash, link or sequence is broken."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from wardgate.audit.chain import GENESIS, event_hash
from wardgate.audit.sink import damage_digest

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
    # Unreadable lines a restart sealed with an `audit_recovered` event that names their digest: a gap whose
    # cause is on record (a crash or a full disk), not tampering.
    recovered: tuple[Break, ...] = ()

    @property
    def ok(self) -> bool:
        return self.broken is None


def _first_seq(path: Path) -> int:
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip():
                try:
                    return int(json.loads(line)["seq"])
                except (ValueError, KeyError, TypeError):
                    return -1
    return -1


def _lines(paths: Sequence[Path]) -> Iterator[tuple[Path, int, bytes]]:
    for path in paths:
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield path, number, line


def _event(line: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
        int(event["seq"]), event["prev_hash"], event["hash"]
    except (ValueError, KeyError, TypeError):
        return None
    return event if isinstance(event, dict) else None


def verify_files(paths: Sequence[Path]) -> VerifyResult:
    """Verify one chain spread over files (rotation), ordered by their first event's `seq`.

    The chain must start at the genesis link unless its first event is a later `seq` (older files
    deleted by retention); then that event's `prev_hash` is the trusted anchor. Unreadable lines are a break
    unless the next event is an `audit_recovered` that continues the chain and records their digest.
    """
    ordered = sorted(paths, key=_first_seq)
    count, first_seq, prev_hash, expected_seq = 0, None, None, None
    torn: list[tuple[Path, int, bytes]] = []
    recovered: list[Break] = []
    for path, number, line in _lines(ordered):
        event = _event(line)
        if event is None:
            torn.append((path, number, line))
            continue
        result = VerifyResult(count, first_seq, None, tuple(recovered))
        if torn:
            damaged = event.get("damaged") if event.get("event") == "audit_recovered" else None
            if not isinstance(damaged, dict) or damaged.get("sha256") != damage_digest([t[2] for t in torn]):
                where = torn[0]
                return dataclasses.replace(result, broken=Break(where[0], where[1], "not an audit event (bad JSON)"))
            recovered.append(Break(torn[0][0], torn[0][1], f"{len(torn)} torn line(s) sealed by seq {event['seq']}"))
            torn = []
            result = VerifyResult(count, first_seq, None, tuple(recovered))
        seq, link, recorded = int(event["seq"]), event["prev_hash"], event["hash"]
        if event_hash(event) != recorded:
            return dataclasses.replace(result, broken=Break(path, number, "hash mismatch: the event was altered"))
        if expected_seq is None:
            first_seq = seq
            if seq == 0 and link != GENESIS:
                return dataclasses.replace(
                    result, first_seq=seq, broken=Break(path, number, "first event does not start at genesis")
                )
        elif seq != expected_seq:
            return dataclasses.replace(
                result, broken=Break(path, number, f"sequence gap: expected {expected_seq}, got {seq}")
            )
        elif link != prev_hash:
            return dataclasses.replace(result, broken=Break(path, number, "broken link: prev_hash does not match"))
        prev_hash, expected_seq, count = recorded, seq + 1, count + 1
    if torn:
        where = torn[0]
        reason = "not an audit event (bad JSON); a restart seals a torn tail"
        return VerifyResult(count, first_seq, Break(where[0], where[1], reason), tuple(recovered))
    return VerifyResult(count, first_seq, None, tuple(recovered))
