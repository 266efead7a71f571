"""Build Presidio's `AnalyzerEngine` fully offline from Wardgate's settings.

spaCy pipelines come from installed packages (never downloaded), without the dependency parser (10-20% of the
time, no effect on entities, DESIGN §7). When a pipeline cannot load, the analyzer runs on pattern recognizers
only, unless `require_ner` says to refuse.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence

import spacy
from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine

from wardgate.config import PiiSettings
from wardgate.errors import ConfigError
from wardgate.inference import EntitySpan
from wardgate.scanners.pii.korean import KrPhoneRecognizer, KrRrnRecognizer
from wardgate.scanners.pii.korean_names import KoreanNameRecognizer
from wardgate.scanners.pii.lazy_lemmas import FullScoresStay, LazyLemmaArtifacts, deferred_pipes, run_pipes
from wardgate.scanners.pii.recognizers import (
    CardNumberInContextRecognizer,
    MastercardTwoSeriesRecognizer,
    OnnxNerRecognizer,
    PhoneNumberInContextRecognizer,
    SuffixedEmailRecognizer,
)

__all__ = ["NER_ENTITIES", "build_analyzer"]

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

# What only NER finds (spaCy, the ONNX tagger, Kiwi's Korean names): every other type has a pattern recognizer.
NER_ENTITIES = frozenset(_SPACY_ENTITIES.values())


# Languages whose names come from Wardgate's own recognizer: spaCy only tokenizes them for Presidio, with its
# multi-language tokenizer (spaCy's Korean one needs MeCab).
_TOKENIZER_ONLY = {"ko": "xx"}


class _InstalledSpacyEngine(SpacyNlpEngine):
    """Presidio's spaCy engine without its download fallback; a blank pipeline (tokens only) when `blank`."""

    def __init__(self, models: list[dict[str, str]], *, blank: bool) -> None:
        super().__init__(models=models, ner_model_configuration=NerModelConfiguration(
            model_to_presidio_entity_mapping=_SPACY_ENTITIES, labels_to_ignore=["CARDINAL", "ORDINAL", "QUANTITY"]
        ))  # fmt: skip
        self._blank = blank
        self._deferred: dict[str, frozenset[str]] = {}

    def load(self) -> None:
        pipelines = {}
        for model in self.models:
            language, name = model["lang_code"], model["model_name"]
            if language in _TOKENIZER_ONLY:
                pipelines[language] = spacy.blank(_TOKENIZER_ONLY[language])
            else:
                pipelines[language] = spacy.blank(language) if self._blank else spacy.load(name, exclude=["parser"])
        self.nlp = pipelines  # type: ignore[assignment]  # Presidio annotates it as None until loaded
        self._deferred = {language: deferred_pipes(nlp) for language, nlp in pipelines.items()}

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        """The pipeline without its lemma pipes, which run if Presidio reads a lemma (scanners/pii/lazy_lemmas.py)."""
        deferred = self._deferred.get(language)
        if not deferred:
            return super().process_text(text, language)
        nlp = self.nlp[language]  # type: ignore[index]  # loaded: see load()
        doc = run_pipes(nlp, nlp.make_doc(text), frozenset(nlp.pipe_names) - deferred)
        entities, scores = self._get_updated_entities(self._get_entities(doc), self._get_scores_for_entities(doc))
        return LazyLemmaArtifacts(doc, entities, scores, nlp=nlp, deferred=deferred, engine=self, language=language)


def _nlp_engine(settings: PiiSettings) -> tuple[_InstalledSpacyEngine, bool]:
    """(engine, whether it has NER). Falls back to blank pipelines when a model cannot load."""
    missing = [lang for lang in settings.languages if lang not in settings.spacy_models and lang not in _TOKENIZER_ONLY]
    if missing:
        raise ConfigError(f"scanners.pii.spacy_models names no pipeline for language(s) {missing}")
    models = [{"lang_code": language, "model_name": settings.spacy_models.get(language, "")}
              for language in settings.languages]  # fmt: skip
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


def _korean_names(settings: PiiSettings) -> KoreanNameRecognizer | None:
    """Kiwi's name recognizer, or None (loudly, or refused under `require_ner`) when kiwipiepy cannot load."""
    recognizer = KoreanNameRecognizer()
    try:
        recognizer.load()
    except (ImportError, OSError, RuntimeError) as exc:
        if settings.require_ner:
            raise ConfigError(f"PII scanner: cannot load Kiwi for Korean names ({exc}) and require_ner is set") from exc
        logger.warning("PII scanner: cannot load Kiwi (%s); Korean names will NOT be detected", exc)
        return None
    return recognizer


@contextlib.contextmanager
def _quiet_presidio() -> Iterator[None]:
    """Presidio warns once per recognizer of every language it ships but was not asked for (22 lines at each start):
    nothing is wrong then, so start-up stays quiet. Errors still show."""
    presidio = logging.getLogger("presidio-analyzer")
    level = presidio.level
    presidio.setLevel(logging.ERROR)
    try:
        yield
    finally:
        presidio.setLevel(level)


def build_analyzer(
    settings: PiiSettings, ner: Callable[[str], Sequence[EntitySpan]] | None = None, *, names: bool = True
) -> tuple[AnalyzerEngine, list[str]]:
    """(analyzer, names of the NER sources in use: `spacy`, `onnx`, `kiwi`). `names=False`: patterns only."""
    engine, has_spacy = _nlp_engine(settings)
    registry = RecognizerRegistry(supported_languages=settings.languages)
    with _quiet_presidio():
        registry.load_predefined_recognizers(languages=settings.languages, nlp_engine=engine)
    for name in settings.disabled_recognizers:
        registry.remove_recognizer(name)
    if not has_spacy:
        registry.remove_recognizer("SpacyRecognizer")
    # Presidio's patterns end in `\b`, which a glued Korean particle defeats (wrong spans), and its SpacyRecognizer
    # would tag Hangul with the English model: the Korean pass runs Wardgate's recognizers alone.
    registry.recognizers = [recognizer for recognizer in registry.recognizers if recognizer.supported_language != "ko"]
    korean = _korean_names(settings) if names and "ko" in settings.languages else None
    for language in settings.languages:
        if language == "ko":
            # Korean text gets its own numbers and names; e-mails and Latin-script names come from the English pass.
            registry.add_recognizer(KrRrnRecognizer())
            registry.add_recognizer(KrPhoneRecognizer())
            if korean is not None:
                registry.add_recognizer(korean)
            continue
        registry.add_recognizer(CardNumberInContextRecognizer(language))
        registry.add_recognizer(MastercardTwoSeriesRecognizer(language))
        registry.add_recognizer(PhoneNumberInContextRecognizer(language))
        registry.add_recognizer(SuffixedEmailRecognizer(language))
        if ner is not None:
            registry.add_recognizer(OnnxNerRecognizer(ner, language=language))
    sources = ["spacy"] * has_spacy + ["onnx"] * (ner is not None) + ["kiwi"] * (korean is not None)
    analyzer = AnalyzerEngine(
        registry=registry,
        nlp_engine=engine,
        supported_languages=settings.languages,
        default_score_threshold=settings.min_score,
        context_aware_enhancer=FullScoresStay(),
    )
    return analyzer, sources
