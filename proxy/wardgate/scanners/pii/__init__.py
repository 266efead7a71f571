"""PII: Presidio's analyzer (spaCy + pattern recognizers + Wardgate's own) and the ONNX NER tagger beside spaCy."""

from __future__ import annotations

import logging

from wardgate.config import PiiSettings
from wardgate.errors import ConfigError, InferenceError
from wardgate.inference import DynamicBatcher, TokenClassifier
from wardgate.scanners.pii import _offline  # noqa: F401  (first: keeps Presidio's imports offline)
from wardgate.scanners.pii.analyzer import build_analyzer
from wardgate.scanners.pii.prefetch import TaggerPrefetch
from wardgate.scanners.pii.scanner import PiiScanner

__all__ = ["PiiScanner", "build_analyzer", "build_pii_scanner", "load_tagger"]

logger = logging.getLogger(__name__)


def load_tagger(settings: PiiSettings) -> TokenClassifier | None:
    """The ONNX tagger, or None (with a loud warning) when it cannot load and `require_ner` is off."""
    ner = settings.ner
    if ner.model is None:
        return None
    overrides = {"threshold": ner.threshold} if ner.threshold is not None else {}
    tagger = TokenClassifier(ner.model, device=ner.device, threads=ner.threads, overrides=overrides)
    try:
        tagger.load()
    except (InferenceError, ConfigError) as exc:
        if settings.require_ner:
            raise ConfigError(f"PII scanner: cannot load the NER model and require_ner is set: {exc}") from exc
        logger.warning("PII scanner: cannot load the NER model (%s); names are found by spaCy alone", exc)
        return None
    return tagger


def build_pii_scanner(settings: PiiSettings) -> PiiScanner:
    tagger = load_tagger(settings)
    prefetch = None
    if tagger is not None:
        batcher = DynamicBatcher(tagger.predict, max_items=settings.ner.max_batch,
                                 max_wait=settings.ner.max_wait_ms / 1000)  # fmt: skip
        prefetch = TaggerPrefetch(batcher)
    analyzer, sources = build_analyzer(settings, prefetch)
    logger.info("PII scanner: NER from %s", " + ".join(sources) or "nothing (patterns only)")
    pattern_analyzer, _ = build_analyzer(settings.model_copy(update={"spacy": False}), names=False)
    return PiiScanner(
        analyzer,
        entities=settings.entities,
        languages=settings.languages,
        thresholds=settings.thresholds,
        min_score=settings.min_score,
        roles=settings.roles,
        cache_size=settings.cache_size,
        workers=settings.workers,
        tagger=prefetch,
        pattern_analyzer=pattern_analyzer,
    )
