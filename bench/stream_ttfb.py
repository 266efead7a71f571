"""Streams: time to first token and total stream time, direct vs through Wardgate with the output scanners on.

One run, same machine. The fake upstream streams a 120-word OpenAI chat answer, one word per event, `--delay` apart
(a model generating ~50 tokens/s at the default 20 ms). Wardgate runs its default stream guard: secrets and
exfiltration-link scanners on every released window, placeholder restoring, the policy when a window has findings;
the answer holds two numbers and a dotted name, so some windows are held back. Each target is measured the same way:
an httpx client timing the first content delta and the end of the stream. Prints a table and writes JSON.
Usage: python bench/stream_ttfb.py [--streams 30] [--delay 0.02] [--out bench/results/stream_ttfb.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import httpx

from harness import API_KEY, proxy_config, start_upstream
from wardgate.testing import ProxyProcess

ROOT = Path(__file__).resolve().parents[1]
ANSWER = " ".join(
    ["The quarterly report for 2024 shows revenue up 12 percent, driven by the example.com partnership."] * 8
)
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Summarise the report."}], "stream": True}


def measure(url: str, streams: int) -> dict[str, float]:
    first, total = [], []
    with httpx.Client(timeout=60, headers={"authorization": f"Bearer {API_KEY}"}) as client:
        for _ in range(streams):
            started = time.perf_counter()
            first_at = None
            with client.stream("POST", url, json=BODY) as response:
                for line in response.iter_lines():
                    if first_at is None and line.startswith("data: {") and '"content"' in line:
                        first_at = time.perf_counter() - started
            total.append(time.perf_counter() - started)
            first.append(first_at or 0.0)
    return {
        "ttft_p50_ms": round(statistics.median(first) * 1000, 2),
        "ttft_max_ms": round(max(first) * 1000, 2),
        "total_p50_ms": round(statistics.median(total) * 1000, 2),
    }


def _minus(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {key: round(a[key] - b[key], 2) for key in a}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=30)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds between upstream events")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "stream_ttfb.json")
    args = parser.parse_args()

    upstream, upstream_url = start_upstream("--reply", ANSWER, "--stream-delay", str(args.delay))
    workdir, config = proxy_config(upstream_url)
    variants = {
        "wardgate, stream guard off": {**config, "streaming": {"enabled": False}},
        "wardgate, stream guard on": config,
    }
    rows = {}
    try:
        rows["direct"] = measure(upstream_url + "/v1/chat/completions", args.streams)
        for name, variant in variants.items():
            directory = workdir / name.replace(" ", "_").replace(",", "")
            directory.mkdir()
            with ProxyProcess({**variant, "audit": {"file": str(directory / "audit.jsonl")}}, directory) as proxy:
                rows[name] = measure(proxy.url + "/v1/chat/completions", args.streams)
    finally:
        upstream.terminate()
        upstream.wait()
    # The request's own judging (scanners + policy) is in both Wardgate rows; their difference is the stream guard.
    added = {
        "wardgate vs direct": _minus(rows["wardgate, stream guard on"], rows["direct"]),
        "stream guard alone": _minus(rows["wardgate, stream guard on"], rows["wardgate, stream guard off"]),
    }
    print(f"{'target':<28} {'TTFT p50 ms':>12} {'TTFT max ms':>12} {'total p50 ms':>13}")
    for name, row in [*rows.items(), *(("added: " + k, v) for k, v in added.items())]:
        print(f"{name:<28} {row['ttft_p50_ms']:>12.2f} {row['ttft_max_ms']:>12.2f} {row['total_p50_ms']:>13.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()}
    report = {"machine": machine, "streams": args.streams, "delay_s": args.delay, "rows": rows, "added": added}
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
