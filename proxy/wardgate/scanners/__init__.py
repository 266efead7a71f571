"""Scanners: one module each, listed here explicitly."""

from __future__ import annotations

from wardgate.config import ScannerSettings
from wardgate.errors import ConfigError, InferenceError
from wardgate.inference import DynamicBatcher, SequenceClassifier
from wardgate.scanners.base import Scanner
from wardgate.scanners.injection import InjectionScanner
from wardgate.scanners.secrets import SecretsScanner

__all__ = ["InjectionScanner", "Scanner", "SecretsScanner", "build_scanners"]


def build_scanners(settings: ScannerSettings) -> list[Scanner]:
    """The configured scanners, models loaded and warmed up; a model that cannot load is a start-up error."""
    scanners: list[Scanner] = []
    if settings.secrets.enabled:
        scanners.append(SecretsScanner.from_file(settings.secrets.rules))
    if settings.injection.enabled:
        injection = settings.injection
        overrides = {
            key: value
            for key, value in {"threshold": injection.threshold, "positive_label": injection.positive_label}.items()
            if value is not None
        }
        classifier = SequenceClassifier(
            injection.model, device=injection.device, threads=injection.threads, overrides=overrides
        )
        try:
            classifier.load()
        except InferenceError as exc:
            raise ConfigError(f"injection scanner: {exc}") from exc
        batcher = DynamicBatcher(classifier.score, max_items=injection.max_batch, max_wait=injection.max_wait_ms / 1000)
        scanners.append(InjectionScanner(classifier, batcher, roles=injection.roles, min_score=injection.min_score))
    return scanners
