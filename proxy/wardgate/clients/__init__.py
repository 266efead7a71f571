"""What a client sets to go through Wardgate in forward mode: a CA bundle it can trust and its environment."""

from wardgate.clients.bundle import TrustBundle, build_bundle, system_cas, write_bundle
from wardgate.clients.env import ClientEnv, client_env

__all__ = ["ClientEnv", "TrustBundle", "build_bundle", "client_env", "system_cas", "write_bundle"]
