"""A fair concurrency limiter: at most N generations in flight, waiting members served in turn.

A plain semaphore is first-come-first-served, so one member who queues ten images
makes everyone behind them wait for all ten. Here waiting jobs are grouped by owner
and slots are handed out round-robin across owners, so a burst from one member
delays another member's single job by at most one slot.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass(eq=False)
class Ticket:
    owner: Hashable
    released: bool = False
    granted: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class FairScheduler:
    """Hands out ``capacity`` slots, round-robin between owners while any are waiting."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._running = 0
        self._queues: dict[Hashable, deque[Ticket]] = {}
        self._turns: deque[Hashable] = deque()

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def position(self, ticket: Ticket) -> int:
        """1-based place in line if the slots were handed out now; 0 when running or unknown."""
        if ticket.granted.done():
            return 0
        for index, queued in enumerate(self._service_order(), start=1):
            if queued is ticket:
                return index
        return 0

    def _service_order(self) -> list[Ticket]:
        """The order in which the current waiters would get slots (round-robin over owners)."""
        queues = [
            [t for t in self._queues[owner] if not t.granted.done()] for owner in self._turns
        ]
        order: list[Ticket] = []
        depth = 0
        while True:
            layer = [q[depth] for q in queues if depth < len(q)]
            if not layer:
                return order
            order.extend(layer)
            depth += 1

    @asynccontextmanager
    async def slot(self, owner: Hashable) -> AsyncIterator[Ticket]:
        """Wait for a slot for ``owner``; the ticket can be asked for its position meanwhile.

        Usage: ``async with scheduler.slot(user_id): ...``. To show a place in line
        while waiting, use :meth:`enqueue`, :meth:`wait` and :meth:`release` directly.
        """
        ticket = self.enqueue(owner)
        try:
            await self.wait(ticket)
            yield ticket
        finally:
            self.release(ticket)

    def enqueue(self, owner: Hashable) -> Ticket:
        """Join the line, or take a free slot at once; pair with ``wait`` and ``release``."""
        ticket = Ticket(owner)
        if self._running < self._capacity and not self._turns:
            self._running += 1
            ticket.granted.set_result(None)
            return ticket
        queue = self._queues.get(owner)
        if queue is None:
            queue = self._queues[owner] = deque()
            self._turns.append(owner)
        queue.append(ticket)
        return ticket

    async def wait(self, ticket: Ticket) -> None:
        """Block until ``ticket`` holds a slot. Cancellation leaves the line cleanly."""
        await ticket.granted

    def release(self, ticket: Ticket) -> None:
        """Give back the slot ``ticket`` holds, or leave the line if it never got one.

        Idempotent: a ticket is released at most once, however many paths reach here.
        """
        if ticket.released:
            return
        ticket.released = True
        if ticket.granted.done() and not ticket.granted.cancelled():
            self._running -= 1
            self._grant_next()
            return
        if not ticket.granted.done():
            ticket.granted.cancel()
        queue = self._queues.get(ticket.owner)
        if queue is not None and ticket in queue:
            queue.remove(ticket)
            if not queue:
                del self._queues[ticket.owner]
                self._turns.remove(ticket.owner)

    def _grant_next(self) -> None:
        while self._running < self._capacity and self._turns:
            owner = self._turns.popleft()
            queue = self._queues[owner]
            ticket = queue.popleft()
            if queue:
                self._turns.append(owner)
            else:
                del self._queues[owner]
            if ticket.granted.done():
                # Its waiter was cancelled and has not called release() yet: the slot goes
                # to the next in line, and that later release() finds nothing to give back.
                continue
            self._running += 1
            ticket.granted.set_result(None)
