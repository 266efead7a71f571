"""Start `wardgate run` as a child process on free ports, wait for readiness, and always stop it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import yaml

__all__ = ["ProxyProcess"]

_READY = re.compile(r"listening on http://[^:]+:(\d+) .*admin on http://[^:]+:(\d+)")


class ProxyProcess:
    """`wardgate run --config <generated>` with the given settings (port 0: the OS picks free ports)."""

    def __init__(
        self,
        config: Mapping[str, Any],
        workdir: Path,
        *,
        env: dict[str, str] | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        """`prefix` runs the proxy under another command, e.g. `ip netns exec NAME`."""
        self.prefix = list(prefix)
        self.config = {"listen_host": "127.0.0.1", "port": 0, "admin_port": 0, **config}
        self.workdir = workdir
        self.env = env or {}
        self.port = self.admin_port = 0
        self.output: list[str] = []  # stdout and stderr lines, as they came
        self.stdout: list[str] = []  # stdout's alone (with audit.stdout: the audit stream, nothing else)
        self._process: subprocess.Popen[str] | None = None
        self._stdout_read = threading.Event()  # cleared: stdout is left unread, as by a stalled log shipper
        self._stdout_read.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    @property
    def audit_file(self) -> Path:
        return Path(str(self.config["audit"]["file"]))

    def __enter__(self) -> ProxyProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60) -> None:
        config_file = self.workdir / "wardgate.yaml"
        config_file.write_text(yaml.safe_dump(self.config))
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("WARDGATE_")}, **self.env}
        self._process = subprocess.Popen(
            [*self.prefix, sys.executable, "-m", "wardgate", "run", "--config", str(config_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=self.workdir,
        )
        ready = threading.Event()
        # The ready line is on stdout, or on stderr when stdout carries the audit stream: read both.
        threading.Thread(target=self._pump, args=(self._process.stdout, ready, self.stdout), daemon=True).start()
        threading.Thread(target=self._pump, args=(self._process.stderr, ready, None), daemon=True).start()
        if not ready.wait(timeout) or not self.port:
            self.stop()
            raise RuntimeError("wardgate did not become ready:\n" + "".join(self.output))

    def pause_stdout(self) -> None:
        """Stop reading the proxy's stdout (after the line being read), so its pipe fills."""
        self._stdout_read.clear()

    def resume_stdout(self) -> None:
        self._stdout_read.set()

    def _pump(self, stream: IO[str] | None, ready: threading.Event, lines: list[str] | None) -> None:
        assert stream is not None
        while True:
            if lines is not None:
                self._stdout_read.wait()
            line = stream.readline()
            if not line:
                break
            self.output.append(line)
            if lines is not None:
                lines.append(line)
            if match := _READY.search(line):
                self.port, self.admin_port = int(match.group(1)), int(match.group(2))
                ready.set()
        ready.set()

    def signal(self, signum: int) -> None:
        assert self._process is not None
        self._process.send_signal(signum)

    def stop(self, timeout: float = 15) -> int | None:
        if self._process is None:
            return None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()
        return self._process.returncode
