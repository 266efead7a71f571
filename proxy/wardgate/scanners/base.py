"""The one interface every scanner implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from wardgate.models import Finding, Segment

__all__ = ["Scanner"]


class Scanner(Protocol):
    """Scans a batch of segments and returns findings that point back at them by index.

    Implementations do their CPU work off the event loop; they raise `ScannerError` when they
    cannot scan (the pipeline turns that into the configured fail-closed verdict).
    """

    name: str

    async def scan(self, segments: Sequence[Segment]) -> list[Finding]: ...
