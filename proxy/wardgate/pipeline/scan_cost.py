"""How long the scanners will take over a request's new text, learned from the scans themselves.

A request whose new text would not be scanned within the scan budget is refused at once (413 `scan_budget_exceeded`)
instead of after the budget is spent: on a 2-core VM a 100 KB prompt held both cores for the whole 5 s budget and was
refused all the same. Only new text counts: a text that a completed scan read before (a chat's history, an answer
sent back as a turn) is cheap, since every scanner remembers its result for it.

The rate is seconds of scan per character, measured on scans of enough new text that per-request overhead does not
dominate, so it follows the load and the hardware (a GPU, or a busy pod). A rate older than `_STALE_S` is forgotten:
the next large request is scanned and measures it again, so a refusal never outlives the load that caused it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from wardgate.models import Segment
from wardgate.scanners.memo import TextMemo

__all__ = ["ScanCost"]

# Scans of less new text than this say more about per-request overhead than about the rate per character.
_SAMPLE_CHARS = 4096
# Weight of the newest sample in the moving average.
_SMOOTHING = 0.3
_STALE_S = 60.0
# Sources the scanners with a per-character cost (the models) never read.
_UNSCANNED_SOURCES = frozenset(("metadata", "header"))


class ScanCost:
    def __init__(self, remembered: int = 16_384, clock: Callable[[], float] = time.monotonic) -> None:
        self._scanned: TextMemo[bool] = TextMemo(remembered)
        self._clock = clock
        self._lock = threading.Lock()
        self.seconds_per_char: float | None = None
        self._measured_at = -float("inf")

    def new_chars(self, segments: Sequence[Segment]) -> int:
        """Characters of the texts no completed scan has read."""
        return sum(
            len(s.text)
            for s in segments
            if s.source not in _UNSCANNED_SOURCES and s.text and not self._scanned.get(TextMemo.key(s.text))
        )

    def expected_s(self, new_chars: int) -> float | None:
        """The scan's expected duration; None while no recent scan measured the rate, or for too little text."""
        with self._lock:
            fresh = self._clock() - self._measured_at <= _STALE_S
            if new_chars < _SAMPLE_CHARS or self.seconds_per_char is None or not fresh:
                return None
            return new_chars * self.seconds_per_char

    def observe(self, segments: Sequence[Segment], new_chars: int, elapsed_s: float, *, completed: bool) -> None:
        """A scan of `segments` (`new_chars` of them new) took `elapsed_s`; one that did not complete (timed out) took
        at least that. A completed scan's texts are remembered as read."""
        if completed:
            for segment in segments:
                if segment.source not in _UNSCANNED_SOURCES and segment.text:
                    self._scanned.put(TextMemo.key(segment.text), True)
        if new_chars < _SAMPLE_CHARS:
            return
        sample, now = elapsed_s / new_chars, self._clock()
        with self._lock:
            stale = now - self._measured_at > _STALE_S
            if self.seconds_per_char is None or stale:
                self.seconds_per_char = sample
            elif not completed:  # a lower bound: the estimate is at least this at once, or it would admit the next
                self.seconds_per_char = max(self.seconds_per_char, sample)
            else:
                self.seconds_per_char += _SMOOTHING * (sample - self.seconds_per_char)
            self._measured_at = now
