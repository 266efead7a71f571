"""A PEM bundle of the system's CAs plus Wardgate's, for `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE` and the like.

Those variables *replace* a client's trusted CAs: pointed at Wardgate's CA alone, every host that Wardgate passes
through untouched (anything outside `llm_hosts`) would fail to verify. The bundle keeps what the client trusted.
"""

from __future__ import annotations

import dataclasses
import os
import re
import ssl
import tempfile
from pathlib import Path

from wardgate.errors import ConfigError

__all__ = ["SYSTEM_CA_FILES", "TrustBundle", "build_bundle", "system_cas", "write_bundle"]

# The distributions' own bundles first: they hold the CAs an administrator added (update-ca-certificates), which
# certifi's copy of Mozilla's list lacks. Debian/Ubuntu, Fedora/RHEL, Alpine/macOS.
SYSTEM_CA_FILES = (
    Path("/etc/ssl/certs/ca-certificates.crt"),
    Path("/etc/pki/tls/certs/ca-bundle.crt"),
    Path("/etc/ssl/cert.pem"),
)
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\r?\n.*?-----END CERTIFICATE-----", re.DOTALL)


@dataclasses.dataclass(frozen=True, slots=True)
class TrustBundle:
    pem: str
    source: Path  # where the system CAs came from
    system_count: int  # certificates taken from it


def system_cas() -> Path:
    """The system's CA file, else certifi's (what Python's requests and httpx trust by default)."""
    for candidate in SYSTEM_CA_FILES:
        if candidate.is_file():
            return candidate
    try:
        import certifi
    except ImportError as exc:
        raise ConfigError("no system CA bundle found and certifi is not installed: pass --system-cas") from exc
    return Path(certifi.where())


def _certificates(pem: str) -> list[bytes]:
    """The DER bytes of each certificate block. Not parsed further: a system bundle may hold an old root that a
    strict parser rejects (cryptography warns about negative serial numbers), and every client still trusts it."""
    return [ssl.PEM_cert_to_DER_cert(block) for block in _PEM_BLOCK.findall(pem)]


def build_bundle(wardgate_ca: Path, source: Path | None = None) -> TrustBundle:
    """The system CAs as they are, then Wardgate's CA (unless the system already trusts it)."""
    source = source or system_cas()
    try:
        system = source.read_text(encoding="ascii", errors="replace")
        ours = wardgate_ca.read_text(encoding="ascii")
        trusted, (ca,) = _certificates(system), _certificates(ours)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot build a CA bundle from {source} and {wardgate_ca}: {exc}") from exc
    if not trusted:
        raise ConfigError(f"{source} holds no PEM certificates")
    pem = system if system.endswith("\n") else system + "\n"
    if ca not in trusted:
        # OpenSSL, Go and Node skip text outside the PEM blocks: the comment says whose CA this is.
        pem += f"\n# Wardgate interception CA ({wardgate_ca})\n{ours.strip()}\n"
    return TrustBundle(pem, source, len(trusted))


def write_bundle(bundle: TrustBundle, target: Path) -> None:
    """Written whole or not at all: a client reading it mid-write would trust half a list."""
    target = target.expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="ascii") as out:
            out.write(bundle.pem)
        os.chmod(temporary, 0o644)  # certificates are public; a client running as another user reads it too
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
