"""The ONNX tagger's reading of a text, asked for before Presidio reads it.

Presidio calls its recognizers one after another, so the tagger's forward pass used to start only after spaCy and the
pattern recognizers had read the text, on the same worker: one unique 1 KB prompt took ~17 ms of spaCy and patterns,
then ~25 ms of tagger. Asked for as the scan starts, the pass runs on the batcher's thread beside them, and the
recognizer picks up its result (or, for a text nobody asked for in advance, runs it as before).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Iterable, Sequence

from wardgate.inference import DynamicBatcher, EntitySpan

__all__ = ["TaggerPrefetch"]

type _Reading = concurrent.futures.Future[list[list[EntitySpan]]]


class TaggerPrefetch:
    """The recognizer's `predict` (called on Presidio's worker threads) and the scanner's `start`/`release` (called on
    the event loop). Texts are counted: two scans of the same text share one pass, and a pass nobody waits for any
    more is cancelled (the batcher skips a cancelled caller's texts)."""

    def __init__(self, batcher: DynamicBatcher[list[EntitySpan]]) -> None:
        self._batcher = batcher
        self._started: dict[str, tuple[_Reading, int]] = {}  # changed on the loop's thread only

    def bind(self) -> None:
        self._batcher.bind()

    def start(self, texts: Iterable[str]) -> list[str]:
        """Ask for these texts' readings now; the caller `release`s what this returns when its scan ends."""
        loop = asyncio.get_running_loop()
        if not self._batcher.serves(loop):  # bound to an earlier loop (tests): the recognizer runs the tagger itself
            return []
        started = []
        for text in dict.fromkeys(texts):
            reading, count = self._started.get(text) or (
                asyncio.run_coroutine_threadsafe(self._batcher.score([text]), loop),
                0,
            )
            self._started[text] = (reading, count + 1)
            started.append(text)
        return started

    def release(self, texts: Sequence[str]) -> None:
        for text in texts:
            reading, count = self._started[text]
            if count > 1:
                self._started[text] = (reading, count - 1)
                continue
            del self._started[text]
            reading.cancel()

    def __call__(self, text: str) -> list[EntitySpan]:
        started = self._started.get(text)
        if started is None:
            return self._batcher.run_blocking([text])[0]
        return started[0].result()[0]

    def close(self) -> None:
        self._batcher.close()
