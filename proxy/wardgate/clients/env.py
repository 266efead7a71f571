"""The environment variables that send a client's traffic through Wardgate in forward mode, per runtime."""

from __future__ import annotations

import dataclasses
import shlex
import textwrap
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wardgate.errors import ConfigError

__all__ = ["NODE_PROXY_NOTE", "ClientEnv", "client_env"]

# Which runtime reads which variable. Every one of them takes HTTPS_PROXY; trust is where they differ.
_READERS = {
    "python": ("HTTPS_PROXY", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"),  # httpx (openai, anthropic), ssl; requests
    "node": ("HTTPS_PROXY", "NODE_USE_ENV_PROXY", "NODE_EXTRA_CA_CERTS"),
    "go": ("HTTPS_PROXY", "SSL_CERT_FILE"),
    "curl": ("HTTPS_PROXY", "CURL_CA_BUNDLE"),
}
# Without this an older Node SDK goes straight to the provider: a silent bypass, not an error.
NODE_PROXY_NOTE = (
    "Node older than 22.21 ignores HTTPS_PROXY even with NODE_USE_ENV_PROXY=1, and so do the openai and anthropic "
    "SDKs on it: pass undici's EnvHttpProxyAgent (`setGlobalDispatcher(new EnvHttpProxyAgent())`, or "
    "`fetchOptions: {dispatcher: new EnvHttpProxyAgent()}` in the client's options), or their requests bypass Wardgate."
)


@dataclasses.dataclass(frozen=True, slots=True)
class ClientEnv:
    variables: dict[str, str]
    readers: dict[str, tuple[str, ...]]
    notes: tuple[str, ...]

    def shell(self) -> str:
        """`export` lines for `eval "$(wardgate env ...)"`, each saying which runtimes read it."""
        lines = []
        for name, value in self.variables.items():
            users = ", ".join(runtime for runtime, names in self.readers.items() if name in names)
            lines.append(f"export {name}={shlex.quote(value)}  # {users}")
        lines += [f"# {line}" for note in self.notes for line in textwrap.wrap(note, 110)]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {"variables": self.variables, "clients": {k: list(v) for k, v in self.readers.items()},
                "notes": list(self.notes)}  # fmt: skip


def client_env(proxy_url: str, bundle: Path) -> ClientEnv:
    """`bundle`: a PEM file holding the system CAs and Wardgate's (see `clients.bundle`)."""
    parts = urlsplit(proxy_url)
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"--proxy {proxy_url!r}: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise ConfigError(f"--proxy must be http://HOST:PORT (optionally http://NAME:KEY@HOST:PORT), got {proxy_url!r}")
    path = str(bundle)
    values = {
        "HTTPS_PROXY": proxy_url,
        "SSL_CERT_FILE": path,
        "REQUESTS_CA_BUNDLE": path,
        "NODE_USE_ENV_PROXY": "1",  # Node >= 22.21: its fetch and http(s) clients honour HTTPS_PROXY
        "NODE_EXTRA_CA_CERTS": path,
        "CURL_CA_BUNDLE": path,
    }
    return ClientEnv(values, dict(_READERS), (NODE_PROXY_NOTE,))
