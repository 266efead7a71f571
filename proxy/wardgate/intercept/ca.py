"""Wardgate's interception CA: created once in the confdir under Wardgate's name, in mitmproxy's file layout.

mitmproxy would create it on first use as `CN=mitmproxy, O=mitmproxy`; a certificate warning or a trust store
entry should name what is intercepting. A CA already in the confdir is kept as it is: clients trust that one.
"""

from __future__ import annotations

from pathlib import Path

from mitmproxy.certs import CertStore
from mitmproxy.options import CONF_BASENAME

__all__ = ["CA_COMMON_NAME", "CA_ORGANIZATION", "ca_cert_path", "ensure_ca"]

CA_COMMON_NAME = "Wardgate interception CA"
CA_ORGANIZATION = "Wardgate"
# mitmproxy's default `key_size` option, which it would have created the CA with.
_KEY_SIZE = 2048


def ca_cert_path(confdir: Path) -> Path:
    return confdir.expanduser() / f"{CONF_BASENAME}-ca-cert.pem"


def ensure_ca(confdir: Path) -> Path:
    """Create the CA unless the confdir holds one (mitmproxy's TLS addon then loads it); returns its certificate."""
    directory = confdir.expanduser()
    if not (directory / f"{CONF_BASENAME}-ca.pem").exists():
        CertStore.create_store(directory, CONF_BASENAME, _KEY_SIZE, organization=CA_ORGANIZATION, cn=CA_COMMON_NAME)
    return ca_cert_path(directory)
