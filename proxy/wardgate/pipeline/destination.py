"""Which flows are inspected: decided by where the connection goes, never by a header the client chose.

In forward mode the destination is the CONNECT authority (or the absolute URL of a plain-HTTP request); in
transparent mode it is the original destination address and the TLS SNI. A request whose Host names anything else
is refused: an upstream that routes by Host would otherwise serve an uninspected request on an inspected connection.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import re
import socket
from collections.abc import Callable
from fnmatch import fnmatch

from cachetools.func import ttl_cache

from wardgate.quoting import quoted

__all__ = ["Destination", "host_matcher", "normalise_host"]


def normalise_host(host: str) -> str:
    """Lower case, no trailing dot, no brackets or port, IDNA-encoded: `API.OpenAI.com.:443` → `api.openai.com`,
    `bücher.example` → `xn--bcher-kva.example` (mitmproxy decodes a CONNECT's punycode; a list may hold either)."""
    host = host.strip().lower()
    if not host.isascii():
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]+|\d+)(?:\.(?:0x[0-9a-f]+|\d+)){0,3}", re.IGNORECASE)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address in any spelling the system resolver accepts (`127.1`, `0x7f000001`, `2130706433`)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        # `::ffff:127.0.0.1` (and the deprecated `::127.0.0.1`) reach the IPv4 host: compared as that address.
        if isinstance(address, ipaddress.IPv6Address):
            embedded = address.ipv4_mapped or _ipv4_compatible(address)
            return embedded or address
        return address
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _is_localhost(name: str) -> bool:
    return name == "localhost" or name.endswith(".localhost")


_LOOPBACK = (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))


def _reached(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]:
    """The addresses a connection to `address` reaches: on Linux, one to `0.0.0.0` or `::` reaches this host's own
    listeners, as loopback does (found by an outside review: `http://0.0.0.0:port/` passed a loopback LLM host), and
    so do every loopback address and this host's own addresses, to a listener on every address (later reviews:
    `127.0.0.2`, `[::1]` and the host's LAN address passed)."""
    if address.is_unspecified or address.is_loopback or _is_own_address(address):
        return (address, *_LOOPBACK)
    return (address,)


@ttl_cache(maxsize=1024, ttl=30)  # addresses come and go (DHCP, a VPN): asked again after 30 s
def _is_own_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether this host holds `address`: the kernel routes to its own addresses from themselves (a bind would not
    tell: `ip_nonlocal_bind` lets any address be bound). No packet is sent."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((str(address), 9))
            return ipaddress.ip_address(probe.getsockname()[0]) == address
    except (OSError, ValueError):
        return False


def _ipv4_compatible(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address in a deprecated IPv4-compatible IPv6 address (`::a.b.c.d`, not `::` or `::1`)."""
    value = int(address)
    return ipaddress.IPv4Address(value) if 1 < value < 2**32 else None


def host_matcher(patterns: list[str]) -> Callable[[str], bool]:
    """`api.openai.com`, `*.openai.azure.com`, an IP address or a CIDR network; case and trailing dots ignored."""
    # An entry's port is no part of it (`127.0.0.1:11434` is the host), and a `localhost` entry is loopback itself.
    patterns = [pattern if "/" in pattern else normalise_host(pattern) for pattern in patterns]
    names = [pattern for pattern in patterns if "/" not in pattern and _ip(pattern) is None]
    networks = [ipaddress.ip_network(pattern, strict=False) for pattern in patterns if "/" in pattern or _ip(pattern)]
    if any(_is_localhost(name) for name in names):
        networks += [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]

    def listed(addresses: tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ...]) -> bool:
        return any(address in network for network in networks for address in addresses)

    def matches(host: str) -> bool:
        bare = normalise_host(host)
        if (address := _ip(bare)) is not None:
            return listed(_reached(address))
        # RFC 6761: the resolver answers loopback for `localhost` names; they reach what 127.0.0.1 and ::1 reach.
        return any(fnmatch(bare, name) for name in names) or (_is_localhost(bare) and listed(_LOOPBACK))

    return matches


@dataclasses.dataclass(frozen=True, slots=True)
class Destination:
    """Where one request goes: the connection's target, its TLS SNI and the Host the client wrote."""

    target: str
    sni: str | None
    host_header: str | None
    # Forward mode: the client named the target (CONNECT authority, absolute URL). Transparent mode: the target is
    # the original destination address, which the client never named.
    target_named: bool = True

    def _bound(self) -> str | None:
        """The name this connection is bound to, if any (plain HTTP to an intercepted IP has none but its Host)."""
        return self.sni or (self.target if self.target_named or _ip(self.target) is None else None)

    def server(self) -> str:
        """The name of the server this request reaches, normalised: the name the connection is bound to (SNI, the
        target the client named), else its Host (checked against the connection when the proxy binds hosts)."""
        return normalise_host(self._bound() or self.host_header or self.target)

    def inspected(self, inspects: Callable[[str], bool]) -> bool:
        names = [self.target, self.sni, self.host_header if self._bound() is None else None]
        return any(inspects(name) for name in names if name)

    def mismatch(self) -> str | None:
        """Why the Host header cannot be trusted to name this connection's destination, or None."""
        if not self.host_header:
            return None
        claimed = normalise_host(self.host_header)
        bound = self._bound()
        if bound is not None and claimed != normalise_host(bound):
            return f"the Host header names {quoted(claimed)} but the connection goes to {quoted(normalise_host(bound))}"
        return None
