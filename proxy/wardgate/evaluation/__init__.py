"""Offline evaluation behind `wardgate eval`: classifier metrics and span metrics for PII."""

from wardgate.evaluation.binary import binary_metrics, read_labelled, roc_auc
from wardgate.evaluation.spans import GoldSpan, read_spans, span_metrics

__all__ = ["GoldSpan", "binary_metrics", "read_labelled", "read_spans", "roc_auc", "span_metrics"]
