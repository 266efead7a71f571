"""One scan budget per judgement on a worker thread: nested budgets keep the sooner end, and it ends with its block."""

from __future__ import annotations

import threading
import time

import pytest

from wardgate.errors import ScannerError
from wardgate.scanners import deadline


def test_outside_a_budget_nothing_is_spent():
    assert not deadline.spent()
    deadline.check("anything")


def test_a_budget_is_spent_when_its_time_is_up_and_ends_with_its_block():
    with deadline.budget(0.05):
        assert not deadline.spent()
        time.sleep(0.06)
        assert deadline.spent()
        with pytest.raises(ScannerError, match="injection scanner: the judgement's scan budget of 50 ms is spent"):
            deadline.check("injection scanner")
    assert not deadline.spent()


def test_a_budget_inside_another_cannot_outlast_it():
    """A batch's budget bounds the whole batch, however its parts open their own."""
    with deadline.budget(0.05):
        with deadline.budget(10):
            time.sleep(0.06)
            assert deadline.spent()
        with deadline.budget(0.01):
            assert deadline.spent()


def test_an_abandoned_budget_is_spent_at_once_inside_and_in_the_budgets_it_holds():
    """A stream's client reset its stream: the chunk's judgement stops at its next check, not at its time."""
    abandoned = threading.Event()
    with deadline.budget(60, abandoned), deadline.budget(30):  # a scanner's own budget inside the chunk's
        assert not deadline.spent()
        abandoned.set()
        assert deadline.spent()
        with pytest.raises(ScannerError, match="PII analysis: the judgement was given up"):
            deadline.check("PII analysis")
    assert not deadline.spent()
