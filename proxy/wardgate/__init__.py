"""Wardgate: a guardrail policy sidecar for LLM and agent traffic."""

__version__ = "0.1.0"

__all__ = ["__version__"]
