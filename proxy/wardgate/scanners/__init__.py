"""Scanners: one module each, listed here explicitly."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from wardgate.config import InjectionSettings, ScannerSettings
from wardgate.errors import ConfigError, InferenceError
from wardgate.inference import DynamicBatcher, SequenceClassifier
from wardgate.inference.routing import LanguageId, RoutedClassifier
from wardgate.scanners.base import Scanner, SyncScanner
from wardgate.scanners.injection import InjectionScanner
from wardgate.scanners.links import LinkScanner
from wardgate.scanners.pii import PiiScanner, build_pii_scanner
from wardgate.scanners.secrets import SecretsScanner

__all__ = [
    "InjectionScanner",
    "LinkScanner",
    "PiiScanner",
    "Scanner",
    "Scanners",
    "SecretsScanner",
    "SyncScanner",
    "build_scanners",
    "routed_classifier",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Scanners:
    all: list[Scanner]  # every request and non-streamed response
    stream: list[SyncScanner]  # cheap enough for each released stream window
    tool: list[SyncScanner]  # also run on a streamed tool call's complete arguments


def _thread_budget(settings: ScannerSettings) -> ScannerSettings:
    """Sessions left at `threads: 0` share the process's cores instead of each taking all of them: two sessions of
    one thread per core each oversubscribe the CPU (measured: twice the CPU per request, a third less throughput)."""
    sessions = [settings.injection.enabled, settings.pii.enabled and settings.pii.ner.model is not None]
    share = max(1, len(os.sched_getaffinity(0)) // max(1, sum(sessions)))
    injection, ner = settings.injection, settings.pii.ner
    return settings.model_copy(
        update={
            "injection": injection.model_copy(update={"threads": injection.threads or share}),
            "pii": settings.pii.model_copy(update={"ner": ner.model_copy(update={"threads": ner.threads or share})}),
        }
    )


def routed_classifier(injection: InjectionSettings) -> RoutedClassifier:
    """The injection model, and the multilingual one for other languages when configured (not yet loaded). An
    operator's threshold replaces a model's per-role ones too."""

    def classifier(
        model: Path, threshold: float | None, positive_label: str | list[str] | None, *, by_sentence: bool | None = None
    ) -> SequenceClassifier:
        overrides: dict[str, object] = {"threshold": threshold, "role_thresholds": {}} if threshold is not None else {}
        if positive_label is not None:  # for a foreign `model`
            overrides["positive_label"] = positive_label
        if by_sentence is not None:  # else as the model's config.json says
            overrides["confirm_by_sentence"] = by_sentence
        return SequenceClassifier(model, device=injection.device, threads=injection.threads, overrides=overrides)

    english = classifier(
        injection.model, injection.threshold, injection.positive_label, by_sentence=injection.confirm_by_sentence
    )
    if injection.multilingual is None or injection.multilingual == injection.model:
        return RoutedClassifier(english)
    multilingual = classifier(injection.multilingual, injection.multilingual_threshold, None)
    return RoutedClassifier(english, multilingual, LanguageId(injection.language_model))


def build_scanners(settings: ScannerSettings) -> Scanners:
    """The configured scanners, models loaded and warmed up; a model that cannot load is a start-up error."""
    settings = _thread_budget(settings)
    scanners = Scanners([], [], [])
    if settings.secrets.enabled:
        secrets = SecretsScanner.from_file(settings.secrets.rules)
        scanners.all.append(secrets)
        scanners.stream.append(secrets)
    if settings.links.enabled:
        links = LinkScanner(allowed_hosts=settings.links.allowed_hosts, min_data_chars=settings.links.min_data_chars)
        scanners.all.append(links)
        scanners.stream.append(links)
    if settings.injection.enabled:
        injection = settings.injection
        classifier = routed_classifier(injection)
        try:
            classifier.load()
        except InferenceError as exc:
            raise ConfigError(f"injection scanner: {exc}") from exc
        batcher = DynamicBatcher(classifier.score, max_items=injection.max_batch, max_wait=injection.max_wait_ms / 1000)
        scanner = InjectionScanner(classifier, batcher, roles=injection.roles, min_score=injection.min_score)
        scanners.all.append(scanner)
        scanners.tool.append(scanner)
    if settings.pii.enabled:
        pii = build_pii_scanner(settings.pii)
        scanners.all.append(pii)
        scanners.stream.append(pii)
    return scanners
