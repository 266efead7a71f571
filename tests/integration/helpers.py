from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.conftest import OPENAI_KEY, POLICIES


def audit_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def event_for(path: Path, decision_id: str, phase: str = "request") -> dict[str, Any]:
    matches = [e for e in audit_events(path) if e["decision_id"] == decision_id and e["phase"] == phase]
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
    result = subprocess.run(
        ["curl", "-sS", *options, "-o", "-", "-w", "\n%{http_code}", "-H", "content-type: application/json",
         "-H", f"authorization: Bearer {OPENAI_KEY}",
         "--data", json.dumps(body), url],
        capture_output=True, text=True, timeout=30, check=True, env=env,
    )  # fmt: skip
    payload, status = result.stdout.rsplit("\n", 1)
    return int(status), json.loads(payload)
