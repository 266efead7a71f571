"""The scan-cost estimate: only new text counts, the rate follows measured scans per tenant, and it is forgotten when
stale."""

from __future__ import annotations

import pytest

from wardgate.models import Segment
from wardgate.pipeline.scan_cost import ScanCost


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def texts(*texts: str, source: str = "prompt", role: str = "user") -> list[Segment]:
    return [Segment(role, source, text, ("messages", i, "content")) for i, text in enumerate(texts)]


def test_only_text_no_completed_scan_read_under_its_role_is_new():
    cost = ScanCost()
    history, turn = texts("a" * 5000, "b" * 6000), texts("c" * 7000)
    assert cost.new_chars(history) == 11_000
    cost.observe("t", history, 11_000, 1.1, completed=True)
    assert cost.new_chars(history + turn) == 7000
    assert cost.new_chars(texts("x" * 9000, source="metadata")) == 0  # ids and enums: the models never read them
    timed_out = texts("d" * 8000)
    cost.observe("t", timed_out, 8000, 5.0, completed=False)
    assert cost.new_chars(timed_out) == 8000  # not read to its end: not remembered
    # A second outside review's finding: text read as an assistant turn (which the injection model does not score)
    # counted as read when resent as user turns, and that scan ran to its timeout every time.
    answer = texts("e" * 6000, role="assistant")
    cost.observe("t", answer, 6000, 0.1, completed=True)
    assert cost.new_chars(answer) == 0
    assert cost.new_chars(texts("e" * 6000)) == 6000


def test_the_rate_comes_from_large_scans_and_a_timeout_raises_it_at_once():
    cost = ScanCost(clock=Clock())
    assert cost.expected_s("t", 100_000) is None  # nothing measured: scanned, and measured
    cost.observe("t", [], 1000, 0.5, completed=True)  # per-request overhead, not a rate
    assert cost.expected_s("t", 100_000) is None
    cost.observe("t", [], 10_000, 0.5, completed=True)
    assert cost.expected_s("t", 100_000) == pytest.approx(5.0)
    assert cost.expected_s("t", 4000) is None  # too little to tell: scanned
    cost.observe("t", [], 100_000, 5.0, completed=False)  # timed out at the budget: at least 50 µs a character
    assert cost.expected_s("t", 100_000) == pytest.approx(5.0)
    cost.observe("t", [], 50_000, 1.0, completed=True)  # a calmer scan moves the rate down, smoothly
    assert 3.0 < cost.expected_s("t", 100_000) < 5.0


def test_one_tenant_s_costly_text_does_not_refuse_another_s():
    """A second outside review's finding: padding that timed out raised one global rate, and every other tenant's
    5 KB prompts were refused for as long as the padding was resent."""
    cost = ScanCost(clock=Clock())
    cost.observe("noisy", [], 4600, 3.0, completed=False)
    assert cost.expected_s("noisy", 5000) == pytest.approx(3.0 / 4600 * 5000)
    assert cost.expected_s("quiet", 5000) is None


def test_a_stale_rate_is_forgotten_so_a_refusal_never_outlives_its_load():
    clock = Clock()
    cost = ScanCost(clock=clock)
    cost.observe("t", [], 10_000, 5.0, completed=False)
    assert cost.expected_s("t", 20_000) == pytest.approx(10.0)
    clock.now += 61
    assert cost.expected_s("t", 20_000) is None
    cost.observe("t", [], 10_000, 0.1, completed=True)  # the next large scan measures it afresh, not averaged in
    assert cost.expected_s("t", 20_000) == pytest.approx(0.2)


def test_without_a_rate_of_its_own_a_tenant_s_text_is_costed_at_a_low_recent_rate():
    """After a quiet minute a 100 KB prompt was scanned to its timeout every time (an outside fault run); costed at
    a low rate of the recent completed scans, it is refused at once when even that cannot judge it in time."""
    clock = Clock()
    cost = ScanCost(clock=clock)
    cost.observe("a", [], 10_000, 0.5, completed=True)
    cost.observe("b", [], 10_000, 0.3, completed=True)
    cost.observe("c", [], 10_000, 9.0, completed=False)  # a timed-out scan says nothing of the floor
    assert cost.expected_s("new", 100_000) == pytest.approx(3.0)
    clock.now += 61
    assert cost.expected_s("a", 100_000) == pytest.approx(3.0)
    # One scan that read as almost free (its texts remembered by the scanners) does not lower the floor for good.
    for _ in range(20):
        cost.observe("d", [], 10_000, 0.4, completed=True)
    cost.observe("e", [], 10_000, 0.0001, completed=True)
    assert cost.expected_s("new", 100_000) == pytest.approx(4.0)  # the tenth percentile of 23 rates: 0.4 s per 10k
