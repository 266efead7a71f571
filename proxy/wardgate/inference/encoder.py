"""What every ONNX encoder model shares: its directory, tokenizer, session, windows for long texts, and a forward pass.

No padding to a fixed length: windows are sorted by length and neighbours batched, so each batch is padded only to
its own longest window, and a much longer window starts a batch of its own.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from wardgate.errors import InferenceError
from wardgate.inference.model_dir import read_model_config
from wardgate.inference.session import create_session, cuda_offered, on_cuda

__all__ = ["EncoderModel", "Window"]

logger = logging.getLogger(__name__)

# A forward pass costs about as much as this many padding tokens (int8 MiniLM, one thread, AVX2 EPYC: a 20-token
# window alone 17-19 ms, eight in one pass 110-134 ms). Splitting where padding would cost more took a 1 KB text's
# three windows (44, 128, 128 tokens) from 298 to 240 ms of CPU, and 32 windows of 10-128 tokens from 3.3 to 1.9 s.
_PASS_COST_TOKENS = 16
# Windows per forward pass. On a CPU a pass of 32 windows of 128 tokens cost more per window than one of 4-8 (about
# 33-38 against 27-31 ms for both models, one thread, this AVX512 EPYC) and kept ~340 MB in ONNX Runtime's arena
# after a 100 KB text (80 MB at 8): an outside fault run saw +389 MB never given back. A GPU wants wide batches.
_CPU_BATCH, _CUDA_BATCH = 8, 32


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
        batch_size: int | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        """`overrides` replace values of the model's config.json (e.g. `threshold`, `positive_label`); `batch_size`:
        windows per forward pass (default: by device, once loaded)."""
        self.directory = directory
        self._device, self._threads, self._batch_size = device, threads, batch_size
        self.batch_size = batch_size or _CPU_BATCH
        self._overrides = dict(overrides or {})
        self.config: C | None = None
        self._session: Any = None
        self._tokenizer: Tokenizer | None = None
        self._inputs: set[str] = set()
        self.model_file: Path | None = None  # the graph being served, once loaded

    @property
    def provider(self) -> str:
        return str(self._session.get_providers()[0]) if self._session is not None else "none"

    @property
    def serving(self) -> str:
        """Which graph runs where, e.g. `model.int8.onnx on CPUExecutionProvider`."""
        return f"{self.model_file.name} on {self.provider}" if self.model_file is not None else "nothing (not loaded)"

    def load(self) -> None:
        config = read_model_config(self.directory, self.schema, **self._overrides)
        model_file, tokenizer_file = self._required(config.model_file), self._required(config.tokenizer_file)
        try:
            tokenizer = Tokenizer.from_file(str(tokenizer_file))
        except Exception as exc:  # tokenizers raises a bare Exception on a corrupt file
            raise InferenceError(f"cannot load tokenizer {tokenizer_file}: {exc}") from exc
        tokenizer.no_padding()
        tokenizer.enable_truncation(config.max_length, stride=config.stride)
        served, session = self._open_session(config, model_file)
        self._inputs = {node.name for node in session.get_inputs()}
        if "input_ids" not in self._inputs:
            raise InferenceError(f"{served.name} has no `input_ids` input: not an encoder export")
        self.config, self._tokenizer, self._session, self.model_file = config, tokenizer, session, served
        self.batch_size = self._batch_size or (_CUDA_BATCH if on_cuda(session) else _CPU_BATCH)
        self._warm_up()

    def _required(self, name: str) -> Path:
        path = self.directory / name
        if not path.is_file():
            raise InferenceError(f"model directory {self.directory}: {name} is missing")
        return path

    def _open_session(self, config: C, model_file: Path) -> tuple[Path, Any]:
        """The CUDA graph when a CUDA session really starts, else `model_file`.

        ONNX Runtime has CPU kernels only for int8 matrix products (MatMulIntegerToFloat): an int8 graph on CUDA
        runs them on the CPU with a copy each way, so a GPU is better served by the fp32 graph.
        """
        device = self._device
        if config.cuda_model_file and config.cuda_model_file != config.model_file and cuda_offered(device):
            cuda_file = self._required(config.cuda_model_file)
            session = create_session(cuda_file, device=device, threads=self._threads)
            if on_cuda(session):
                return cuda_file, session
            logger.warning("CUDA provider did not start for %s; serving %s on CPU", cuda_file.name, config.model_file)
            device = "cpu"
        return model_file, create_session(model_file, device=device, threads=self._threads)

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

    def batches(self, windows: Sequence[Window], wanted: Callable[[int], bool] | None = None) -> Iterator[list[Window]]:
        """Forward-pass batches of the windows (sorted by length), each made just before it runs from the windows
        whose text is still `wanted`: a long text whose caller is gone stops costing anything after the pass that is
        running. A longer window starts a new batch when padding the batch's windows to it would cost more than
        another pass does."""
        batch: list[Window] = []
        for window in windows:
            if wanted is not None and not wanted(window.text):
                continue
            padding = len(batch) * (len(window.ids) - len(batch[-1].ids)) if batch else 0
            if batch and (len(batch) == self.batch_size or padding > _PASS_COST_TOKENS):
                yield batch
                batch = []
                if wanted is not None and not wanted(window.text):  # asked again: the pass took a while
                    continue
            batch.append(window)
        if batch:
            yield batch
