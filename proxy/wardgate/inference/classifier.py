"""Sequence classification: the positive label's probability per text, the maximum over its windows (and, for a
model that asks for it, confirmed sentence by sentence)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from wardgate.errors import InferenceError
from wardgate.inference.encoder import EncoderModel
from wardgate.inference.model_dir import ModelConfig
from wardgate.inference.sentences import sentences

__all__ = ["SequenceClassifier"]


class SequenceClassifier(EncoderModel[ModelConfig]):
    schema = ModelConfig

    def _warm_up(self) -> None:
        self.score(["warm-up " * 8, "warm-up"])

    def score(self, texts: Sequence[str], wanted: Callable[[int], bool] | None = None) -> list[float]:
        """Probability of the positive label per text. Thread-safe (ONNX Runtime sessions are). A text no longer
        `wanted` (checked between forward passes) is left unscored."""
        if self.config is None:
            raise InferenceError("the model is not loaded")
        scores = self._best_windows(texts, wanted)
        if self.config.confirm_by_sentence:
            self._confirm(texts, scores, self.config.lowest_line, wanted)
        return [float(value) for value in scores]

    def _best_windows(self, texts: Sequence[str], wanted: Callable[[int], bool] | None) -> np.ndarray:
        best = np.zeros(len(texts))
        if not texts:
            return best
        assert self.config is not None
        positive = self.config.positive_indices
        for batch in self.batches(self.windows(texts), wanted):
            for window, probability in zip(batch, self.probabilities(batch)[:, positive].sum(axis=1), strict=True):
                best[window.text] = max(best[window.text], float(probability))
        return best

    def _confirm(
        self, texts: Sequence[str], scores: np.ndarray, floor: float, wanted: Callable[[int], bool] | None
    ) -> None:
        """A text of several sentences that scores `floor` or more keeps its best sentence's score if that is lower:
        a window model that learned from short texts scores long ordinary prose high as a whole while each of its
        sentences scores low, and an instruction planted in prose is a sentence or two that scores high alone
        (models/injection/MODEL_CARD.md). Texts under the floor keep their windows' score, which is never lower."""
        pieces: list[str] = []
        owners: list[int] = []
        for index, text in enumerate(texts):
            if scores[index] >= floor and len(parts := sentences(text)) > 1:
                pieces += parts
                owners += [index] * len(parts)
        if not pieces:
            return
        best = self._best_windows(pieces, None if wanted is None else lambda piece: wanted(owners[piece]))
        confirmed: dict[int, float] = {}
        for owner, score in zip(owners, best, strict=True):
            confirmed[owner] = max(confirmed.get(owner, 0.0), float(score))
        for owner, score in confirmed.items():
            scores[owner] = min(scores[owner], score)
