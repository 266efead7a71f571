"""Proxy overhead with unique prompts: Wardgate side by side with mitmdump (the floor) and LiteLLM proxy (+ Presidio).

One run, one machine, every target in front of the same fake upstream (`python -m wardgate.testing`, which echoes the
last user text back, so the answer is as new and as long as the prompt and Wardgate's response scan has as much to
do; `--answer short`: one fixed sentence):
  direct                     the fake upstream itself
  mitmdump (floor)           mitmproxy's mitmdump as a plain reverse proxy
  litellm                    LiteLLM proxy, one openai-compatible model pointing at the fake upstream
  litellm + presidio         the same with its `presidio` guardrail (pre_call: mask), over bench/presidio_api.py
  wardgate, policy only      Wardgate with every scanner off (identity, policy, audit)
  wardgate, all scanners     Wardgate's default scanners (secrets, links, the ONNX injection classifier, PII with spaCy
                             + the ONNX tagger), audit as in production
  (--breakdown)              also Wardgate with the injection scanner only, PII only, secrets + links only
Every request carries a different prompt (seeded generator of English sentences with a name, sometimes an e-mail
address; `--size` 1k, 10k or 100k characters; `--languages en,ko` adds Korean prompts of the same shape and size in
characters for direct and the Wardgate rows, which the multilingual injection model reads), so no scanner cache is
ever hit except where a row says it measures one. Clients send `Authorization: Bearer sk-bench` (a Wardgate API
key; LiteLLM's master key).
Per target and concurrency: p50/p99 of the successful requests and what the target adds to direct's, req/s, and CPU
per request: the user+sys CPU time (/proc/PID/stat, Linux) of the target's processes with their descendants
(LiteLLM's workers; for LiteLLM + Presidio, the Presidio server too) over the measured requests (all of them), divided
by them; the client's own CPU per request too (it shares the machine). 403s (a policy denial after a full scan: the
injection classifier flags some of these benign prompts) are counted apart; other non-2xx and failed requests are
errors. Then (unless skipped):
  history    a 20-turn chat whose 19 earlier turns were sent before, only the last turn new, vs one new turn
             (Wardgate all scanners; LiteLLM + Presidio), c=1: the ratios of p50 and of CPU per request
  overload   Wardgate all scanners at offered concurrency 1, 4, 16, 64, 128 (closed loop; a refused client waits the
             Retry-After it got, at most 1 s, as the provider SDKs do), each step bounded in requests and seconds:
             goodput (2xx/s; judged/s adds the 403 denials), 503 refusals (with Retry-After), p99s, and after each
             step, the seconds from the load stopping (clients disconnect) to the first request that succeeds
The peers live in a bench-only venv (`--peers-venv`, default /tmp/bench-peers: `pip install 'litellm[proxy]'`), not
in Wardgate's dependencies; without it their rows are left out. Everything listens on 127.0.0.1. Prints tables and
writes JSON (meta: CPU model, cores, load average, versions).
Usage: python bench/proxy_overhead.py [--requests 200] [--size 1k] [--languages en,ko] [--concurrency 1,16]
    [--max-seconds 30] [--answer short] [--breakdown] [--skip peers,history,overload] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import importlib.metadata
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from harness import API_KEY, proxy_config, start_upstream
from wardgate.testing import ProxyProcess

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
MODEL = "gpt-4o-mini"
SHORT_ANSWER = "Here is the shorter version you asked for."
HEADERS = {"authorization": f"Bearer {API_KEY}", "content-type": "application/json"}
# LiteLLM must not reach out: the local model cost map, no telemetry.
PEER_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "NO_PROXY": "*"}

# --- unique prompts -------------------------------------------------------------------------------------------------

_FIRST = [
    "Alice", "Bruno", "Chen", "Dmitri", "Elena", "Farah", "Gustavo", "Hana", "Ivan", "Julia", "Kofi", "Lena",
    "Marco", "Nadia", "Omar", "Priya", "Quentin", "Rosa",
]  # fmt: skip
_LAST = [
    "Andersen", "Baker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski",
    "Lopez", "Moreau", "Novak", "Okafor",
]  # fmt: skip
_SUBJECTS = [
    "The team", "Our new intern", "The support engineer", "My manager", "The finance department", "The vendor",
    "The product owner", "A customer in the north region", "The release committee", "Our data analyst",
    "The legal reviewer", "The night shift", "The design lead", "The onboarding group", "Someone from marketing",
]  # fmt: skip
_VERBS = [
    "reviewed", "summarised", "questioned", "approved", "rewrote", "postponed", "shared", "double-checked",
    "translated", "archived", "presented", "estimated", "simplified", "flagged", "scheduled", "drafted",
]  # fmt: skip
_OBJECTS = [
    "the migration plan", "last quarter's invoice", "the onboarding guide", "the incident report", "the draft budget",
    "the slide deck", "the warehouse schedule", "the supplier contract", "the survey results", "the release notes",
    "the training material", "the capacity forecast", "the meeting minutes", "the pricing proposal",
]  # fmt: skip
_TAILS = [
    "before the deadline on {d} {m}", "with {n} comments in the margin", "after the call on {d} {m}",
    "in about {n} minutes", "for the {n} people on the list", "and sent it back by {d} {m}",
    "although {n} pages were missing", "during the review at {h}:{mm}", "for the office in {city}",
    "so that {name} could sign it", "after {name} asked for a shorter version", "while travelling to {city}",
]  # fmt: skip
_ASKS = [
    "Could you rewrite the paragraph above so that it reads more clearly?",
    "Please summarise the main points in three short bullet lists.",
    "What would you change about the tone before it goes to the client?",
    "Can you point out any sentence that sounds too informal?",
]
_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December",
]  # fmt: skip
_CITIES = [
    "Lisbon", "Osaka", "Nairobi", "Toronto", "Krakow", "Austin", "Lyon", "Porto", "Seoul", "Denver", "Oslo",
    "Quito",
]  # fmt: skip


class Prompts:
    """Seeded, never-repeating English-ish prompts of a given size, one name in each and an e-mail in every third."""

    def __init__(self, seed: int, size: int) -> None:
        self.random, self.size, self.count = random.Random(seed), size, 0

    def _name(self) -> str:
        return f"{self.random.choice(_FIRST)} {self.random.choice(_LAST)}"

    def sentence(self) -> str:
        r = self.random
        tail = r.choice(_TAILS).format(
            d=r.randint(1, 28), m=r.choice(_MONTHS), n=r.randint(2, 990), h=r.randint(7, 19),
            mm=f"{r.randint(0, 59):02d}", city=r.choice(_CITIES), name=self._name(),
        )  # fmt: skip
        return f"{r.choice(_SUBJECTS)} {r.choice(_VERBS)} {r.choice(_OBJECTS)} {tail}."

    asks = _ASKS

    def _email(self) -> str:
        first, last = self._name().lower().split()
        return f"Reply to {first}.{last}{self.random.randint(1, 99)}@example.com when done."

    def _note(self) -> str:
        return f"Note {self.count} from {self._name()}."

    def text(self, size: int | None = None) -> str:
        size = size or self.size
        self.count += 1
        parts = [self._note()]
        if self.count % 3 == 0:
            parts.append(self._email())
        ask = self.random.choice(self.asks)
        while sum(len(p) + 1 for p in parts) + len(ask) < size:
            parts.append(self.sentence())
        # The last sentence is cut at a word so the prompt is `size` characters, give or take a word.
        return " ".join(parts)[: size - len(ask) - 2].rsplit(" ", 1)[0] + "… " + ask

    def body(self) -> bytes:
        return json.dumps({"model": MODEL, "messages": [{"role": "user", "content": self.text()}]}).encode()

    def chat(self, turns: int) -> Callable[[], bytes]:
        """Bodies of a `turns`-turn chat: the same earlier turns each time (as a client resends its history), the
        last user turn new."""
        history = [
            {"role": "user" if index % 2 == 0 else "assistant", "content": self.text()} for index in range(turns - 1)
        ]
        last = lambda: {"role": "user", "content": self.text()}  # noqa: E731
        return lambda: json.dumps({"model": MODEL, "messages": [*history, last()]}).encode()


_KO_FAMILY = ["김", "이", "박", "최", "정", "강", "조", "윤", "장", "임"]
_KO_GIVEN = ["민준", "서연", "도윤", "지우", "하준", "서윤", "예준", "하은", "지호", "수아", "은우", "채원"]
_KO_SUBJECTS = [
    "우리 팀이", "새로 온 인턴이", "지원 엔지니어가", "제 매니저가", "재무팀이", "공급업체가", "제품 담당자가",
    "북부 지역 고객이", "릴리스 위원회가", "데이터 분석가가", "법무 검토자가", "야간 근무조가", "디자인 리드가",
]  # fmt: skip
_KO_OBJECTS = [
    "이전 계획을", "지난 분기 청구서를", "온보딩 가이드를", "장애 보고서를", "예산 초안을", "발표 자료를",
    "창고 일정을", "공급 계약서를", "설문 결과를", "릴리스 노트를", "교육 자료를", "회의록을", "가격 제안서를",
]  # fmt: skip
_KO_VERBS = [
    "검토했습니다", "요약했습니다", "다시 작성했습니다", "승인했습니다", "연기했습니다", "공유했습니다",
    "재확인했습니다", "번역했습니다", "보관했습니다", "발표했습니다", "단순화했습니다", "수정했습니다",
]  # fmt: skip
_KO_TAILS = [
    "{m}월 {d}일 마감 전에", "여백에 의견 {n}개를 달아서", "{m}월 {d}일 통화 후에", "약 {n}분 만에",
    "명단에 있는 {n}명을 위해", "{h}시 {mm}분 검토 회의 중에", "{city} 사무소를 위해", "{name} 님이 서명할 수 있도록",
    "{name} 님이 더 짧은 버전을 요청한 뒤에", "{city}로 출장 가는 동안",
]  # fmt: skip
_KO_ASKS = [
    "위 문단을 더 명확하게 다시 써 주시겠어요?", "주요 내용을 세 개의 짧은 글머리표로 요약해 주세요.",
    "고객에게 보내기 전에 어조를 어떻게 바꾸면 좋을까요?", "너무 격식 없어 보이는 문장이 있으면 알려 주세요.",
]  # fmt: skip
_KO_CITIES = ["서울", "부산", "대구", "인천", "광주", "대전", "울산", "수원"]


class KoreanPrompts(Prompts):
    """The same shape in Korean: what the multilingual injection model reads (the English one reads the others)."""

    asks = _KO_ASKS

    def _name(self) -> str:
        return f"{self.random.choice(_KO_FAMILY)}{self.random.choice(_KO_GIVEN)}"

    def _email(self) -> str:
        return f"메일은 user{self.random.randint(1, 9999)}@example.co.kr 로 회신해 주세요."

    def _note(self) -> str:
        return f"{self._name()} 님의 메모 {self.count}."

    def sentence(self) -> str:
        r = self.random
        tail = r.choice(_KO_TAILS).format(
            d=r.randint(1, 28), m=r.randint(1, 12), n=r.randint(2, 990), h=r.randint(7, 19),
            mm=f"{r.randint(0, 59):02d}", city=r.choice(_KO_CITIES), name=self._name(),
        )  # fmt: skip
        return f"{r.choice(_KO_SUBJECTS)} {tail} {r.choice(_KO_OBJECTS)} {r.choice(_KO_VERBS)}."


PROMPTS = {"en": Prompts, "ko": KoreanPrompts}


# --- targets and their CPU ------------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str
    pids: list[int] = field(default_factory=list)  # whose CPU (with their descendants') is the target's

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def descendants(pid: int) -> list[int]:
    """`pid`'s children, grandchildren, ... (Linux: /proc/PID/task/TID/children)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in children.read_text().split()]
        found.append(parent)
    return found[1:]


def cpu_seconds(pid: int) -> float:
    """user+sys CPU of `pid` and its live descendants, and of the children they reaped (/proc/PID/stat)."""
    total = 0
    for process in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / _TICK


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float, process: subprocess.Popen[Any], log: Path) -> None:
    """Until `url` answers at all (any HTTP status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout} s:\n{log.read_text()[-3000:]}")


class Processes:
    """Every process the run starts, stopped (SIGTERM, then SIGKILL) at the end whatever happens."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.popens, self.proxies = workdir, [], []

    def popen(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> tuple[subprocess.Popen[Any], Path]:
        log = self.workdir / f"{name}.log"
        handle = log.open("w")
        process = subprocess.Popen(
            argv, stdout=handle, stderr=subprocess.STDOUT, cwd=self.workdir, env={**os.environ, **(env or {})}
        )
        self.popens.append(process)
        return process, log

    def wardgate(self, name: str, config: dict[str, Any]) -> Target:
        directory = self.workdir / name.replace(" ", "_").replace(",", "")
        directory.mkdir()
        proxy = ProxyProcess({**config, "audit": {"file": str(directory / "audit.jsonl")}}, directory)
        self.proxies.append(proxy)
        proxy.start(timeout=180)
        assert proxy._process is not None
        return Target(name, proxy.url, [proxy._process.pid])

    def stop(self) -> None:
        for proxy in self.proxies:
            proxy.stop()
        for process in self.popens:
            if process.poll() is None:
                process.terminate()
        for process in self.popens:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def litellm_config(upstream_url: str, presidio_url: str | None) -> str:
    config: dict[str, Any] = {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {"model": f"openai/{MODEL}", "api_base": upstream_url + "/v1", "api_key": "sk-up"},
            }
        ],
        "general_settings": {"master_key": API_KEY},
        "litellm_settings": {"telemetry": False},
    }
    if presidio_url:
        guardrail = {"guardrail": "presidio", "mode": "pre_call", "default_on": True}
        guardrail |= {"presidio_analyzer_api_base": presidio_url, "presidio_anonymizer_api_base": presidio_url}
        config["guardrails"] = [{"guardrail_name": "presidio-pii", "litellm_params": guardrail}]
    return json.dumps(config)  # JSON is YAML


def start_peers(procs: Processes, upstream_url: str, peers_venv: Path) -> list[Target]:
    """mitmdump, LiteLLM, LiteLLM + Presidio (those that are installed), started together, awaited in turn."""
    targets: list[tuple[Target, subprocess.Popen[Any], Path, str]] = []
    mitmdump = shutil.which("mitmdump", path=str(Path(sys.executable).parent)) or shutil.which("mitmdump")
    if mitmdump:
        port = free_port()
        argv = [mitmdump, "--mode", f"reverse:{upstream_url}", "--listen-host", "127.0.0.1", "--listen-port", str(port)]
        argv += ["--set", f"confdir={procs.workdir / 'mitmproxy'}", "-q"]
        process, log = procs.popen("mitmdump", argv)
        url = f"http://127.0.0.1:{port}"
        targets.append((Target("mitmdump (floor)", url, [process.pid]), process, log, url + "/v1/models"))
    litellm = peers_venv / "bin" / "litellm"
    if litellm.exists():
        presidio, presidio_log = procs.popen("presidio", [sys.executable, str(ROOT / "bench" / "presidio_api.py")])
        assert presidio.pid
        for name, guarded in (("litellm", False), ("litellm + presidio", True)):
            port = free_port()
            presidio_url = None
            if guarded:
                presidio_url = wait_line(presidio_log, "listening on", presidio, 120)
            config = procs.workdir / f"{name.replace(' ', '').replace('+', '_')}.yaml"
            config.write_text(litellm_config(upstream_url, presidio_url))
            argv = [str(litellm), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
            process, log = procs.popen(name.replace(" + ", "_"), argv, PEER_ENV)
            url = f"http://127.0.0.1:{port}"
            pids = [process.pid, presidio.pid] if guarded else [process.pid]
            targets.append((Target(name, url, pids), process, log, url + "/health/liveliness"))
    for _, process, log, ready in targets:
        wait_http(ready, 180, process, log)
    return [target for target, *_ in targets]


def wait_line(log: Path, marker: str, process: subprocess.Popen[Any], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines():
            if marker in line:
                return line.rsplit(" ", 1)[-1]
        if process.poll() is not None:
            break
        time.sleep(0.3)
    raise RuntimeError(f"no {marker!r} in {log}:\n{log.read_text()[-3000:]}")


def versions(peers_venv: Path) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("mitmproxy", "onnxruntime", "spacy", "presidio-analyzer", "presidio-anonymizer", "aiohttp"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[package] = importlib.metadata.version(package)
    python = peers_venv / "bin" / "python"
    if python.exists():
        code = "import importlib.metadata as m; print(m.version('litellm'))"
        found["litellm"] = subprocess.run([python, "-c", code], capture_output=True, text=True).stdout.strip()
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    found["wardgate"] = git.stdout.strip()
    return found


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


# --- load -----------------------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


async def load(
    target: Target,
    bodies: Callable[[], bytes],
    concurrency: int,
    total: int,
    max_seconds: float,
    *,
    warmup: int = 5,
    honour_retry_after: bool = False,
    cut_at_deadline: bool = False,
) -> dict[str, Any]:
    """A closed loop of `concurrency` clients until `total` requests or `max_seconds` (then no new request starts;
    `cut_at_deadline`: those in flight are dropped, the clients disconnect). Bodies are made before the clock runs."""
    url = target.url + "/v1/chat/completions"
    prepared = [bodies() for _ in range(total + warmup)]
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=120)
    ok: list[float] = []
    judged: list[float] = []  # 2xx and 403: the target answered after judging the request in full
    refused: list[float] = []
    samples: dict[str, str] = {}  # the first answer of each non-2xx status (what the client saw)
    codes: dict[str, int] = {}  # non-2xx answers by status and the provider-shaped error code in them
    statuses: dict[str, int] = {}
    retry_after = 0
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=HEADERS) as session:

        async def post(body: bytes) -> tuple[int, float, str | None]:
            started = time.perf_counter()
            try:
                async with session.post(url, data=body) as response:
                    answer = await response.read()
                    if response.status >= 300:
                        samples.setdefault(str(response.status), answer[:400].decode(errors="replace"))
                        key = f"{response.status} {error_code(answer)}"
                        codes[key] = codes.get(key, 0) + 1
                    return response.status, time.perf_counter() - started, response.headers.get("retry-after")
            except (aiohttp.ClientError, TimeoutError) as exc:
                return -1, time.perf_counter() - started, type(exc).__name__

        for body in prepared[:warmup]:
            await post(body)
        codes.clear()  # the measured requests' only
        queue = iter(prepared[warmup:])
        deadline = time.perf_counter() + max_seconds

        async def worker() -> None:
            nonlocal retry_after
            for body in queue:
                if time.perf_counter() >= deadline:
                    return
                status, elapsed, extra = await post(body)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if 200 <= status < 300:
                    ok.append(elapsed)
                if 200 <= status < 300 or status == 403:
                    judged.append(elapsed)
                if status == 503:
                    refused.append(elapsed)
                    retry_after += extra is not None
                    if honour_retry_after and extra:
                        await asyncio.sleep(min(1.0, float(extra)))

        cpu_before, client_before = target.cpu_seconds(), time.process_time()
        started = time.perf_counter()
        workers = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
        if cut_at_deadline:
            await asyncio.wait(workers, timeout=max_seconds)
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        else:
            await asyncio.gather(*workers)
        elapsed = time.perf_counter() - started
        cpu = target.cpu_seconds() - cpu_before
        client_cpu = time.process_time() - client_before
    done = sum(statuses.values())
    denied = statuses.get("403", 0)
    return {
        "requests": done,
        "ok": len(ok),
        "denied": denied,
        "errors": done - len(ok) - denied,
        "statuses": statuses,
        "seconds": round(elapsed, 2),
        "p50_ms": round(statistics.median(ok) * 1000, 2) if ok else None,
        "p99_ms": pct(ok, 0.99),
        "judged_p50_ms": round(statistics.median(judged) * 1000, 2) if judged else None,
        "rps": round(len(ok) / elapsed, 1),
        "judged_per_s": round((len(ok) + denied) / elapsed, 1),
        "cpu_ms_per_req": round(cpu * 1000 / done, 2) if done and target.pids else None,
        "client_cpu_ms_per_req": round(client_cpu * 1000 / done, 2) if done else None,
        "refused": len(refused),
        "refused_with_retry_after": retry_after,
        "refused_p99_ms": pct(refused, 0.99),
        "codes": codes,
        "samples": samples,
        "ended_at": time.perf_counter(),
    }


def error_code(answer: bytes) -> str:
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        return str(json.loads(answer)["error"]["code"])
    return "?"


async def first_success(target: Target, prompts: Prompts, since: float, limit: float = 120) -> dict[str, Any]:
    """Single requests, one after another, until one succeeds: seconds from `since` (the load stopping) to it."""
    url, tries = target.url + "/v1/chat/completions", 0
    async with aiohttp.ClientSession(headers=HEADERS, timeout=aiohttp.ClientTimeout(total=60)) as session:
        while time.perf_counter() - since < limit:
            tries += 1
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.post(url, data=prompts.body()) as response:
                    await response.read()
                    if 200 <= response.status < 300:
                        return {"recovery_s": round(time.perf_counter() - since, 2), "recovery_tries": tries}
            await asyncio.sleep(0.1)
    return {"recovery_s": None, "recovery_tries": tries}


# --- the run --------------------------------------------------------------------------------------------------------


def fmt(value: Any, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def overhead_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'target':<28} {'c':>3} {'2xx':>5} {'403':>4} {'err':>4} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} "
        f"{'+p99 ms':>8} {'req/s':>7} {'CPU ms/req':>10} {'client CPU':>10}"
    )
    print(header + "\n" + "-" * len(header))
    for row in rows:
        print(
            f"{row['target']:<28} {row['concurrency']:>3} {row['ok']:>5} {row['denied']:>4} {row['errors']:>4} "
            f"{fmt(row['p50_ms']):>8} "
            f"{fmt(row['p99_ms']):>8} {fmt(row['added_p50_ms']):>8} {fmt(row['added_p99_ms']):>8} "
            f"{row['rps']:>7.1f} {fmt(row['cpu_ms_per_req']):>10} {fmt(row['client_cpu_ms_per_req']):>10}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="measured requests per target and concurrency")
    parser.add_argument("--size", choices=SIZES, default="1k", help="characters per prompt")
    parser.add_argument("--languages", default="en", help="comma-separated prompt languages: en, ko (one run)")
    parser.add_argument(
        "--multilingual", default=str(ROOT / "models" / "injection-ml"), help="scanners.injection.multilingual, or none"
    )
    parser.add_argument("--concurrency", default="1,16", help="comma-separated client concurrencies")
    parser.add_argument("--max-seconds", type=float, default=30, help="per target and concurrency: stop starting more")
    parser.add_argument("--history-requests", type=int, default=30, help="per target and shape (one turn, 20 turns)")
    parser.add_argument("--overload", default="1,4,16,64,128", help="offered concurrencies, Wardgate all scanners")
    parser.add_argument("--overload-seconds", type=float, default=15, help="per overload step")
    parser.add_argument("--skip", default="", help="comma-separated: peers, history, overload")
    parser.add_argument("--answer", choices=("echo", "short"), default="echo",
                        help="the upstream echoes the prompt (default), or answers one short sentence")  # fmt: skip
    parser.add_argument("--breakdown", action="store_true", help="also Wardgate with one scanner at a time")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--peers-venv", type=Path, default=Path("/tmp/bench-peers"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "proxy_overhead.json")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    size = SIZES[args.size]
    languages = args.languages.split(",")
    prompts = Prompts(args.seed, size)

    meta: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "versions": versions(args.peers_venv),
        "prompt_chars": size,
        "requests": args.requests,
        "max_seconds": args.max_seconds,
        "seed": args.seed,
        "upstream": f"wardgate.testing fake upstream, answer: {args.answer}",
        "client": f"aiohttp {aiohttp.__version__}, closed loop, same machine",
    }
    upstream, upstream_url = start_upstream(*(["--reply", SHORT_ANSWER] if args.answer == "short" else []))
    workdir, common = proxy_config(upstream_url)
    procs = Processes(workdir)
    off = {"enabled": False}
    all_scanners = copy.deepcopy(common)
    multilingual = None if args.multilingual == "none" else str(Path(args.multilingual).resolve())
    all_scanners["scanners"]["injection"]["multilingual"] = multilingual
    report: dict[str, Any] = {"meta": meta}
    try:
        targets = [Target("direct", upstream_url, [upstream.pid])]
        if "peers" not in skip:
            targets += start_peers(procs, upstream_url, args.peers_venv)
        policy_only = {**common, "scanners": {"secrets": off, "injection": off, "pii": off, "links": off}}
        targets.append(procs.wardgate("wardgate, policy only", policy_only))
        if args.breakdown:  # one scanner each, to see where the all-scanner CPU goes
            scanners = all_scanners["scanners"]
            for name, only in (("injection", "injection"), ("pii", "pii"), ("secrets+links", "secrets")):
                kept = {"secrets", "links"} if only == "secrets" else {only}
                config = {
                    k: scanners.get(k, {}) if k in kept else off for k in ("secrets", "injection", "pii", "links")
                }
                targets.append(procs.wardgate(f"wardgate, {name} only", {**common, "scanners": config}))
        wardgate_all = procs.wardgate("wardgate, all scanners", all_scanners)
        targets.append(wardgate_all)
        by_name = {target.name: target for target in targets}

        rows = []
        for language in languages:
            # Korean prompts only where a language matters (the scanners); English ones everywhere.
            generator = prompts if language == "en" else PROMPTS[language](args.seed, size)
            for concurrency in [int(c) for c in args.concurrency.split(",")]:
                for target in targets:
                    if language != "en" and target.name not in ("direct",) and "wardgate" not in target.name:
                        continue
                    measured = asyncio.run(load(target, generator.body, concurrency, args.requests, args.max_seconds))
                    name = target.name if language == "en" else f"{target.name} [{language}]"
                    rows.append({"target": name, "language": language, "concurrency": concurrency, **measured})
                    done = f"{measured['ok']} ok, {measured['denied']} denied, {measured['errors']} errors"
                    print(f"  {name} c={concurrency}: {done}", flush=True)
        for row in rows:
            key_of = (row["concurrency"], row["language"])
            direct = next(
                r for r in rows if r["target"].startswith("direct") and (r["concurrency"], r["language"]) == key_of
            )
            for key in ("p50", "p99"):
                mine, base = row[f"{key}_ms"], direct[f"{key}_ms"]
                row[f"added_{key}_ms"] = round(mine - base, 2) if mine is not None and base is not None else None
            row.pop("ended_at")
        report["overhead"] = rows

        if "history" not in skip:
            history = []
            for name in ("wardgate, all scanners", "litellm + presidio"):
                if name not in by_name:
                    continue
                target = by_name[name]
                single = asyncio.run(load(target, prompts.body, 1, args.history_requests, args.max_seconds))
                chat = prompts.chat(20)
                turns = asyncio.run(load(target, chat, 1, args.history_requests, args.max_seconds * 2))
                history.append(
                    {
                        "target": name,
                        "one_turn": single,
                        "twenty_turns": turns,
                        "p50_ratio": ratio(turns["judged_p50_ms"], single["judged_p50_ms"]),
                        "cpu_ratio": ratio(turns["cpu_ms_per_req"], single["cpu_ms_per_req"]),
                    }
                )
            report["history"] = history

        if "overload" not in skip:
            steps = []
            for concurrency in [int(c) for c in args.overload.split(",")]:
                total = max(50, concurrency * 20)
                step = asyncio.run(
                    load(wardgate_all, prompts.body, concurrency, total, args.overload_seconds,
                         warmup=0, honour_retry_after=True, cut_at_deadline=True)
                )  # fmt: skip
                step |= asyncio.run(first_success(wardgate_all, prompts, step.pop("ended_at")))
                steps.append({"offered_concurrency": concurrency, **step})
                print(f"  overload c={concurrency}: {step['ok']} ok, {step['refused']} refused", flush=True)
            capacity = max((s["rps"] for s in steps), default=0)
            for s in steps:
                s["goodput_vs_peak"] = round(s["rps"] / capacity, 2) if capacity else None
            report["overload"] = steps
    finally:
        procs.stop()
        upstream.terminate()
        upstream.wait()
    meta["loadavg_end"] = os.getloadavg()

    print(f"\nprompts: {size} characters, unique; {meta['cpu_model']}, {meta['cores']} cores; {meta['versions']}")
    print(f"load average at start {meta['loadavg_start']}, at end {meta['loadavg_end']}\n")
    overhead_table(report["overhead"])
    if report.get("history"):
        print(f"\n{'20-turn chat, last turn new, vs one turn (c=1)':<48} {'p50 ms 1/20 *':>16} {'CPU ms 1/20':>16} "
              f"{'p50 x':>6} {'CPU x':>6}")  # fmt: skip
        for h in report["history"]:
            one, twenty = h["one_turn"], h["twenty_turns"]
            p50s = f"{fmt(one['judged_p50_ms'], '.1f')} / {fmt(twenty['judged_p50_ms'], '.1f')}"
            cpus = f"{fmt(one['cpu_ms_per_req'], '.1f')} / {fmt(twenty['cpu_ms_per_req'], '.1f')}"
            print(f"{h['target']:<48} {p50s:>16} {cpus:>16} {fmt(h['p50_ratio']):>6} {fmt(h['cpu_ratio']):>6}")
        print("* p50 over 2xx and 403 answers (a 403 comes after the full scan)")
    if report.get("overload"):
        header = (
            f"{'offered c':>9} {'sent':>5} {'2xx':>5} {'403':>4} {'503':>5} {'w/ R-A':>6} {'other':>5} {'2xx/s':>6} "
            f"{'judged/s':>8} "
            f"{'vs peak':>7} {'p99 2xx ms':>10} {'p99 503 ms':>10} {'recovery s':>10}"
        )
        print("\nWardgate, all scanners, overload (clients honour Retry-After up to 1 s)\n" + header)
        print("-" * len(header))
        for s in report["overload"]:
            other = s["requests"] - s["ok"] - s["denied"] - s["refused"]
            print(
                f"{s['offered_concurrency']:>9} {s['requests']:>5} {s['ok']:>5} {s['denied']:>4} {s['refused']:>5} "
                f"{s['refused_with_retry_after']:>6} {other:>5} {s['rps']:>6.1f} {s['judged_per_s']:>8.1f} "
                f"{fmt(s['goodput_vs_peak']):>7} "
                f"{fmt(s['p99_ms']):>10} {fmt(s['refused_p99_ms']):>10} {fmt(s['recovery_s']):>10}"
            )
        for s in report["overload"]:
            print(f"  c={s['offered_concurrency']}: non-2xx by status and error code: {s['codes']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {args.out}")


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


if __name__ == "__main__":
    main()
