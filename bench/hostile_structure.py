"""What a body of many small pieces costs Wardgate before its answer: time, CPU and peak RSS of the real proxy.

Each case gets a fresh `wardgate run` (default scanners, the shipped policy) in front of the fake upstream, and one
POST /v1/chat/completions:
  agent 1000 turns   a 1,000-turn agent conversation with 20 tools (user, assistant tool calls, tool results):
                     real traffic at its largest, which must pass
  100k messages      100,000 one-word user messages
  300k keys          one message plus an object with 300,000 keys
Reported per case: the status and reason code, wall time, the proxy's CPU time (user+sys, /proc/PID/stat) and the
growth of its peak RSS (VmHWM, /proc/PID/status) over the request. Prints a table and writes JSON.
Usage: python bench/hostile_structure.py [--cases agent,messages,keys] [--out bench/results/hostile_structure.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from harness import API_KEY, ROOT, proxy_config, start_upstream
from wardgate.testing import ProxyProcess
from wardgate.testing.bodies import agent_conversation, many_keys, many_messages

CASES: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "agent": ("agent 1000 turns", agent_conversation),
    "messages": ("100k messages", many_messages),
    "keys": ("300k keys", many_keys),
}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def measure(name: str, body: dict[str, Any], upstream_url: str) -> dict[str, Any]:
    workdir, config = proxy_config(upstream_url)
    raw = json.dumps(body).encode()
    with ProxyProcess({**config, "audit": {"file": str(workdir / "audit.jsonl")}}, workdir) as proxy:
        pid = proxy.pid
        headers = {"authorization": f"Bearer {API_KEY}", "content-type": "application/json"}
        httpx.post(proxy.url + "/v1/chat/completions", content=b'{"model":"m","messages":[]}', headers=headers)
        cpu, peak, started = cpu_seconds(pid), peak_rss_mb(pid), time.perf_counter()
        answer = httpx.post(proxy.url + "/v1/chat/completions", content=raw, headers=headers, timeout=600)
        wall = time.perf_counter() - started
        time.sleep(1)  # work that outlives the answer still counts
        row: dict[str, Any] = {
            "case": name,
            "body_bytes": len(raw),
            "status": answer.status_code,
            "code": (answer.json().get("error") or {}).get("code") if answer.status_code != 200 else "allowed",
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu_seconds(pid) - cpu, 3),
            "peak_rss_growth_mb": round(peak_rss_mb(pid) - peak, 1),
        }
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "hostile_structure.json")
    args = parser.parse_args()
    upstream, upstream_url = start_upstream()
    rows = []
    try:
        for key in args.cases.split(","):
            name, build = CASES[key]
            rows.append(measure(name, build(), upstream_url))
            print(rows[-1], flush=True)
    finally:
        upstream.terminate()
        upstream.wait()
    print(f"{'case':<18} {'bytes':>9} {'status':>6} {'code':<24} {'wall s':>7} {'cpu s':>7} {'+peak MB':>9}")
    for row in rows:
        print(f"{row['case']:<18} {row['body_bytes']:>9} {row['status']:>6} {row['code']:<24} {row['wall_s']:>7} "
              f"{row['cpu_s']:>7} {row['peak_rss_growth_mb']:>9}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows}, indent=2))


if __name__ == "__main__":
    main()
