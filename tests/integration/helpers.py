from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import OPENAI_KEY, POLICIES

Event = dict[str, Any]


def audit_events(path: Path) -> list[Event]:
    """The complete lines of an audit file another process is writing (a line still being written is left out)."""
    text = path.read_text() if path.exists() else ""
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def wait_for_events(path: Path, where: Callable[[Event], bool], count: int = 1, timeout: float = 10.0) -> list[Event]:
    """The events matching `where` once at least `count` are written (the proxy writes a stream's after its end)."""
    deadline = time.monotonic() + timeout
    while True:
        matches = [event for event in audit_events(path) if where(event)]
        if len(matches) >= count or time.monotonic() > deadline:
            return matches
        time.sleep(0.02)


def event_for(path: Path, decision_id: str, phase: str = "request") -> Event:
    matches = wait_for_events(path, lambda e: e["decision_id"] == decision_id and e["phase"] == phase)
    assert len(matches) == 1, f"expected one {phase} event for {decision_id}, found {len(matches)}"
    return matches[0]


def policy_copy(directory: Path, **data_overrides: Any) -> Path:
    """The default bundle with some top-level data documents replaced."""
    target = directory / "policies"
    shutil.copytree(POLICIES, target)
    data = json.loads((target / "data.json").read_text())
    data.update(data_overrides)
    (target / "data.json").write_text(json.dumps(data))
    return target


def curl_post(url: str, body: dict[str, Any], *options: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    """POST JSON with the real curl binary; (status, parsed body)."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed (`make test` installs it when run as root with apt-get)")
    result = subprocess.run(
        ["curl", "-sS", *options, "-o", "-", "-w", "\n%{http_code}", "-H", "content-type: application/json",
         "-H", f"authorization: Bearer {OPENAI_KEY}",
         "--data", json.dumps(body), url],
        capture_output=True, text=True, timeout=30, check=True, env=env,
    )  # fmt: skip
    payload, status = result.stdout.rsplit("\n", 1)
    return int(status), json.loads(payload)
