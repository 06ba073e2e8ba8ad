"""Retention: the usage log and the audit log do not grow forever.

Once a day, usage rows older than ``RETENTION_DAYS`` are deleted and audit entries
older than ``AUDIT_RETENTION_DAYS``. Usage rows are first folded into archived daily
totals in the same transaction (``Store.prune_generations``), so ``/quota stats`` and
its chart show the same numbers before and after.

Why batches with pauses: on SQLite every write shares one writer with the reservations
of members waiting for an acknowledgement. A batch of a hundred rows holds it for a few
milliseconds; a pause between batches lets the hot path in (``python -m
bench.retention_bench`` measures it). The first pass waits a little after start-up, so a
restart under load does not begin with a sweep.

Only whole UTC days are pruned, counting back from the start of today, so today's rows
(every quota) and yesterday's are never touched whatever the retention.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from bot.policy.quota import day_start
from bot.store.base import PruneBatch, Store

log = logging.getLogger(__name__)

BATCH_SIZE: Final = 100
"""Rows per transaction. ``python -m bench.retention_bench`` (30 000 old rows, a loaded
2-core machine): reservations' p99 was ~10 ms idle, ~26-48 ms while batches of 500 were
pruned and ~16-20 ms with batches of 100, which still prune 1 500 rows a second."""
PAUSE_BETWEEN_BATCHES: Final = 0.05
FIRST_PASS_AFTER: Final = 300.0
"""Seconds after start-up before the first pass."""
EVERY: Final = 24 * 3600.0


@dataclass(frozen=True)
class PruneReport:
    generations: int
    audit_entries: int


def cutoff(now: datetime, days: int) -> datetime:
    """The start of the UTC day ``days`` days before today: older rows may go."""
    return day_start(now) - timedelta(days=days)


class RetentionKeeper:
    """Prunes the store daily in the background; ``run_once`` does one full pass."""

    def __init__(
        self,
        store: Store,
        *,
        retention_days: int,
        audit_retention_days: int,
        batch_size: int = BATCH_SIZE,
        pause: float = PAUSE_BETWEEN_BATCHES,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if retention_days < 1 or audit_retention_days < 1:
            raise ValueError("retention must keep at least one day")
        self._store = store
        self._retention_days = retention_days
        self._audit_retention_days = audit_retention_days
        self._batch_size = batch_size
        self._pause = pause
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> PruneReport:
        """Prune everything past retention now, batch by batch; returns how much went."""
        now = self._clock()
        generations = await self._drain(
            lambda: self._store.prune_generations(
                cutoff(now, self._retention_days), limit=self._batch_size
            )
        )
        audit = await self._drain(
            lambda: self._store.prune_audit_log(
                cutoff(now, self._audit_retention_days), limit=self._batch_size
            )
        )
        if generations or audit:
            log.info(
                "retention: removed %d usage row(s) older than %d days (kept as daily totals) "
                "and %d audit entr(ies) older than %d days",
                generations,
                self._retention_days,
                audit,
                self._audit_retention_days,
            )
        return PruneReport(generations, audit)

    async def _drain(self, batch: Callable[[], Awaitable[PruneBatch]]) -> int:
        total = 0
        while True:
            result = await batch()
            total += result.deleted
            if not result.more:
                return total
            await asyncio.sleep(self._pause)

    def start(self, *, first_after: float = FIRST_PASS_AFTER, every: float = EVERY) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._forever(first_after, every))

    async def _forever(self, first_after: float, every: float) -> None:
        await asyncio.sleep(first_after)
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("retention: pruning failed; trying again tomorrow")
            await asyncio.sleep(every)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
