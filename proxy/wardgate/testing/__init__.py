"""Test harnesses that ship with Wardgate: a fake provider and a proxy runner, for tests, demo and bench."""

from wardgate.testing.proxy import ProxyProcess
from wardgate.testing.upstream import FakeUpstream

__all__ = ["FakeUpstream", "ProxyProcess"]
