"""Policy: the `input` document, engines that answer it, and the typed `Decision`."""

from wardgate.policy.decision import Decision, Reason, parse_decision
from wardgate.policy.engine import EmbeddedEngine, PolicyEngine

__all__ = ["Decision", "EmbeddedEngine", "PolicyEngine", "Reason", "parse_decision"]
