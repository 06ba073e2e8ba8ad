"""The fair scheduler: capacity is never exceeded and one member's burst cannot starve another."""

from __future__ import annotations

import asyncio

import pytest

from bot.jobs.scheduler import FairScheduler


async def test_never_more_than_capacity_in_flight() -> None:
    scheduler = FairScheduler(3)
    in_flight = 0
    peak = 0
    gate = asyncio.Event()

    async def job(owner: int) -> None:
        nonlocal in_flight, peak
        async with scheduler.slot(owner):
            in_flight += 1
            peak = max(peak, in_flight)
            await gate.wait()
            in_flight -= 1

    tasks = [asyncio.create_task(job(i % 5)) for i in range(20)]
    await asyncio.sleep(0)
    assert scheduler.running == 3
    assert scheduler.waiting == 17
    gate.set()
    await asyncio.gather(*tasks)
    assert peak == 3
    assert scheduler.running == 0 and scheduler.waiting == 0


async def test_a_burst_from_one_member_delays_another_by_at_most_one_slot() -> None:
    scheduler = FairScheduler(1)
    order: list[str] = []

    async def job(name: str, owner: str) -> None:
        async with scheduler.slot(owner):
            order.append(name)

    # Member A queues ten jobs, then member B queues one.
    blocker = scheduler.enqueue("A")
    await scheduler.wait(blocker)
    a_jobs = [asyncio.create_task(job(f"a{i}", "A")) for i in range(10)]
    await asyncio.sleep(0)
    b_job = asyncio.create_task(job("b", "B"))
    await asyncio.sleep(0)
    scheduler.release(blocker)
    await asyncio.gather(*a_jobs, b_job)
    assert order.index("b") <= 1, order


async def test_position_reflects_round_robin_order() -> None:
    scheduler = FairScheduler(1)
    holder = scheduler.enqueue("x")
    a1, a2 = scheduler.enqueue("A"), scheduler.enqueue("A")
    b1 = scheduler.enqueue("B")
    assert scheduler.position(holder) == 0
    assert [scheduler.position(t) for t in (a1, b1, a2)] == [1, 2, 3]
    scheduler.release(holder)
    assert scheduler.position(a1) == 0
    assert [scheduler.position(t) for t in (b1, a2)] == [1, 2]


async def test_cancelled_waiter_leaves_the_line_and_frees_nothing_twice() -> None:
    scheduler = FairScheduler(1)
    holder = scheduler.enqueue("x")
    waiter = scheduler.enqueue("A")
    task = asyncio.create_task(scheduler.wait(waiter))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    scheduler.release(waiter)
    assert scheduler.waiting == 0
    scheduler.release(holder)
    assert scheduler.running == 0
    again = scheduler.enqueue("B")
    assert scheduler.position(again) == 0 and scheduler.running == 1


async def test_a_waiter_cancelled_as_a_slot_frees_loses_nothing() -> None:
    """A slot freed in the same turn as a waiter is cancelled goes to the next in line,
    not to the cancelled waiter (which would lose the slot for good)."""
    scheduler = FairScheduler(1)
    holder = scheduler.enqueue("x")
    cancelled = scheduler.enqueue("A")
    behind = scheduler.enqueue("B")
    waiting = asyncio.create_task(scheduler.wait(cancelled))
    await asyncio.sleep(0)
    waiting.cancel()  # the waiter goes away...
    with pytest.raises(asyncio.CancelledError):
        await waiting
    scheduler.release(holder)  # ...and a slot frees before it called release()
    scheduler.release(cancelled)
    await asyncio.wait_for(scheduler.wait(behind), timeout=1)
    assert scheduler.running == 1
    scheduler.release(behind)
    assert scheduler.running == 0 and scheduler.waiting == 0
