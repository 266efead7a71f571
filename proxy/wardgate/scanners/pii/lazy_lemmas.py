"""spaCy's lemma pipes run only when Presidio reads a lemma.

Presidio reads lemmas in one place: its context enhancer, for a pattern match whose recognizer has context words
("phone", "card") and was not boosted yet. The pipes that only make lemmas (en_core_web_sm: tok2vec → tagger →
attribute_ruler → lemmatizer; its `ner` has an embedding of its own) cost more than half of the pipeline (1 KB
prompts: 22.5 ms with them, 9 ms for `ner` alone), and most texts never need them. They run on the first read of the
lemmas, over the same Doc, in pipeline order: the entities and lemmas are those of the whole pipeline (tested).
Unknown pipes, and lemma pipes that a pipe run at once listens to, are never deferred. The context enhancer skips
results already at the top score (an e-mail address is found at 1.0): context only ever raises a score.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from spacy.language import Language
from spacy.tokens import Doc, Span

__all__ = ["FullScoresStay", "LazyLemmaArtifacts", "deferred_pipes", "run_pipes"]

# Components whose output Presidio reads only through token.lemma_.
_LEMMA_FACTORIES = frozenset({"tok2vec", "tagger", "morphologizer", "attribute_ruler", "lemmatizer"})


def deferred_pipes(nlp: Language) -> frozenset[str]:
    """The pipes of `nlp` that can wait until a lemma is read."""
    lemma_only = {name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory in _LEMMA_FACTORIES}
    eager = set(nlp.pipe_names) - lemma_only
    if not eager:
        return frozenset()  # nothing would run at once: no point in deferring
    # A shared embedding (tok2vec) that a pipe run at once listens to must run with it.
    listened = {name for name in lemma_only if eager & set(getattr(nlp.get_pipe(name), "listening_components", ()))}
    return frozenset(lemma_only - listened)


def run_pipes(nlp: Language, doc: Doc, names: frozenset[str]) -> Doc:
    """The pipes of `nlp` named in `names` over `doc`, in pipeline order."""
    for name, pipe in nlp.pipeline:
        if name in names:
            doc = pipe(doc)
    return doc


class LazyLemmaArtifacts(NlpArtifacts):
    """Presidio's NLP artifacts with `lemmas` and `keywords` (made from them) computed on first read."""

    def __init__(
        self,
        doc: Doc,
        entities: Sequence[Span],
        scores: Sequence[float],
        *,
        nlp: Language,
        deferred: frozenset[str],
        engine: NlpEngine,
        language: str,
    ) -> None:
        # Not NlpArtifacts.__init__: it would compute the keywords, i.e. the lemmas, at once.
        self.entities, self.scores = list(entities), list(scores)
        self.tokens, self.tokens_indices = doc, [token.idx for token in doc]
        self.nlp_engine, self._language = engine, language
        self._nlp, self._deferred = nlp, deferred

    @functools.cached_property
    def lemmas(self) -> list[str]:  # type: ignore[override]  # a read-only property where Presidio sets a list
        run_pipes(self._nlp, self.tokens, self._deferred)
        return [token.lemma_ for token in self.tokens]

    @functools.cached_property
    def keywords(self) -> list[str]:  # type: ignore[override]
        return self.set_keywords(self.nlp_engine, self.lemmas, self._language)


class FullScoresStay(LemmaContextAwareEnhancer):
    """Presidio's context enhancer, which reads no context (no lemmas) for a result at the top score already: it
    adds to a score and caps it at the top, so such a result leaves as it came."""

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        below = [result for result in raw_results if result.score < self.MAX_SCORE]
        enhanced = iter(super().enhance_using_context(text, below, nlp_artifacts, recognizers, context))
        return [next(enhanced) if result.score < self.MAX_SCORE else result for result in raw_results]
