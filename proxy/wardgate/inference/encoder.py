"""What every ONNX encoder model shares: its directory, tokenizer, session, windows for long texts, and a forward pass.

No padding to a fixed length: callers sort windows by length and batch neighbours, so each batch is padded only to
its own longest window.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from wardgate.errors import InferenceError
from wardgate.inference.model_dir import read_model_config
from wardgate.inference.session import create_session

__all__ = ["EncoderModel", "Window"]


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    text: int  # index of the text this window belongs to
    ids: list[int]
    type_ids: list[int]
    offsets: list[tuple[int, int]]  # character span of each token in its text; (0, 0) for special tokens
    special: list[int]  # 1 for [CLS]/[SEP]


class EncoderModel[C: Any]:
    """Construct cheaply; `load()` reads the model (and warms it up) so readiness can report it."""

    schema: type[C]

    def __init__(
        self,
        directory: Path,
        *,
        device: str = "auto",
        threads: int = 0,
        batch_size: int = 32,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        """`overrides` replace values of the model's config.json (e.g. `threshold`, `positive_label`)."""
        self.directory = directory
        self._device, self._threads, self.batch_size = device, threads, batch_size
        self._overrides = dict(overrides or {})
        self.config: C | None = None
        self._session: Any = None
        self._tokenizer: Tokenizer | None = None
        self._inputs: set[str] = set()

    @property
    def provider(self) -> str:
        return str(self._session.get_providers()[0]) if self._session is not None else "none"

    def load(self) -> None:
        config = read_model_config(self.directory, self.schema, **self._overrides)
        model_file = self.directory / config.model_file
        tokenizer_file = self.directory / config.tokenizer_file
        for required in (model_file, tokenizer_file):
            if not required.is_file():
                raise InferenceError(f"model directory {self.directory}: {required.name} is missing")
        try:
            tokenizer = Tokenizer.from_file(str(tokenizer_file))
        except Exception as exc:  # tokenizers raises a bare Exception on a corrupt file
            raise InferenceError(f"cannot load tokenizer {tokenizer_file}: {exc}") from exc
        tokenizer.no_padding()
        tokenizer.enable_truncation(config.max_length, stride=config.stride)
        session = create_session(model_file, device=self._device, threads=self._threads)
        self._inputs = {node.name for node in session.get_inputs()}
        if "input_ids" not in self._inputs:
            raise InferenceError(f"{model_file.name} has no `input_ids` input: not an encoder export")
        self.config, self._tokenizer, self._session = config, tokenizer, session
        self._warm_up()

    def _warm_up(self) -> None:
        self.windows(["warm-up " * 8, "warm-up"])

    def windows(self, texts: Sequence[str]) -> list[Window]:
        """Every text's windows (one unless it is longer than max_length), sorted by length for batching."""
        if self._tokenizer is None:
            raise InferenceError("the model is not loaded")
        windows = []
        for index, encoding in enumerate(self._tokenizer.encode_batch(list(texts))):
            for part in (encoding, *encoding.overflowing):
                windows.append(Window(index, part.ids, part.type_ids, part.offsets, part.special_tokens_mask))
        return sorted(windows, key=lambda window: len(window.ids))

    def probabilities(self, batch: Sequence[Window]) -> np.ndarray:
        """Softmax over the model's labels: (batch, labels) for a classifier, (batch, tokens, labels) for a tagger."""
        longest = max(len(window.ids) for window in batch)
        ids = np.zeros((len(batch), longest), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, window in enumerate(batch):
            ids[row, : len(window.ids)] = window.ids
            mask[row, : len(window.ids)] = 1
            types[row, : len(window.type_ids)] = window.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        try:
            logits = self._session.run(None, {name: value for name, value in feed.items() if name in self._inputs})[0]
        except Exception as exc:  # onnxruntime's own errors (bad shapes, device faults)
            raise InferenceError(f"inference failed: {exc}") from exc
        shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return np.asarray(shifted / shifted.sum(axis=-1, keepdims=True), dtype=np.float64)

    def batches(self, windows: Sequence[Window]) -> list[Sequence[Window]]:
        return [windows[start : start + self.batch_size] for start in range(0, len(windows), self.batch_size)]
