"""Kubernetes integration: the traffic redirect a sidecar needs and the webhook that injects the sidecar."""

from wardgate.k8s.iptables import RedirectPlan, apply_redirect, redirect_rules

__all__ = ["RedirectPlan", "apply_redirect", "redirect_rules"]
