"""Does judging MCP answers stall the proxy's event loop? /healthz latency while tool results are judged, JSON vs SSE.

One `wardgate run` (default scanners, the shipped policy) in front of an MCP server that answers every tools/call
with a new ~2 KB tool result, as JSON or as an SSE stream (Streamable HTTP allows both). `--clients` threads call
tools for `--seconds` per answer shape while another probes the admin `/healthz` every 20 ms: a judgement that runs
on the event loop shows as /healthz latency (and as every other flow's), one that runs on a worker thread does not.
SSE answers are measured with `streaming.mcp_post_answers` stream (judged in the stream hook) and buffer.
Prints a table and writes JSON.
Usage: python bench/loop_stall.py [--seconds 15] [--clients 4] [--out bench/results/loop_stall.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import threading
import time
from pathlib import Path

import httpx
from aiohttp import web

from abandoned_work import prose
from harness import API_KEY, ROOT, proxy_config
from wardgate.testing import ProxyProcess
from wardgate.testing._server import BackgroundServer


class McpToolServer(BackgroundServer):
    """Answers each tools/call with a new tool result; `/sse/...` answers as an SSE stream, anything else as JSON."""

    name = "mcp-bench"

    def __init__(self) -> None:
        super().__init__()
        self._seeds = itertools.count()

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{shape}/mcp", self._call)

    async def _call(self, request: web.Request) -> web.Response:
        call = await request.json()
        text = prose(2000, seed=next(self._seeds))
        answer = {"jsonrpc": "2.0", "id": call.get("id"), "result": {"content": [{"type": "text", "text": text}]}}
        if request.match_info["shape"] == "sse":
            body = f"event: message\ndata: {json.dumps(answer)}\n\n"
            return web.Response(text=body, content_type="text/event-stream")
        return web.json_response(answer)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def measure(proxy: ProxyProcess, shape: str, seconds: float, clients: int) -> dict[str, float | int | str]:
    stop = threading.Event()
    calls: list[int] = []
    probes: list[float] = []
    headers = {"authorization": f"Bearer {API_KEY}", "accept": "application/json, text/event-stream"}

    def client(n: int) -> None:
        done = 0
        with httpx.Client(timeout=60) as http:
            for i in itertools.count():
                if stop.is_set():
                    break
                params = {"name": "read_page", "arguments": {"url": f"https://example.com/{n}/{i}"}}
                call = {"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": params}
                if http.post(f"{proxy.url}/{shape}/mcp", json=call, headers=headers).status_code == 200:
                    done += 1
        calls.append(done)

    def probe() -> None:
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                started = time.perf_counter()
                http.get(f"http://127.0.0.1:{proxy.admin_port}/healthz")
                probes.append((time.perf_counter() - started) * 1000)
                time.sleep(0.02)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)] + [threading.Thread(target=probe)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return {
        "answers": shape,
        "calls_per_s": round(sum(calls) / seconds, 1),
        "probes": len(probes),
        "healthz_p50_ms": round(statistics.median(probes), 1),
        "healthz_p99_ms": round(percentile(probes, 0.99), 1),
        "healthz_max_ms": round(max(probes), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "loop_stall.json")
    args = parser.parse_args()
    server = McpToolServer()
    server.start()
    workdir, config = proxy_config(server.url)
    rows = []
    try:
        # JSON answers are the control; SSE answers judged as they stream (the default) and buffered.
        for setting, shapes in (("stream", ("json", "sse")), ("buffer", ("sse",))):
            settings = {**config, "streaming": {"mcp_post_answers": setting}}
            with ProxyProcess(
                {**settings, "audit": {"file": str(workdir / f"audit-{setting}.jsonl")}}, workdir
            ) as proxy:
                rows += [
                    {"mcp_post_answers": setting} | measure(proxy, shape, args.seconds, args.clients)
                    for shape in shapes
                ]
    finally:
        server.stop()
    columns = list(rows[0])
    print(" ".join(f"{c:>15}" for c in columns))
    for row in rows:
        print(" ".join(f"{row[c]!s:>15}" for c in columns))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"clients": args.clients, "seconds": args.seconds, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
