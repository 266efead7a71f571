"""Work that outlives its request: the CPU a scan keeps burning after Wardgate answered (here: past its scan budget).

One `wardgate run` (default scanners, the shipped policy) in front of the fake upstream; one prompt of new prose with
names and numbers (`--chars`, default 100 KB: past the 5 s scan budget on a 2-core VM). Reported: the answer's status
and code, when it came and the proxy's CPU until then, and when the proxy's CPU went quiet (under 0.05 CPU-s in a
second) with the CPU it used after its answer. Prints one line and writes JSON.
Usage: python bench/abandoned_work.py [--chars 100000] [--out bench/results/abandoned_work.json]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import httpx

from harness import API_KEY, ROOT, proxy_config, start_upstream
from hostile_structure import cpu_seconds
from wardgate.testing import ProxyProcess

_WORDS = ("Maria", "Lopez", "called", "about", "the", "invoice", "from", "Berlin", "and", "asked", "whether",
          "we", "could", "ship", "the", "order", "by", "Friday")  # fmt: skip


def prose(chars: int, seed: int) -> str:
    rng = random.Random(seed)
    words: list[str] = []
    while sum(map(len, words)) + len(words) < chars:
        words.append(rng.choice(_WORDS) if rng.random() < 0.9 else str(rng.randrange(10**6)))
    return " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "abandoned_work.json")
    args = parser.parse_args()
    upstream, upstream_url = start_upstream()
    workdir, config = proxy_config(upstream_url)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prose(args.chars, seed=time.time_ns())}]}
    try:
        with ProxyProcess({**config, "audit": {"file": str(workdir / "audit.jsonl")}}, workdir) as proxy:
            headers = {"authorization": f"Bearer {API_KEY}"}
            start_cpu, started = cpu_seconds(proxy.pid), time.monotonic()
            answer = httpx.post(proxy.url + "/v1/chat/completions", json=body, headers=headers, timeout=600)
            answered, answer_cpu = time.monotonic() - started, cpu_seconds(proxy.pid) - start_cpu
            last = cpu_seconds(proxy.pid)
            while time.monotonic() - started < 600:
                time.sleep(1)
                now = cpu_seconds(proxy.pid)
                if now - last < 0.05:
                    break
                last = now
            quiet = time.monotonic() - started - 1
    finally:
        upstream.terminate()
        upstream.wait()
    row = {
        "chars": args.chars,
        "status": answer.status_code,
        "code": (answer.json().get("error") or {}).get("code") if answer.status_code != 200 else "allowed",
        "answered_s": round(answered, 2),
        "cpu_to_answer_s": round(answer_cpu, 2),
        "quiet_after_s": round(quiet, 2),
        "cpu_after_answer_s": round(last - start_cpu - answer_cpu, 2),
    }
    print(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
