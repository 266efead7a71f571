"""Build Presidio's `AnalyzerEngine` fully offline from Wardgate's settings.

spaCy pipelines come from installed packages (never downloaded), without the dependency parser (10-20% of the
time, no effect on entities, DESIGN §7). When a pipeline cannot load, the analyzer runs on pattern recognizers
only, unless `require_ner` says to refuse.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import spacy
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine

from wardgate.config import PiiSettings
from wardgate.errors import ConfigError
from wardgate.inference import EntitySpan
from wardgate.scanners.pii.recognizers import (
    CardNumberInContextRecognizer,
    OnnxNerRecognizer,
    PhoneNumberInContextRecognizer,
)

__all__ = ["build_analyzer"]

logger = logging.getLogger(__name__)
# Presidio logs every recognizer it loads at INFO: dozens of start-up lines that say nothing an operator needs.
logging.getLogger("presidio-analyzer").setLevel(logging.WARNING)

# spaCy's labels under Presidio's names; ORGANIZATION and DATE_TIME stay available but are off by default (config).
_SPACY_ENTITIES = {
    "PER": "PERSON",
    "PERSON": "PERSON",
    "NORP": "NRP",
    "FAC": "LOCATION",
    "LOC": "LOCATION",
    "GPE": "LOCATION",
    "ORG": "ORGANIZATION",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}


class _InstalledSpacyEngine(SpacyNlpEngine):
    """Presidio's spaCy engine without its download fallback; a blank pipeline (tokens only) when `blank`."""

    def __init__(self, models: list[dict[str, str]], *, blank: bool) -> None:
        super().__init__(models=models, ner_model_configuration=NerModelConfiguration(
            model_to_presidio_entity_mapping=_SPACY_ENTITIES, labels_to_ignore=["CARDINAL", "ORDINAL", "QUANTITY"]
        ))  # fmt: skip
        self._blank = blank

    def load(self) -> None:
        pipelines = {}
        for model in self.models:
            language, name = model["lang_code"], model["model_name"]
            pipelines[language] = spacy.blank(language) if self._blank else spacy.load(name, exclude=["parser"])
        self.nlp = pipelines  # type: ignore[assignment]  # Presidio annotates it as None until loaded


def _nlp_engine(settings: PiiSettings) -> tuple[_InstalledSpacyEngine, bool]:
    """(engine, whether it has NER). Falls back to blank pipelines when a model cannot load."""
    missing = [language for language in settings.languages if language not in settings.spacy_models]
    if missing:
        raise ConfigError(f"scanners.pii.spacy_models names no pipeline for language(s) {missing}")
    models = [{"lang_code": language, "model_name": settings.spacy_models[language]} for language in settings.languages]
    if not settings.spacy:
        engine = _InstalledSpacyEngine(models, blank=True)
        engine.load()
        return engine, False
    engine = _InstalledSpacyEngine(models, blank=False)
    try:
        engine.load()
        return engine, True
    except (OSError, ImportError, ValueError) as exc:
        if settings.require_ner:
            raise ConfigError(f"PII scanner: cannot load spaCy pipeline ({exc}) and require_ner is set") from exc
        logger.warning("PII scanner: cannot load a spaCy pipeline (%s); names and places will NOT be detected", exc)
    engine = _InstalledSpacyEngine(models, blank=True)
    engine.load()
    return engine, False


def build_analyzer(
    settings: PiiSettings, ner: Callable[[str], Sequence[EntitySpan]] | None = None
) -> tuple[AnalyzerEngine, list[str]]:
    """(analyzer, names of the NER sources in use: `spacy`, `onnx`)."""
    engine, has_spacy = _nlp_engine(settings)
    registry = RecognizerRegistry(supported_languages=settings.languages)
    registry.load_predefined_recognizers(languages=settings.languages, nlp_engine=engine)
    for name in settings.disabled_recognizers:
        registry.remove_recognizer(name)
    if not has_spacy:
        registry.remove_recognizer("SpacyRecognizer")
    for language in settings.languages:
        registry.add_recognizer(CardNumberInContextRecognizer(language))
        registry.add_recognizer(PhoneNumberInContextRecognizer(language))
        if ner is not None:
            registry.add_recognizer(OnnxNerRecognizer(ner, language=language))
    sources = ["spacy"] * has_spacy + ["onnx"] * (ner is not None)
    analyzer = AnalyzerEngine(
        registry=registry,
        nlp_engine=engine,
        supported_languages=settings.languages,
        default_score_threshold=settings.min_score,
    )
    return analyzer, sources
