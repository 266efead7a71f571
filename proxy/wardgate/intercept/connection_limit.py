"""A bounded number of client connections: past the limit a new connection is closed as soon as it is accepted.

Without one, idle connections (about 22 KB each) ran the process out of file descriptors (an outside review opened
20,500 and exhausted 20,000), and then nothing could open an upstream connection, read a policy bundle or write the
audit file. A connection closed here has sent nothing yet, so there is no request to answer or audit: it is counted
(`wardgate_connections_refused_total`), logged at most once per `_LOG_EVERY_S`, and `/readyz` reports the proxy
saturated while it is at the limit, so Kubernetes sends new connections elsewhere.
"""

from __future__ import annotations

import logging
import resource
import time

from mitmproxy import connection
from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["ConnectionLimit", "default_connection_limit"]

logger = logging.getLogger(__name__)
_LOG_EVERY_S = 10.0
_RESERVED_FDS = 256  # listeners, the audit file, model files, the admin server, upstream connections of the rest
_MOST_BY_DEFAULT = 10_000  # ~220 MB of idle connections; a gateway with more clients sets its own


def default_connection_limit() -> int:
    """10,000, or half the file descriptors the process may open (less a reserve) if that is fewer, once its soft
    limit is raised to the hard one (as servers do: the soft limit is often 1,024): each client connection may need
    an upstream connection too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 2**20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (ValueError, OSError):
            logger.warning("could not raise the file descriptor limit from %d to %d", soft, wanted)
    return max(16, min(_MOST_BY_DEFAULT, (soft - _RESERVED_FDS) // 2))


class ConnectionLimit:
    """A mitmproxy addon that counts client connections and closes those past `limit`."""

    def __init__(self, limit: int, registry: CollectorRegistry) -> None:
        self.limit, self.open = limit, 0
        self._refused = Counter(
            "wardgate_connections_refused", "Client connections closed at once: the limit was reached.",
            registry=registry,
        )  # fmt: skip
        Gauge("wardgate_connections_open", "Client connections open now.", registry=registry).set_function(
            lambda: self.open
        )
        self._unlogged = 0
        self._logged_at = float("-inf")

    @property
    def saturated(self) -> bool:
        return self.open >= self.limit

    def client_connected(self, client: connection.Client) -> None:
        self.open += 1
        if self.open <= self.limit:
            return
        client.error = f"more than {self.limit} client connections are open"  # mitmproxy closes it at once
        self._refused.inc()
        self._unlogged += 1
        if (now := time.monotonic()) - self._logged_at >= _LOG_EVERY_S:
            logger.warning("closed %d new connection(s): %d are open, the limit", self._unlogged, self.limit)
            self._unlogged, self._logged_at = 0, now

    def client_disconnected(self, client: connection.Client) -> None:
        self.open -= 1  # a connection closed at once included: mitmproxy reports its end too
