"""The audit logger: structlog with a hash-chain processor, one JSON line per decision."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog

from wardgate.audit.chain import GENESIS, HashChain
from wardgate.audit.sink import AuditSink, StdoutGap, read_tail
from wardgate.errors import AuditError

__all__ = ["AuditLog"]

logger = logging.getLogger(__name__)


class AuditLog:
    """Appends decision events; a restart continues the chain from the file's last event.

    A failed write raises `AuditError` and leaves no trace in the chain (the caller refuses the request it was
    recording). `healthy` is False from a failed write until the next write succeeds: readiness reads it.
    """

    def __init__(
        self,
        path: Path | None,
        *,
        stdout: bool = False,
        max_bytes: int = 50 * 1024 * 1024,
        observers: Sequence[structlog.typing.Processor] = (),
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        """`observers` are processors that see each event before it is chained (metrics); they must not edit it."""
        tail = read_tail(path) if path is not None else None
        self._chain = HashChain(tail.prev_hash, tail.next_seq) if tail else HashChain(GENESIS, 0)
        self._sink = AuditSink(path, stdout=stdout, max_bytes=max_bytes)
        self._lock = threading.Lock()
        self._on_failure = on_failure
        self.healthy = True
        self.last_error: str | None = None
        self._logger = structlog.wrap_logger(
            self._sink,
            processors=[
                structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
                *observers,
                self._chain,
            ],
            wrapper_class=structlog.BoundLogger,
            cache_logger_on_first_use=False,
        )
        if tail is not None and tail.damage is not None:
            # The chain continues past the torn lines with an event that records them (audit verify accepts it).
            logger.warning("audit trail: sealing %d damaged line(s) at the end of %s", tail.damage.lines, path)
            self.record("audit_recovered", damaged=tail.damage.to_event())

    def record(self, event: str, **fields: Any) -> None:
        with self._lock:  # the chain's link and the line's place in the file move together
            link = self._chain.link
            try:
                self._logger.msg(event, **fields)
            except Exception as exc:
                if not isinstance(exc, StdoutGap):  # that line is in the file: the chain goes on from it
                    self._chain.rewind(link)
                self.healthy, self.last_error = False, f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {exc}"
                if self._on_failure is not None:
                    self._on_failure()
                if isinstance(exc, AuditError):
                    raise
                raise AuditError(f"cannot write the audit trail: {exc}") from exc
            self.healthy = True

    def close(self) -> None:
        self._sink.close()
