"""How long the scanners will take over a request's new text, learned from the scans themselves.

A request whose new text would not be scanned within the scan budget is refused at once (413 `scan_budget_exceeded`)
instead of after the budget is spent: on a 2-core VM a 100 KB prompt held both cores for the whole 5 s budget and was
refused all the same. Only new text counts: a text that a completed scan read before under the same role and source
(a chat's history) is cheap, since every scanner remembers its result for it. Under another role it is new: the
injection model reads user turns, not assistant ones, so an assistant turn's text resent as a user turn costs a
forward pass (a second outside review counted such text as read, and the scan then ran to its timeout every time).

The rate is seconds of scan per character, measured on scans of enough new text that per-request overhead does not
dominate, per tenant: it follows the load and the hardware (a GPU, a busy pod), and one tenant's costly text (slow
scripts, padding) cannot get another tenant's requests refused. A rate older than `_STALE_S` is forgotten: the
tenant's next large request is scanned and measures it again, so a refusal never outlives the load that caused it.
Without a rate of its own, a tenant's text is costed at a low rate of the recent completed scans (their tenth
percentile): few scans are cheaper, so it refuses only what cannot be judged in time on idle cores (an outside fault
run: after a quiet minute a 100 KB prompt ran its 5 s to a 503 and 5 CPU-seconds, every time). Not their minimum:
one scan whose texts the scanners remembered reads as almost free, and would have lowered the floor for good.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Sequence

from cachetools import TTLCache

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
# No more texts remembered than the smallest scanner memo holds (PII's default): a text this remembers as read but a
# scanner has forgotten would be scanned in full, its time charged to too few characters.
_REMEMBERED = 4096
_TENANTS = 10_000
_RECENT = 64  # completed scans whose rates set the floor


class ScanCost:
    def __init__(self, remembered: int = _REMEMBERED, clock: Callable[[], float] = time.monotonic) -> None:
        self._scanned: TextMemo[bool] = TextMemo(remembered)
        self._lock = threading.Lock()
        # tenant → seconds of scan per new character; an entry lives _STALE_S from its last sample
        self._rates: TTLCache[str, float] = TTLCache(_TENANTS, _STALE_S, timer=clock)
        self._recent: collections.deque[float] = collections.deque(maxlen=_RECENT)  # completed scans' rates

    def new_chars(self, segments: Sequence[Segment]) -> int:
        """Characters of the texts no completed scan has read (under the same role and source)."""
        return sum(len(s.text) for s in segments if s.source not in _UNSCANNED_SOURCES and s.text and not self._read(s))

    def expected_s(self, tenant: str, new_chars: int) -> float | None:
        """The scan's expected duration; None while no scan measured a rate, or for too little text."""
        if new_chars < _SAMPLE_CHARS:
            return None
        with self._lock:
            rate = self._rates.get(tenant, self._floor())
        return None if rate is None else new_chars * rate

    def observe(
        self, tenant: str, segments: Sequence[Segment], new_chars: int, elapsed_s: float, *, completed: bool
    ) -> None:
        """A scan of `segments` (`new_chars` of them new) took `elapsed_s`; one that did not complete (timed out) took
        at least that. A completed scan's texts are remembered as read."""
        if completed:
            for segment in segments:
                if segment.source not in _UNSCANNED_SOURCES and segment.text:
                    self._scanned.put(_key(segment), True)
        if new_chars < _SAMPLE_CHARS:
            return
        sample = elapsed_s / new_chars
        with self._lock:
            if completed:
                self._recent.append(sample)
            rate = self._rates.get(tenant)
            if rate is None:
                rate = sample
            elif not completed:  # a lower bound: the estimate is at least this at once, or it would admit the next
                rate = max(rate, sample)
            else:
                rate += _SMOOTHING * (sample - rate)
            self._rates[tenant] = rate  # set again: the rate lives _STALE_S from this sample

    def _floor(self) -> float | None:
        """The tenth percentile of the recent completed scans' rates (called under the lock)."""
        return sorted(self._recent)[len(self._recent) // 10] if self._recent else None

    def _read(self, segment: Segment) -> bool:
        return bool(self._scanned.get(_key(segment)))


def _key(segment: Segment) -> bytes:
    return TextMemo.key(f"{segment.role}\x00{segment.source}\x00{segment.text}")
