"""Token classification (NER): BIO tags per word piece → entity spans in character offsets.

Long texts are windowed like the classifier's; where windows overlap, a token keeps the prediction its most
confident window gave it. Spans are widened to whole words so a name is never half masked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from wardgate.errors import InferenceError
from wardgate.inference.encoder import EncoderModel
from wardgate.inference.model_dir import TaggerConfig

__all__ = ["EntitySpan", "TokenClassifier"]


@dataclasses.dataclass(frozen=True, slots=True)
class EntitySpan:
    entity: str  # the mapped entity name, e.g. PERSON
    start: int
    end: int
    score: float


@dataclasses.dataclass(slots=True)
class _Token:
    start: int
    end: int
    label: str
    probability: float


def _split_tag(label: str) -> tuple[str, str | None]:
    """("B", "PER") for B-PER, ("I", "PER") for a bare IO tag PER, ("O", None) for O."""
    if label == "O":
        return "O", None
    prefix, separator, kind = label.partition("-")
    return (prefix, kind) if separator and prefix in {"B", "I", "E", "S"} else ("I", label)


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return start, end


class TokenClassifier(EncoderModel[TaggerConfig]):
    schema = TaggerConfig

    def _warm_up(self) -> None:
        self.predict(["warm-up " * 8, "warm-up"])

    def predict(self, texts: Sequence[str], wanted: Callable[[int], bool] | None = None) -> list[list[EntitySpan]]:
        """The entities in each text. Thread-safe (ONNX Runtime sessions are). A text no longer `wanted` (checked
        between forward passes) is left half read."""
        if self.config is None:
            raise InferenceError("the model is not loaded")
        labels = self.config.labels
        tokens: list[dict[int, _Token]] = [{} for _ in texts]
        for batch in self.batches(self.windows(texts), wanted):
            for window, rows in zip(batch, self.probabilities(batch), strict=True):
                for (start, end), special, row in zip(window.offsets, window.special, rows, strict=False):
                    if special or end <= start:
                        continue
                    best = int(row.argmax())
                    seen = tokens[window.text].get(start)
                    if seen is None or row[best] > seen.probability:
                        tokens[window.text][start] = _Token(start, end, labels[best], float(row[best]))
        return [self._entities(text, found) for text, found in zip(texts, tokens, strict=True)]

    def _entities(self, text: str, tokens: dict[int, _Token]) -> list[EntitySpan]:
        assert self.config is not None
        groups: list[tuple[str, list[_Token]]] = []
        previous_end = -1
        for token in sorted(tokens.values(), key=lambda t: t.start):
            prefix, kind = _split_tag(token.label)
            if kind is None:
                previous_end = token.end
                groups.append(("O", []))
                continue
            current = groups[-1] if groups else None
            # A B- tag inside a word (a later word piece) continues the word's entity instead of starting one.
            starts_new = prefix in {"B", "S"} and token.start > previous_end
            if current is None or current[0] != kind or starts_new:
                groups.append((kind, [token]))
            else:
                current[1].append(token)
            previous_end = token.end
        entities = []
        for kind, members in groups:
            entity = self.config.entities.get(kind)
            if not members or entity is None:
                continue
            score = sum(token.probability for token in members) / len(members)
            if score >= self.config.threshold:
                start, end = _whole_words(text, members[0].start, members[-1].end)
                entities.append(EntitySpan(entity, start, end, score))
        return entities
