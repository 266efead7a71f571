"""Where audit lines go: an append-only file that rotates without breaking the chain, and stdout."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import select
import sys
import time
from pathlib import Path
from typing import IO, Any

from wardgate.audit.chain import GENESIS
from wardgate.errors import AuditError

__all__ = ["AuditSink", "Damage", "StdoutGap", "Tail", "read_tail", "rotated_files"]

# How far back a damaged tail is looked at: a torn write is one line, a crash loop a few.
_TAIL_WINDOW = 1024 * 1024
# How long one audit line may wait for a stalled stdout reader (the event loop waits with it) before it is refused.
_STDOUT_WAIT_S = 0.5
_ROTATED = re.compile(r"\.\d{6,}")


class StdoutGap(AuditError):
    """A line is in the file but not on stdout (the file could not be cut): the chain keeps it."""


def rotated_files(path: Path) -> list[Path]:
    """`audit.jsonl.000001`, `.000002`, … oldest first (numbered in rotation order). Only Wardgate's own six-digit
    numbers: logrotate's `audit.jsonl.1` sorted after them as a string, and the next rotation's number, taken from
    it, renamed a file onto Wardgate's `.000002` (an outside review)."""
    siblings = path.parent.glob(path.name + ".*")
    return sorted((p for p in siblings if _ROTATED.fullmatch(p.suffix)), key=lambda p: int(p.suffix[1:]))


def damage_digest(lines: list[bytes]) -> str:
    """What an `audit_recovered` event records of the unreadable lines it seals (their bytes, not their text)."""
    return hashlib.sha256(b"\n".join(line.rstrip(b"\r\n") for line in lines)).hexdigest()


@dataclasses.dataclass(frozen=True, slots=True)
class Damage:
    """Unreadable lines at the end of the newest file (a write torn by a crash or a full disk)."""

    file: Path
    lines: int
    bytes: int
    sha256: str

    def to_event(self) -> dict[str, Any]:
        return {"file": self.file.name, "lines": self.lines, "bytes": self.bytes, "sha256": self.sha256}


@dataclasses.dataclass(frozen=True, slots=True)
class Tail:
    """Where a restart continues the chain, and the damage it must seal first (if any)."""

    prev_hash: str
    next_seq: int
    damage: Damage | None = None


def _event_of(line: bytes) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
        str(event["hash"]), int(event["seq"])
    except (ValueError, KeyError, TypeError):
        return None
    return event if isinstance(event, dict) else None


def _tail_lines(path: Path) -> list[bytes]:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - _TAIL_WINDOW))
        chunk = handle.read()
    lines = chunk.split(b"\n")
    if size > _TAIL_WINDOW:
        lines = lines[1:]  # the first one is cut by the window
    return [line for line in lines if line.strip()]


def read_tail(path: Path) -> Tail:
    """The chain's last link after a restart, from the newest non-empty file.

    Unreadable lines after the last good event are reported as `damage` (sealed by an `audit_recovered` event,
    which `audit verify` accepts); a file with no readable event near its end is refused.
    """
    for candidate in [path, *reversed(rotated_files(path))]:
        if not candidate.is_file() or not (lines := _tail_lines(candidate)):  # /dev/full is no file to read
            continue
        for position in range(len(lines) - 1, -1, -1):
            if (event := _event_of(lines[position])) is not None:
                torn = lines[position + 1 :]
                damage = None
                if torn:
                    size = sum(len(line) + 1 for line in torn)
                    damage = Damage(candidate, len(torn), size, damage_digest(torn))
                return Tail(str(event["hash"]), int(event["seq"]) + 1, damage)
        raise AuditError(f"cannot continue the audit chain: no readable event at the end of {candidate}")
    return Tail(GENESIS, 0)


class AuditSink:
    """A structlog 'logger': `msg(line)` appends one line to each target and writes it out at once.

    A write that fails is taken back (the file is cut to where it was), so one full disk never leaves a torn line
    in the middle of the chain, and the next successful write continues it cleanly.
    """

    def __init__(self, path: Path | None, *, stdout: bool, max_bytes: int) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._stdout = _Stdout(sys.stdout) if stdout else None
        self._file: IO[bytes] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_fifo() or path.is_socket():  # opening a FIFO waits for a reader: the start hung for ever
                raise AuditError(f"audit file {path} is a pipe or socket: use audit.stdout for a stream")
            self._file = _open(path)
            if (size := self._file.tell()) > 0 and not _ends_with_newline(path, size):
                self._file.write(b"\n")  # a torn last line stays on its own line, sealed by the next event

    def msg(self, line: str) -> None:
        data = line.encode("utf-8") + b"\n"
        position = self._append(data) if self._file is not None else None
        if self._stdout is not None:
            try:
                self._stdout.write(data)
            except AuditError as exc:
                # Taken back from the file too, as the chain in memory is rewound: a line kept in the file would be
                # followed by another with its sequence number (an outside review: `audit verify` then failed). A
                # file that cannot be cut (append-only) keeps it, and the chain keeps it too: stdout alone has a gap.
                if position is not None and not self._take_back(position):
                    raise StdoutGap(str(exc)) from exc
                raise

    def _append(self, data: bytes) -> int:
        """Append one line; returns where it starts."""
        assert self._file is not None
        try:
            if self._moved():
                self._reopen()
            if self._file.tell() > 0 and self._file.tell() + len(data) > self._max_bytes:
                self._rotate()
            position = self._file.tell()
        except OSError as exc:
            raise AuditError(f"cannot write the audit trail: {exc}") from exc
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._file.fileno(), view) :]
        except OSError as exc:
            self._take_back(position)  # a cut that fails leaves the line torn: the next start seals it (read_tail)
            raise AuditError(f"cannot write the audit trail: {exc}") from exc
        return position

    def _moved(self) -> bool:
        """Whether the path no longer names the open file: deleted (a log shipper that removes what it read) or
        renamed (logrotate). Lines written on would go to a file no one reads again (an outside review: every
        record after an `rm` was lost while traffic flowed), so the path is opened anew, as logging's
        WatchedFileHandler does; the chain continues there."""
        assert self._file is not None
        assert self._path is not None
        try:
            named = os.stat(self._path)
        except FileNotFoundError:
            return True
        opened = os.fstat(self._file.fileno())
        return (named.st_dev, named.st_ino) != (opened.st_dev, opened.st_ino)

    def _take_back(self, position: int) -> bool:
        """Cut what reached the file of a line back off, through the open file, never by path (the path may name
        another file by now: logrotate). The file is unbuffered, so nothing of the line is left to come out later.
        False when it cannot be cut (an append-only file, /dev/full)."""
        assert self._file is not None
        try:
            os.ftruncate(self._file.fileno(), position)
            self._file.seek(position)  # where the next line starts (tell() would still say the old end)
        except OSError:
            return False
        return True

    def _rotate(self) -> None:
        """Rename the full file and open a new one. A rename or open that fails leaves the open file in place
        (the write is refused), so the next write tries again: closing first left a closed file that refused every
        write until a restart, after the fault had cleared (an outside review)."""
        assert self._path is not None
        existing = rotated_files(self._path)
        number = int(existing[-1].suffix[1:]) + 1 if existing else 1
        while (target := self._path.with_name(f"{self._path.name}.{number:06d}")).exists():
            number += 1  # never onto a file: a rename replaces it
        self._path.rename(target)
        self._reopen()

    def _reopen(self) -> None:
        assert self._file is not None
        assert self._path is not None
        opened = _open(self._path)
        with contextlib.suppress(OSError):
            self._file.close()
        self._file = opened

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _Stdout:
    """Audit lines to stdout, without letting a reader that stops reading hold the proxy.

    A blocking write to a full pipe held the event loop, and with it every request, `/healthz` and `/metrics`,
    until someone drained the pipe (an outside review). A line now waits at most `_STDOUT_WAIT_S` for room, and
    once stdout has stalled, later lines are refused at once until one goes through: each refusal is a failed audit
    write (the request is refused, readiness drops), never a wait per request.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        try:
            self._fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):  # a stream with no descriptor (a test's capture): plain writes
            self._fd = None
        self._poller = select.poll()
        if self._fd is not None:
            self._poller.register(self._fd, select.POLLOUT)
        self._stalled = False
        self._torn = False  # a line cut off by a stall: the next one starts on a line of its own

    def write(self, data: bytes) -> None:
        if self._fd is None:
            try:
                self._stream.write(data.decode("utf-8"))
                self._stream.flush()
            except (OSError, AttributeError, ValueError) as exc:  # no stdout at all (fd 1 closed: None), closed
                raise AuditError(f"cannot write the audit trail to stdout: {exc}") from exc
            return
        payload = b"\n" + data if self._torn else data
        sent = 0
        deadline = time.monotonic() + (0.0 if self._stalled else _STDOUT_WAIT_S)
        try:
            while sent < len(payload):
                if not self._poller.poll(max(0, round((deadline - time.monotonic()) * 1000))):
                    self._stalled = True
                    raise AuditError(f"stdout did not take the audit line within {_STDOUT_WAIT_S:g} s")
                # At most PIPE_BUF bytes: a pipe that polls writable takes that much without blocking.
                sent += os.write(self._fd, payload[sent : sent + select.PIPE_BUF])
        except OSError as exc:
            raise AuditError(f"cannot write the audit trail to stdout: {exc}") from exc
        finally:
            if sent < len(payload):
                self._torn = self._torn or sent > 0  # the next line starts on a line of its own
        self._stalled = self._torn = False


def _open(path: Path) -> IO[bytes]:
    # Unbuffered: each line goes out in whole `os.write` calls at once (it was flushed after every line anyway), and
    # a failed one leaves no buffered rest to discard before the file is cut back.
    return path.open("ab", buffering=0)


def _ends_with_newline(path: Path, size: int) -> bool:
    with path.open("rb") as handle:
        handle.seek(size - 1)
        return handle.read(1) == b"\n"
