"""Test harnesses shipped with Wardgate: fake provider, OIDC issuer, OPA server, and a proxy runner."""

from wardgate.testing.issuer import FakeIssuer
from wardgate.testing.opa_server import FakeOpaServer
from wardgate.testing.proxy import ProxyProcess
from wardgate.testing.upstream import FakeUpstream

__all__ = ["FakeIssuer", "FakeOpaServer", "FakeUpstream", "ProxyProcess"]
