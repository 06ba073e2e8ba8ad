"""How much does the daily pruning pass slow reservations on SQLite's single writer?

Run from the repository root::

    python -m bench.retention_bench                 # 30000 old rows, batches of 100
    python -m bench.retention_bench --rows 100000 --batch 500

The file is filled with ``--rows`` settled generations 400 days old (spread over 50
members of one guild), then members reserve and cancel in a loop, first alone for two
seconds and then while ``RetentionKeeper.run_once`` prunes everything past 180 days.
Printed: how long the pass took, reservation latency (p50/p99) idle and during it, and
whether ``daily_totals`` of the pruned days is unchanged by the prune (it must be).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.retention import RetentionKeeper
from bot.store import GenerationParams, MemberContext, SqliteStore

GUILD = 7
PARAMS = GenerationParams("p", 1024, 768, None, 28, 4.5, "regular", 1, True, 1)


def _at(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds")


def _fill(path: Path, rows: int) -> None:
    old = datetime.now(UTC) - timedelta(days=400)
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO generations (guild_id, channel_id, user_id, prompt, width, height,"
            " steps, guidance, acceleration, seed, safety_checker, count, status, reserved,"
            " delivered, created_at, cost_pico_usd) VALUES (?, 1, ?, 'p', 1024, 768, 28, 4.5,"
            " 'regular', 1, 1, 1, 'succeeded', 0, 1, ?, 19660800000)",
            [(GUILD, i % 50, _at(old + timedelta(seconds=i * 60))) for i in range(rows)],
        )


async def _reserving(store: SqliteStore, stop: asyncio.Event, latencies: list[float]) -> None:
    turn = 0
    while not stop.is_set():
        started = time.perf_counter()
        member = MemberContext(GUILD, 1, 10_000 + turn % 500)
        reservation = await store.reserve(member, PARAMS, bot_default_limit=10**6)
        latencies.append(time.perf_counter() - started)
        await store.cancel(reservation.generation_id)
        turn += 1


def _ms(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * quantile))] * 1000


async def main(rows: int, batch: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        await (await SqliteStore.open(path)).close()  # create the schema
        _fill(path, rows)
        store = await SqliteStore.open(path)
        try:
            idle: list[float] = []
            stop = asyncio.Event()
            task = asyncio.create_task(_reserving(store, stop, idle))
            await asyncio.sleep(2)
            stop.set()
            await task
            # Every day but today, which the reserving members keep changing.
            before = (await store.daily_totals(GUILD, days=420))[:-1]
            keeper = RetentionKeeper(
                store, retention_days=180, audit_retention_days=365, batch_size=batch
            )
            during: list[float] = []
            stop = asyncio.Event()
            task = asyncio.create_task(_reserving(store, stop, during))
            started = time.perf_counter()
            report = await keeper.run_once()
            took = time.perf_counter() - started
            stop.set()
            await task
            unchanged = (await store.daily_totals(GUILD, days=420))[:-1] == before
        finally:
            await store.close()
    print(
        f"rows={rows} batch={batch} pruned={report.generations} pass={took:.1f}s"
        f" reserve p50/p99 ms: idle {_ms(idle, 0.5):.2f}/{_ms(idle, 0.99):.2f},"
        f" during the pass {_ms(during, 0.5):.2f}/{_ms(during, 0.99):.2f};"
        f" statistics unchanged: {unchanged}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=100)
    options = parser.parse_args()
    asyncio.run(main(options.rows, options.batch))
