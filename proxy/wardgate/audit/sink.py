"""Where audit lines go: an append-only file that rotates without breaking the chain, and stdout."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO

from wardgate.audit.chain import GENESIS
from wardgate.errors import AuditError

__all__ = ["AuditSink", "last_link", "rotated_files"]


def rotated_files(path: Path) -> list[Path]:
    """`audit.jsonl.000001`, `.000002`, … oldest first (numbered in rotation order)."""
    siblings = path.parent.glob(path.name + ".*")
    return sorted(p for p in siblings if p.suffix[1:].isdigit())


def _last_line(path: Path) -> str | None:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        position = handle.tell()
        chunk = b""
        while position > 0 and chunk.count(b"\n") < 2:
            step = min(65536, position)
            position -= step
            handle.seek(position)
            chunk = handle.read(step) + chunk
    lines = [line for line in chunk.splitlines() if line.strip()]
    return lines[-1].decode("utf-8") if lines else None


def last_link(path: Path) -> tuple[str, int]:
    """(hash, next seq) to continue the chain after a restart: from the newest non-empty file."""
    for candidate in [path, *reversed(rotated_files(path))]:
        if candidate.exists() and (line := _last_line(candidate)):
            try:
                event = json.loads(line)
                return str(event["hash"]), int(event["seq"]) + 1
            except (ValueError, KeyError, TypeError) as exc:
                raise AuditError(f"cannot continue the audit chain: last line of {candidate} is damaged") from exc
    return GENESIS, 0


class AuditSink:
    """A structlog 'logger': `msg(line)` appends one line to each target and flushes it at once."""

    def __init__(self, path: Path | None, *, stdout: bool, max_bytes: int) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._stdout: IO[str] | None = sys.stdout if stdout else None
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def msg(self, line: str) -> None:
        try:
            if self._file is not None:
                if self._file.tell() > 0 and self._file.tell() + len(line) >= self._max_bytes:
                    self._rotate()
                self._file.write(line + "\n")
                self._file.flush()
            if self._stdout is not None:
                self._stdout.write(line + "\n")
                self._stdout.flush()
        except OSError as exc:
            raise AuditError(f"cannot write the audit trail: {exc}") from exc

    def _rotate(self) -> None:
        assert self._file is not None
        assert self._path is not None
        self._file.close()
        existing = rotated_files(self._path)
        number = int(existing[-1].suffix[1:]) + 1 if existing else 1
        self._path.rename(self._path.with_name(f"{self._path.name}.{number:06d}"))
        self._file = self._path.open("a", encoding="utf-8")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
