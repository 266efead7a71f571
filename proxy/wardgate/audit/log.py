"""The audit logger: structlog with a hash-chain processor, one JSON line per decision."""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from wardgate.audit.chain import HashChain, canonical_json
from wardgate.audit.sink import AuditSink, last_link

__all__ = ["AuditLog"]


class AuditLog:
    """Appends decision events; a restart continues the chain from the file's last event."""

    def __init__(
        self,
        path: Path | None,
        *,
        stdout: bool = False,
        max_bytes: int = 50 * 1024 * 1024,
        observers: Sequence[structlog.typing.Processor] = (),
    ) -> None:
        """`observers` are processors that see each event before it is chained (metrics); they must not edit it."""
        prev_hash, next_seq = last_link(path) if path is not None else ("0" * 64, 0)
        self._sink = AuditSink(path, stdout=stdout, max_bytes=max_bytes)
        self._logger = structlog.wrap_logger(
            self._sink,
            processors=[
                structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
                *observers,
                HashChain(prev_hash, next_seq),
                self._render,
            ],
            wrapper_class=structlog.BoundLogger,
            cache_logger_on_first_use=False,
        )

    @staticmethod
    def _render(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> str:
        return canonical_json(event_dict)

    def record(self, event: str, **fields: Any) -> None:
        self._logger.msg(event, **fields)

    def close(self) -> None:
        self._sink.close()
