"""What the pipeline knows about one intercepted request, independent of mitmproxy."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Mapping
from typing import Any

__all__ = ["RequestContext"]


@dataclasses.dataclass(slots=True)
class RequestContext:
    method: str
    host: str
    path: str
    provider: str
    identity: Mapping[str, Any]
    decision_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    trace_id: str | None = None
    started: float = dataclasses.field(default_factory=time.perf_counter)

    def as_input(self) -> dict[str, Any]:
        return {"id": self.decision_id, "method": self.method, "host": self.host, "path": self.path}
