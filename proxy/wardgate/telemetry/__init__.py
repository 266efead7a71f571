"""Prometheus metrics, fed from the audit trail's decision events."""

from wardgate.telemetry.metrics import DecisionMetrics

__all__ = ["DecisionMetrics"]
