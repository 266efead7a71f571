"""Proxy overhead: a 1 KB chat request direct vs through Wardgate, at concurrency 1 and 16, in one run.

Targets: the fake upstream directly; Wardgate with the policy but no scanners; with the secrets scanner + policy;
with every scanner (secrets, links, the ONNX injection classifier, PII with spaCy + the ONNX tagger: the default).
Each Wardgate writes its audit trail as in production and clients authenticate with a Wardgate API key. Prints a
table and writes JSON.
Usage: python bench/proxy_overhead.py [--requests 400] [--out bench/results/proxy_overhead.json]
"""

from __future__ import annotations

import argparse
import asyncio
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
PROMPT = ("Please review the following paragraph for tone and clarity. " * 17)[:1000]
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def load(url: str, concurrency: int, total: int) -> dict[str, float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:
        for _ in range(20):  # warm up connections and caches
            (await client.post(url, json=BODY)).raise_for_status()
        latencies: list[float] = []
        queue = iter(range(total))

        async def worker() -> None:
            for _ in queue:
                started = time.perf_counter()
                response = await client.post(url, json=BODY)
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
        "rps": round(total / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per target and concurrency")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "proxy_overhead.json")
    args = parser.parse_args()

    upstream, upstream_url = start_upstream()
    workdir, common = proxy_config(upstream_url)
    injection = {"model": str(ROOT / "models" / "injection")}
    pii = {"ner": {"model": str(ROOT / "models" / "pii-ner")}}
    off = {"enabled": False}
    variants = {
        "wardgate, policy only": {
            **common,
            "scanners": {"secrets": off, "injection": off, "pii": off, "links": off},
        },
        "wardgate, secrets + policy": {**common, "scanners": {"injection": off, "pii": off, "links": off}},
        "wardgate, all scanners": {**common, "scanners": {"injection": injection, "pii": pii}},
    }
    proxies = {}
    try:
        for name, config in variants.items():
            directory = workdir / name.replace(" ", "_").replace(",", "").replace("+", "and")
            directory.mkdir()
            proxy = ProxyProcess({**config, "audit": {"file": str(directory / "audit.jsonl")}}, directory)
            proxy.start()
            proxies[name] = proxy
        targets = {"direct": upstream_url, **{name: proxy.url for name, proxy in proxies.items()}}
        results = []
        for concurrency in (1, 16):
            for name, base in targets.items():
                measured = asyncio.run(load(base + "/v1/chat/completions", concurrency, args.requests))
                results.append({"target": name, "concurrency": concurrency, **measured})
    finally:
        for proxy in proxies.values():
            proxy.stop()
        upstream.terminate()
        upstream.wait()

    for row in results:
        direct = next(r for r in results if r["target"] == "direct" and r["concurrency"] == row["concurrency"])
        row["p50_vs_direct"] = round(row["p50_ms"] / direct["p50_ms"], 2)
        row["rps_vs_direct"] = round(row["rps"] / direct["rps"], 2)
        row["added_p50_ms"] = round(row["p50_ms"] - direct["p50_ms"], 3)

    header = (
        f"{'target':<28} {'conc':>4} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'+p50 ms':>8} {'p50 x':>6} {'rps x':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in results:
        print(
            f"{row['target']:<28} {row['concurrency']:>4} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
            f"{row['rps']:>8.1f} {row['added_p50_ms']:>8.2f} {row['p50_vs_direct']:>6.2f} {row['rps_vs_direct']:>6.2f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "requests": args.requests,
        "body_bytes": len(json.dumps(BODY)),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
