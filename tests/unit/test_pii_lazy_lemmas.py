"""spaCy's lemma pipes wait until Presidio reads a lemma: the same results, and most texts never run them."""

from __future__ import annotations

import pytest
import spacy
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

from tests.conftest import PII_MODEL
from wardgate.config import NerModelSettings, PiiSettings
from wardgate.scanners.pii import build_pii_scanner, lazy_lemmas
from wardgate.scanners.pii.lazy_lemmas import deferred_pipes
from wardgate.scanners.pii.scanner import PiiScanner

# Found only through a context word's lemma near a weak pattern match (checked without context: nothing or less).
NEEDS_CONTEXT = [
    "The passports: 912803456.",
    "Driver license number: A1234567",
    "my phones 212 555 0187",
    "My bank account number is 912803456781, thanks.",
]
NO_CONTEXT = ["Maria Gonzalez lives in Paris.", "mail maria@example.com", "Visa cards 4111 1111 1111 1111"]


@pytest.fixture(scope="module")
def scanner() -> PiiScanner:
    return build_pii_scanner(PiiSettings(ner=NerModelSettings(model=PII_MODEL)))


def test_the_shipped_pipeline_defers_its_lemma_pipes(scanner):
    nlp = scanner.analyzer.nlp_engine.nlp["en"]
    assert {"tok2vec", "tagger", "attribute_ruler", "lemmatizer"} == deferred_pipes(nlp)


def test_an_embedding_that_ner_listens_to_runs_at_once():
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "*"}
    model = {"@architectures": "spacy.TransitionBasedParser.v2", "state_type": "ner", "extra_state_tokens": False,
             "hidden_width": 64, "maxout_pieces": 2, "use_upper": True, "tok2vec": listener}  # fmt: skip
    nlp.add_pipe("ner", config={"model": model}).add_label("PERSON")
    nlp.add_pipe("tagger").add_label("NN")  # an embedding of its own
    nlp.initialize()
    assert {"tagger"} == deferred_pipes(nlp)


def test_results_are_presidios_own(scanner, monkeypatch):
    """Deferred pipes and the top-score shortcut give what the whole pipeline and Presidio's enhancer give."""
    texts = NEEDS_CONTEXT + NO_CONTEXT
    ours = [scanner.analyze(text) for text in texts]
    monkeypatch.setattr(scanner.analyzer.nlp_engine, "_deferred", {})
    monkeypatch.setattr(scanner.analyzer, "context_aware_enhancer", LemmaContextAwareEnhancer())
    assert [scanner.analyze(text) for text in texts] == ours
    assert {"US_PASSPORT", "US_DRIVER_LICENSE", "PHONE_NUMBER"} <= {entity for found in ours for entity, *_ in found}


def test_lemmas_are_made_only_when_context_is_read(scanner, monkeypatch):
    runs: list[frozenset[str]] = []
    run_pipes = lazy_lemmas.run_pipes
    monkeypatch.setattr(
        lazy_lemmas, "run_pipes", lambda nlp, doc, names: runs.append(names) or run_pipes(nlp, doc, names)
    )
    for text in NO_CONTEXT:
        scanner.analyze(text)
    assert runs == []
    scanner.analyze(NEEDS_CONTEXT[0])
    assert runs == [frozenset({"tok2vec", "tagger", "attribute_ruler", "lemmatizer"})]
