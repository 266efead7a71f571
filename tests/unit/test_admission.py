"""Admission: the queue is bounded by how long it takes to drain, so refusals under overload are immediate."""

from __future__ import annotations

import asyncio
import time

import pytest

from wardgate.pipeline.admission import Admission, Overloaded


async def hold(admission: Admission, seconds: float) -> None:
    async with admission.slot():
        await asyncio.sleep(seconds)


async def refused_behind_one(admission: Admission) -> Overloaded:
    """With the slot taken and one request queued, the next one's refusal."""
    async with admission.slot():
        first = asyncio.ensure_future(hold(admission, 0))
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded) as refused:
            async with admission.slot():
                pass
    await first
    return refused.value


async def test_a_queue_that_would_not_drain_in_time_refuses_on_arrival():
    admission = Admission(concurrent=1, queue=100, wait_s=1.0)
    admission._measured(0.5, 0)  # as measured: each place in the queue has taken half a second to drain
    async with admission.slot():
        queued = [asyncio.ensure_future(hold(admission, 0)) for _ in range(2)]  # drain in 0.5 s and 1 s: they wait
        await asyncio.sleep(0.01)
        assert admission.waiting == 2
        assert admission.saturated  # a third would not drain within the bound: /readyz says so
        started = time.monotonic()
        with pytest.raises(Overloaded) as refused:
            async with admission.slot():
                pass
        assert time.monotonic() - started < 0.05  # refused at once, not after waiting out wait_s
        assert refused.value.retry_after_s == 1  # drains in 1.5 s by the estimate, but no wait outlasts wait_s (1 s)
    await asyncio.gather(*queued)  # the two that were admitted to the queue are served
    assert admission.waiting == admission.active == 0


async def test_while_refusing_the_queue_takes_only_what_drains_in_half_the_wait():
    admission = Admission(concurrent=1, queue=100, wait_s=1.0)
    admission._measured(0.3, 0)
    async with admission.slot():
        first = asyncio.ensure_future(hold(admission, 0))  # drains in 0.3 s
        await asyncio.sleep(0.01)
        assert not admission.saturated  # a second would drain in 0.6 s, within the wait
        admission._refused("a refusal a moment ago")
        assert admission.saturated  # now only 0.5 s: the second is refused at once
    await first


async def test_a_rate_measured_long_ago_does_not_bound_the_next_burst():
    admission = Admission(concurrent=1, queue=100, wait_s=1.0)
    admission._measured(5.0, 0)  # a very slow minute, long past
    admission._measured_at -= 60
    async with admission.slot():
        assert admission.drain_s(10) == 0
        assert not admission.saturated
    admission._measured(0.01, 0)  # the next measurement starts afresh: the old rate is not averaged back in
    assert admission.place_s == 0.01


async def test_one_request_always_queues_so_an_old_estimate_cannot_refuse_for_ever():
    admission = Admission(concurrent=1, queue=100, wait_s=1.0)
    admission._measured(5.0, 0)  # estimate from the overload: 5 s a place
    admission._refused("during the overload")
    async with admission.slot():
        probe = asyncio.ensure_future(hold(admission, 0))  # nobody waiting: it queues and re-measures
        await asyncio.sleep(0.01)
        assert admission.waiting == 1
    await probe
    assert admission.place_s < 5.0


async def test_retry_after_never_exceeds_the_longest_wait():
    admission = Admission(concurrent=1, queue=100, wait_s=2.0)
    admission._measured(3.0, 0)
    assert (await refused_behind_one(admission)).retry_after_s == 2  # not 6: every queued request leaves in wait_s


async def test_a_burst_the_slots_drain_in_time_is_served_not_refused():
    admission = Admission(concurrent=2, queue=32, wait_s=2.0)
    await asyncio.gather(*(hold(admission, 0.02) for _ in range(24)))  # an agent's fan-out: 12 rounds of 20 ms
    assert admission.place_s is not None
    assert 0.005 < admission.place_s < 0.1  # ~10 ms a place with two slots


async def test_before_any_scan_is_measured_only_the_places_bound_the_queue():
    admission = Admission(concurrent=1, queue=1, wait_s=5.0)
    assert (await refused_behind_one(admission)).retry_after_s == 1
    assert admission.place_s is not None  # the first wait is measured


async def test_refuse_now_answers_without_queueing_and_counts_as_a_refusal():
    admission = Admission(concurrent=1, queue=1, wait_s=1.0)
    assert admission.refuse_now() is None  # a free slot
    async with admission.slot():
        assert admission.refuse_now() is None  # nobody waiting: it would queue
        queued = asyncio.ensure_future(hold(admission, 0))
        await asyncio.sleep(0.01)
        refused = admission.refuse_now()  # the queue is full
        assert isinstance(refused, Overloaded)
        assert refused.retry_after_s >= 1
        assert admission.waiting == 1  # it took no place
        assert admission.saturated
    await queued
