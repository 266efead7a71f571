"""`python -m wardgate.testing [--host H] [--port N] [--tls-cert F --tls-key F] [--reply TEXT] [--stream-delay S]`:
serve the fake upstream until SIGTERM/SIGINT, in a process of its own (benchmarks; tests that put it in another
network namespace)."""

import argparse
import signal
import threading
from pathlib import Path

from wardgate.testing.upstream import FakeUpstream

parser = argparse.ArgumentParser(prog="python -m wardgate.testing")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--tls-cert", type=Path)
parser.add_argument("--tls-key", type=Path)
parser.add_argument("--reply", help="answer this instead of echoing the prompt")
parser.add_argument("--stream-delay", type=float, default=0.0, help="seconds between streamed events")
args = parser.parse_args()
stop = threading.Event()
for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, lambda *_: stop.set())
tls = (args.tls_cert, args.tls_key) if args.tls_cert and args.tls_key else None
with FakeUpstream(
    host=args.host, port=args.port, tls=tls, reply=args.reply, stream_delay=args.stream_delay
) as upstream:
    print(f"fake upstream listening on {upstream.url}", flush=True)
    stop.wait()
