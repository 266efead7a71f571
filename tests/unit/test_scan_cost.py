"""The scan-cost estimate: only new text counts, the rate follows measured scans, and it is forgotten when stale."""

from __future__ import annotations

import pytest

from wardgate.models import Segment
from wardgate.pipeline.scan_cost import ScanCost


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def texts(*texts: str, source: str = "prompt") -> list[Segment]:
    return [Segment("user", source, text, ("messages", i, "content")) for i, text in enumerate(texts)]


def test_only_text_no_completed_scan_read_is_new():
    cost = ScanCost()
    history, turn = texts("a" * 5000, "b" * 6000), texts("c" * 7000)
    assert cost.new_chars(history) == 11_000
    cost.observe(history, 11_000, 1.1, completed=True)
    assert cost.new_chars(history + turn) == 7000
    assert cost.new_chars(texts("x" * 9000, source="metadata")) == 0  # ids and enums: the models never read them
    timed_out = texts("d" * 8000)
    cost.observe(timed_out, 8000, 5.0, completed=False)
    assert cost.new_chars(timed_out) == 8000  # not read to its end: not remembered


def test_the_rate_comes_from_large_scans_and_a_timeout_raises_it_at_once():
    cost = ScanCost(clock=Clock())
    assert cost.expected_s(100_000) is None  # nothing measured: scanned, and measured
    cost.observe([], 1000, 0.5, completed=True)  # per-request overhead, not a rate
    assert cost.expected_s(100_000) is None
    cost.observe([], 10_000, 0.5, completed=True)
    assert cost.expected_s(100_000) == pytest.approx(5.0)
    assert cost.expected_s(4000) is None  # too little to tell: scanned
    cost.observe([], 100_000, 5.0, completed=False)  # timed out at the budget: at least 50 µs a character
    assert cost.expected_s(100_000) == pytest.approx(5.0)
    cost.observe([], 50_000, 1.0, completed=True)  # a calmer scan moves the rate down, smoothly
    assert 3.0 < cost.expected_s(100_000) < 5.0


def test_a_stale_rate_is_forgotten_so_a_refusal_never_outlives_its_load():
    clock = Clock()
    cost = ScanCost(clock=clock)
    cost.observe([], 10_000, 5.0, completed=False)
    assert cost.expected_s(20_000) == pytest.approx(10.0)
    clock.now += 61
    assert cost.expected_s(20_000) is None
    cost.observe([], 10_000, 0.1, completed=True)  # the next large scan measures it afresh, not averaged with the old
    assert cost.expected_s(20_000) == pytest.approx(0.2)
