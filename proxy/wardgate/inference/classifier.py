"""Sequence classification: the positive label's probability per text, the maximum over its windows."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from wardgate.errors import InferenceError
from wardgate.inference.encoder import EncoderModel
from wardgate.inference.model_dir import ModelConfig

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
        if not texts:
            return []
        best = np.zeros(len(texts))
        positive = self.config.positive_indices
        for batch in self.batches(self.windows(texts), wanted):
            for window, probability in zip(batch, self.probabilities(batch)[:, positive].sum(axis=1), strict=True):
                best[window.text] = max(best[window.text], float(probability))
        return [float(value) for value in best]
