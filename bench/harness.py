"""What the proxy benchmarks share: a fake upstream in its own process and a Wardgate API key for the clients."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from wardgate.identity import hash_key

API_KEY = "sk-bench"
ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def shipped_scanners() -> dict[str, Any]:
    """The default scanners with the repository's models named by absolute path (a benchmarked Wardgate runs in a
    temporary directory, where the defaults' relative paths name nothing)."""
    return {
        "injection": {
            "model": str(MODELS / "injection"),
            "multilingual": str(MODELS / "injection-ml"),
            "language_model": str(MODELS / "langid" / "lid.176.ftz"),
        },
        "pii": {"ner": {"model": str(MODELS / "pii-ner")}},
    }


def start_upstream(*args: str) -> tuple[subprocess.Popen[str], str]:
    """`python -m wardgate.testing ARGS` in a process of its own; (process, its URL)."""
    upstream = subprocess.Popen([sys.executable, "-m", "wardgate.testing", *args], stdout=subprocess.PIPE, text=True)
    assert upstream.stdout is not None
    return upstream, upstream.stdout.readline().rsplit(" ", 1)[-1].strip()


def proxy_config(upstream_url: str) -> tuple[Path, dict[str, Any]]:
    """(a fresh working directory, the config every benchmarked Wardgate shares): reverse mode in front of the
    upstream, the shipped policy and scanners, and an API key file that lets `API_KEY` in (tenant `default`)."""
    workdir = Path(tempfile.mkdtemp(prefix="wardgate-bench-"))
    keys = workdir / "api-keys.yaml"
    keys.write_text(f"keys:\n  - {{sha256: {hash_key(API_KEY)}, subject: bench, tenant: default}}\n")
    return workdir, {
        "upstream": upstream_url,
        "policy": {"dir": str(ROOT / "policies"), "watch": False},
        "identity": {"api_keys": {"enabled": True, "file": str(keys)}},
        "scanners": shipped_scanners(),
    }
