"""`python -m wardgate.testing`: serve the fake upstream until SIGTERM/SIGINT (benchmarks run it in its own process)."""

import signal
import threading

from wardgate.testing.upstream import FakeUpstream

stop = threading.Event()
for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, lambda *_: stop.set())
with FakeUpstream() as upstream:
    print(f"fake upstream listening on {upstream.url}", flush=True)
    stop.wait()
