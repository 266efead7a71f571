"""The one interface every scanner implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from wardgate.models import Finding, Segment

__all__ = ["Scanner", "SyncScanner"]


class Scanner(Protocol):
    """Scans a batch of segments and returns findings that point back at them by index.

    Implementations do their CPU work off the event loop; they raise `ScannerError` when they
    cannot scan (the pipeline turns that into the configured fail-closed verdict).
    """

    name: str

    async def scan(self, segments: Sequence[Segment]) -> list[Finding]: ...


class SyncScanner(Protocol):
    """A scanner cheap enough to run on the caller's thread: what judges stream windows (regexes, RE2)."""

    name: str

    def scan_sync(self, segments: Sequence[Segment]) -> list[Finding]: ...
