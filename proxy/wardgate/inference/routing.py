"""Which classifier reads a text: the English one, or a multilingual one for text in any other language.

The English injection model splits Hangul into jamo and maps most Chinese characters to `[UNK]`: it sees no Korean,
Japanese or Chinese attack at all, and few in Italian or Portuguese. A text is the multilingual model's when it holds
letters of another script than Latin, or a sentence that fastText's language identification (lid.176, the compressed
model in models/langid) gives to another language than English with confidence. Everything else, code, JSON, ids and
short fragments included, stays with the English model, whose behaviour on them is what its card reports.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from wardgate.errors import InferenceError
from wardgate.inference.classifier import SequenceClassifier

__all__ = ["LanguageId", "RoutedClassifier", "Scored", "margin", "mixed_script"]

# Word characters that are neither Latin letters, digits nor `_`: Hangul, kana, Han, Cyrillic, Greek, Arabic, ...
_OTHER_SCRIPT = re.compile(r"[^\W\d_\u0041-\u024f\u1e00-\u1eff]")
_OTHER_SCRIPT_LETTERS = 4  # a stray symbol (µ, π) is not a language
_MIXED = re.compile(r"\b(?=[^\W\d_]*[A-Za-z])(?=[^\W\d_]*[\u0370-\u03ff\u0400-\u04ff])[^\W\d_]+")
_DIGIT = re.compile(r"\d")
# Sentences (and lines) the detector is asked about; shorter ones ("hola", "merci") are too few words to tell.
_SENTENCE = re.compile(r"[^\n.!?;:。！？]+")
_MIN_SENTENCE_CHARS = 24
_MIN_SENTENCE_WORDS = 4
_MAX_SENTENCES = 4096  # past this many (a 200 KB text), the rest of a text is not asked about


class LanguageId:
    """fastText's language identification over a text's sentences; `foreign` says whether any is not English."""

    def __init__(self, model_file: Path, *, min_confidence: float = 0.5) -> None:
        self.model_file, self._min_confidence = model_file, min_confidence
        self._model: Any = None

    def load(self) -> None:
        import fasttext  # type: ignore[import-untyped]  # the predict-only build (fasttext-predict)

        if not self.model_file.is_file():
            raise InferenceError(f"language identification model {self.model_file} is missing")
        try:
            self._model = fasttext.load_model(str(self.model_file))
        except ValueError as exc:
            raise InferenceError(f"cannot load {self.model_file}: {exc}") from exc

    def foreign(self, text: str) -> bool:
        if self._model is None:
            raise InferenceError("the language identification model is not loaded")
        letters = itertools.islice(_OTHER_SCRIPT.finditer(text), _OTHER_SCRIPT_LETTERS)  # stops at the 4th
        if sum(1 for _ in letters) == _OTHER_SCRIPT_LETTERS:
            return True
        for count, match in enumerate(_SENTENCE.finditer(text)):
            if count == _MAX_SENTENCES:
                break
            # Numbers and amounts ("$3.50 each") read as any language: the words around them tell.
            words = [word for word in match.group().split() if not _DIGIT.search(word)]
            sentence = " ".join(words)
            if len(words) < _MIN_SENTENCE_WORDS or len(sentence) < _MIN_SENTENCE_CHARS:
                continue
            (label, *_), (confidence, *_) = self._model.predict(sentence, k=1)
            if label != "__label__en" and confidence >= self._min_confidence:
                return True
        return False


def mixed_script(text: str) -> bool:
    """Whether a word mixes Latin letters with Cyrillic or Greek ones: English in disguise, which the scanner has
    read both ways (as written, by the multilingual model when it has enough such letters, and folded)."""
    return _MIXED.search(text) is not None


@dataclasses.dataclass(frozen=True, slots=True)
class Scored:
    score: float
    model: int  # which classifier scored it: 0 the English one, 1 the multilingual one


class RoutedClassifier:
    """Each text scored by the classifier that reads its language (one classifier: every text is its)."""

    def __init__(self, english: SequenceClassifier, multilingual: SequenceClassifier | None = None,
                 language: LanguageId | None = None) -> None:  # fmt: skip
        if (multilingual is None) != (language is None):
            raise ValueError("a multilingual classifier needs a language identification model, and only it")
        self.classifiers = [english] if multilingual is None else [english, multilingual]
        self._language = language

    def load(self) -> None:
        for classifier in self.classifiers:
            classifier.load()
        if self._language is not None:
            self._language.load()

    def route(self, text: str) -> int:
        return 1 if self._language is not None and self._language.foreign(text) else 0

    def score(self, texts: Sequence[str], wanted: Callable[[int], bool] | None = None) -> list[Scored]:
        """On the caller's thread (a worker's: language identification and the forward passes are CPU work)."""
        scored = [Scored(0.0, self.route(text)) for text in texts]
        for model, classifier in enumerate(self.classifiers):
            indices = [index for index, item in enumerate(scored) if item.model == model]
            if not indices:
                continue
            check = functools.partial(_wanted_of, wanted, indices) if wanted is not None else None
            for index, score in zip(indices, classifier.score([texts[i] for i in indices], check), strict=True):
                scored[index] = Scored(score, model)
        return scored


def _wanted_of(wanted: Callable[[int], bool], indices: Sequence[int], local: int) -> bool:
    return wanted(indices[local])


def margin(score: float, line: float) -> float:
    """Where a score sits against its model's line, on one scale for every model (each has its own): -1 at 0, 0 at
    the line, 1 at 1. Monotone in the score, so a model's ranking (and AUC) is unchanged."""
    if score < line:
        return (score - line) / line
    return (score - line) / (1 - line) if line < 1 else 0.0
