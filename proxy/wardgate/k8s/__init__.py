"""Kubernetes integration: the traffic redirect a sidecar needs (and, later, the injection webhook)."""

from wardgate.k8s.iptables import RedirectPlan, apply_rules, redirect_rules

__all__ = ["RedirectPlan", "apply_rules", "redirect_rules"]
