"""Which process runs which job, when several share one database.

Every job carries a lease: its owner's name and a time until which the owner vouches
for it. A living process renews its leases; a job whose lease has run out belongs to
a dead process and exactly one other process claims it (``Store.claim`` is a
compare-and-set). A process that restarts need not wait for its dead predecessor's leases to run out
when the predecessor is certainly dead: same host *and* same pid namespace, and its
pid is gone (or is now ours). Containers with host networking share a host name but
not a pid namespace, so there the leases decide.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.store.base import GenerationRecord, Lease, Store

log = logging.getLogger(__name__)

LEASE_DURATION = timedelta(seconds=60)
RENEW_EVERY = 15.0
"""Seconds between renewals: four chances before a lease runs out."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _pid_namespace() -> str:
    """This process's pid namespace (an inode number), or "" where there is none to read."""
    try:
        link = os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""
    return "".join(ch for ch in link if ch.isdigit())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just not ours
    return True


class LeaseKeeper:
    """This process's name on its jobs, and the rules for taking over others'."""

    def __init__(
        self,
        store: Store,
        *,
        host: str | None = None,
        pid: int | None = None,
        pid_namespace: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
        pid_alive: Callable[[int], bool] = _pid_alive,
        duration: timedelta = LEASE_DURATION,
    ) -> None:
        self._store = store
        self.host = host or socket.gethostname()
        self.pid = os.getpid() if pid is None else pid
        self.pid_namespace = _pid_namespace() if pid_namespace is None else pid_namespace
        self.owner = f"{self.host}:{self.pid_namespace}:{self.pid}:{secrets.token_hex(4)}"
        self._clock = clock
        self._pid_alive = pid_alive
        self._duration = duration
        self._renewing: asyncio.Task[None] | None = None

    def new_lease(self) -> Lease:
        return Lease(self.owner, self._clock() + self._duration)

    def owner_is_dead(self, owner: str) -> bool:
        """True only when certain: a process in this very pid namespace whose pid is gone
        (or is now ours). Anything else is left to its lease."""
        parts = owner.split(":")
        if len(parts) != 4 or owner == self.owner:
            return False
        host, namespace, pid_text, _ = parts
        if host != self.host or not namespace or namespace != self.pid_namespace:
            return False
        if not pid_text.isdigit():
            return False
        pid = int(pid_text)
        return pid == self.pid or not self._pid_alive(pid)

    async def claim_abandoned(self, records: list[GenerationRecord]) -> list[GenerationRecord]:
        """Take over, one compare-and-set each, the jobs whose owners are gone."""
        now = self._clock()
        claimed = []
        for record in records:
            if record.owner == self.owner:
                continue
            lapsed = record.owner is None or (
                record.lease_until is not None and record.lease_until <= now
            )
            dead = record.owner is not None and self.owner_is_dead(record.owner)
            if not (lapsed or dead):
                continue
            # A dead owner's lease is over whatever it says: claim "as of" its end.
            as_of = max(now, record.lease_until) if dead and record.lease_until else now
            if await self._store.claim(
                record.id,
                previous_owner=record.owner,
                owner=self.owner,
                until=as_of + self._duration,
                now=as_of,
            ):
                claimed.append(record)
        return claimed

    def start_renewing(self) -> None:
        if self._renewing is None:
            self._renewing = asyncio.get_running_loop().create_task(
                self._renew_forever(), name="lease-renewal"
            )

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                await self._store.renew_leases(self.owner, self._clock() + self._duration)
            except Exception:
                log.exception("could not renew job leases; retrying in %.0f s", RENEW_EVERY)

    async def stop(self) -> None:
        """Stop renewing, then hand every unfinished job back at once (graceful stop)."""
        task, self._renewing = self._renewing, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._store.expire_leases(self.owner, now=self._clock())
