from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import DataReceived, ResponseReceived, StreamEnded, StreamReset

from tests.conftest import AUTH, OPENAI_KEY, POLICIES

Event = dict[str, Any]


def audit_events(path: Path) -> list[Event]:
    """The complete lines of an audit file another process is writing (a line still being written is left out)."""
    text = path.read_text() if path.exists() else ""
    complete = text[: text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


def wait_for_events(path: Path, where: Callable[[Event], bool], count: int = 1, timeout: float = 10.0) -> list[Event]:
    """The events matching `where` once at least `count` are written (the proxy writes a stream's after its end)."""
    deadline = time.monotonic() + timeout
    while True:
        matches = [event for event in audit_events(path) if where(event)]
        if len(matches) >= count or time.monotonic() > deadline:
            return matches
        time.sleep(0.02)


def offered_until_stopped(client: socket.socket, chunk: bytes, limit: int) -> int:
    """Bytes of `chunk` repeated that the proxy took, up to `limit`: it stops by a reset, or by reading no more (the
    socket's timeout)."""
    sent = 0
    with contextlib.suppress(OSError):
        while sent < limit:
            client.sendall(chunk)
            sent += len(chunk)
    return sent


def closed_by_proxy(client: socket.socket, within: float = 5.0) -> bool:
    """Whether the proxy closed the connection within `within` seconds: the client reads its end (after whatever
    answer came first) or a reset."""
    client.settimeout(within)
    try:
        while client.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def event_for(path: Path, decision_id: str, phase: str = "request") -> Event:
    matches = wait_for_events(path, lambda e: e["decision_id"] == decision_id and e["phase"] == phase)
    assert len(matches) == 1, f"expected one {phase} event for {decision_id}, found {len(matches)}"
    return matches[0]


def policy_copy(directory: Path, **data_overrides: Any) -> Path:
    """The default bundle with some top-level data documents replaced."""
    target = directory / "policies"
    shutil.copytree(POLICIES, target)
    data = json.loads((target / "data.json").read_text())
    data.update(data_overrides)
    (target / "data.json").write_text(json.dumps(data))
    return target


def curl_post(url: str, body: dict[str, Any], *options: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    """POST JSON with the real curl binary; (status, parsed body)."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed (`make test` installs it when run as root with apt-get)")
    result = subprocess.run(
        ["curl", "-sS", *options, "-o", "-", "-w", "\n%{http_code}", "-H", "content-type: application/json",
         "-H", f"authorization: Bearer {OPENAI_KEY}",
         "--data", json.dumps(body), url],
        capture_output=True, text=True, timeout=30, check=True, env=env,
    )  # fmt: skip
    payload, status = result.stdout.rsplit("\n", 1)
    return int(status), json.loads(payload)


class _OffersOnlyH2(ssl.SSLContext):
    """httpx offers `http/1.1` before `h2`, and mitmproxy takes the client's first choice: this client offers h2."""

    def set_alpn_protocols(self, alpn_protocols: Any) -> None:
        super().set_alpn_protocols(["h2"])


def http2_context(proxy: Any) -> ssl.SSLContext:
    """For an HTTP/2 client of the proxy's TLS listener (trusting its CA)."""
    context = _OffersOnlyH2(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(proxy.workdir / "ca" / "mitmproxy-ca-cert.pem"))
    return context


@contextlib.contextmanager
def http2_socket(proxy: Any) -> Iterator[tuple[ssl.SSLSocket, H2Connection]]:
    """A raw HTTP/2 connection to the proxy's TLS listener (h2's state machine, its preface sent): for what the
    usual clients never send (a body without `content-length`, a reset at a chosen moment)."""
    context = http2_context(proxy)
    context.set_alpn_protocols(["h2"])  # httpx sets it on its own
    with (
        socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as plain,
        context.wrap_socket(plain, server_hostname="127.0.0.1") as client,
    ):
        assert client.selected_alpn_protocol() == "h2"
        h2 = H2Connection(H2Configuration(client_side=True))
        h2.initiate_connection()
        client.sendall(h2.data_to_send())
        yield client, h2


def chat_head(body: bytes | str, *, lead: str = "") -> bytes:
    """The HTTP/1.1 head of a JSON chat request with the test key and `body`'s length, written raw (after `lead`)."""
    return (f"{lead}POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: {AUTH['authorization']}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n").encode()  # fmt: skip


def http2_chat_headers(*extra: tuple[str, str], authorized: bool = True) -> list[tuple[str, str]]:
    """The HTTP/2 headers of a JSON chat request (with the test key unless not `authorized`), then `extra`."""
    headers = [(":method", "POST"), (":scheme", "https"), (":authority", "127.0.0.1"),
               (":path", "/v1/chat/completions"), ("content-type", "application/json")]  # fmt: skip
    return headers + ([("authorization", AUTH["authorization"])] if authorized else []) + list(extra)


def http2_exchange(proxy: Any, headers: list[tuple[str, str]], body: bytes) -> tuple[dict[bytes, bytes], bytes]:
    """One request on stream 1 as given (no header added), and its answer's (headers, body); no headers when the
    proxy reset the stream or closed the connection."""
    with http2_socket(proxy) as (client, h2):
        h2.send_headers(1, headers, end_stream=not body)
        if body:
            h2.send_data(1, body, end_stream=True)
        client.sendall(h2.data_to_send())
        return http2_answer(client, h2, 1)


def http2_answer(client: ssl.SSLSocket, h2: H2Connection, stream_id: int) -> tuple[dict[bytes, bytes], bytes]:
    """The answer on one stream of a raw HTTP/2 connection: its (headers, body); no headers when the proxy reset the
    stream or closed the connection."""
    answer: dict[bytes, bytes] = {}
    data = b""
    while received := client.recv(65536):  # b"": the proxy closed the connection (a GOAWAY before it)
        for event in h2.receive_data(received):
            if isinstance(event, ResponseReceived) and event.stream_id == stream_id:
                answer = dict(event.headers)
            elif isinstance(event, DataReceived):
                h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                data += event.data if event.stream_id == stream_id else b""
            elif isinstance(event, StreamEnded | StreamReset) and event.stream_id == stream_id:
                client.sendall(h2.data_to_send())
                return answer, data
        client.sendall(h2.data_to_send())
    return answer, data


def log_lines(proxy: Any, timeout: float = 5.0, **match: Any) -> list[dict[str, Any]]:
    """The proxy's JSON log lines (stdout and stderr) whose fields equal `match`, once there is one (its output is
    read by threads, so a line may follow the answer it was logged for by a moment) or `timeout` has passed."""
    deadline = time.monotonic() + timeout
    while True:
        lines = []
        for line in list(proxy.output):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and all(record.get(k) == v for k, v in match.items()):
                lines.append(record)
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)
