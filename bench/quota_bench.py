"""How fast is quota accounting, and how long does the pre-defer check take under load?

Run from the repository root::

    python -m bench.quota_bench                  # defaults: SQLite, 200 members, 25 rounds each
    python -m bench.quota_bench --members 500 --rounds 10 --history 200000
    python -m bench.quota_bench --database-url postgresql://postgres@127.0.0.1:5432/test

With ``--database-url`` the PostgreSQL store is measured instead, in a throwaway schema
that is dropped afterwards (the database itself must exist).

Discord gives an interaction 3 seconds to be acknowledged; ``/imagine`` runs its rule and
quota checks before deferring, so their latency under many simultaneous members is what
matters. The database is first filled with ``--history`` past generations spread over 30
days and several guilds, so the daily-usage sums run against a realistically sized log.

Measured:
* reservation+commit pairs per second: ``reserve`` then ``complete``, one member at a
  time, and with every member working at once;
* latency of ``reserve`` alone and of the whole pre-defer check (``guild_policy`` + the
  pure rules + ``reserve``) while all members hammer the same guild;
* latency of a refused ``reserve`` (member over quota) under the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.policy import channel_allowed, find_blocked_word, safety_checker_enabled
from bot.store import GenerationParams, MemberContext, QuotaExceeded, SqliteStore, Store

GUILD = 1_100_000_000_000_000_001
CHANNEL = 1_200_000_000_000_000_001
MOD = 1_300_000_000_000_000_001
BOT_DEFAULT = 100_000  # high enough that the throughput runs are never refused
PARAMS = GenerationParams(
    prompt="a cute baby sea otter floating on its back, golden hour",
    width=1024,
    height=768,
    size_preset="landscape_4_3",
    steps=28,
    guidance=4.5,
    acceleration="regular",
    seed=42,
    safety_checker=True,
    count=1,
)


def percentile(samples: Sequence[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


_HISTORY_COLUMNS = (
    "guild_id",
    "channel_id",
    "user_id",
    "prompt",
    "width",
    "height",
    "size_preset",
    "steps",
    "guidance",
    "acceleration",
    "seed",
    "safety_checker",
    "count",
    "status",
    "reserved",
    "delivered",
    "latency_ms",
    "created_at",
)


def history_rows(rows: int, now: datetime) -> Iterator[tuple[object, ...]]:
    """Past generations across 30 days and 5 guilds, in ``_HISTORY_COLUMNS`` order."""
    rng = random.Random(7)
    guilds = [GUILD, *(GUILD + i for i in range(1, 5))]
    for i in range(rows):
        created = now - timedelta(seconds=rng.randrange(30 * 86_400))
        yield (
            rng.choice(guilds),
            CHANNEL,
            10_000 + rng.randrange(2_000),
            f"historic prompt {i}",
            1024,
            768,
            "landscape_4_3",
            28,
            4.5,
            "regular",
            i,
            True,
            1,
            "succeeded",
            0,
            1,
            4_000,
            created,
        )


def fill_sqlite_history(path: Path, rows: int, now: datetime) -> None:
    """Blocking; runs in a thread before the measurements start."""

    def as_sqlite(row: tuple[object, ...]) -> tuple[object, ...]:
        created = row[-1]
        assert isinstance(created, datetime)
        return (*row[:11], int(bool(row[11])), *row[12:-1], created.isoformat("T", "microseconds"))

    with sqlite3.connect(path) as conn:
        conn.executemany(
            f"INSERT INTO generations ({', '.join(_HISTORY_COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in _HISTORY_COLUMNS)})",
            (as_sqlite(row) for row in history_rows(rows, now)),
        )


@contextlib.asynccontextmanager
async def sqlite_store(history: int) -> AsyncIterator[tuple[Store, str]]:
    with tempfile.TemporaryDirectory(prefix="quota-bench-") as folder:
        path = Path(folder) / "bench.db"
        store = await SqliteStore.open(path)
        await store.close()
        await asyncio.to_thread(fill_sqlite_history, path, history, datetime.now(UTC))
        store = await SqliteStore.open(path)
        try:
            yield store, f"SQLite {sqlite3.sqlite_version}"
        finally:
            await store.close()


@contextlib.asynccontextmanager
async def postgres_store(url: str, history: int) -> AsyncIterator[tuple[Store, str]]:
    """A PostgresStore in a fresh schema of ``url``'s database, dropped afterwards."""
    import asyncpg

    from bot.store.postgres import PostgresStore

    schema = f"quota_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(url, timeout=10)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        store = await PostgresStore.open(url, schema=schema)
        try:
            # The counter trigger resolves its table through the session's search_path.
            await admin.execute(f'SET search_path TO "{schema}"')
            await admin.copy_records_to_table(
                "generations",
                records=history_rows(history, datetime.now(UTC)),
                columns=_HISTORY_COLUMNS,
                schema_name=schema,
            )
            await admin.execute("ANALYZE generations")
            version = await admin.fetchval("SHOW server_version")
            yield store, f"PostgreSQL {version} (asyncpg pool of up to 10)"
        finally:
            await store.close()
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


async def configure_guild(store: Store) -> None:
    """A guild with the settings a busy server would have, so every lookup does real work."""
    for role in range(20):
        await store.set_role_limit(GUILD, 50_000 + role, BOT_DEFAULT + role, actor_id=MOD)
    await store.allow_channel(GUILD, CHANNEL, actor_id=MOD)
    for word in ("gore", "red wine", "spoiler", "another phrase", "f*ck"):
        await store.block_word(GUILD, word, actor_id=MOD)
    await store.set_default_limit(GUILD, BOT_DEFAULT, actor_id=MOD)
    await store.set_server_budget(GUILD, 10 * BOT_DEFAULT, actor_id=MOD)


def member(user_id: int) -> MemberContext:
    return MemberContext(GUILD, CHANNEL, user_id, role_ids=(50_000 + user_id % 20, 60_000))


async def sequential_pairs(store: Store, pairs: int) -> float:
    someone = member(1)
    started = time.perf_counter()
    for _ in range(pairs):
        reservation = await store.reserve(someone, PARAMS, bot_default_limit=BOT_DEFAULT)
        await store.complete(reservation.generation_id, delivered=1, latency_ms=1)
    return pairs / (time.perf_counter() - started)


async def concurrent_pairs(
    store: Store, members: int, rounds: int
) -> tuple[float, list[float], list[float]]:
    """Every member loops: pre-defer check, reserve, complete. Returns rate and latencies."""
    reserve_ms: list[float] = []
    check_ms: list[float] = []
    start_gate = asyncio.Event()

    async def one_member(user_id: int) -> None:
        someone = member(user_id)
        await start_gate.wait()
        for _ in range(rounds):
            t0 = time.perf_counter()
            policy = await store.guild_policy(GUILD)
            assert channel_allowed(CHANNEL, policy.allowed_channel_ids)
            assert find_blocked_word(PARAMS.prompt, policy.blocked_words) is None
            safety_checker_enabled(
                channel_is_nsfw=False,
                guild_nsfw_safety=policy.nsfw_safety,
                default_nsfw_safety=True,
            )
            t1 = time.perf_counter()
            reservation = await store.reserve(someone, PARAMS, bot_default_limit=BOT_DEFAULT)
            t2 = time.perf_counter()
            check_ms.append((t2 - t0) * 1000)
            reserve_ms.append((t2 - t1) * 1000)
            await store.complete(reservation.generation_id, delivered=1, latency_ms=1)

    tasks = [asyncio.create_task(one_member(100 + i)) for i in range(members)]
    await asyncio.sleep(0)
    started = time.perf_counter()
    start_gate.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return members * rounds / elapsed, reserve_ms, check_ms


async def refused_latency(store: Store, members: int, rounds: int) -> list[float]:
    """Members at a limit of 0 keep asking while the same number of others keep generating."""
    for i in range(members):
        await store.set_member_limit(GUILD, 900_000 + i, 0, actor_id=MOD)
    samples: list[float] = []

    async def refused(user_id: int) -> None:
        for _ in range(rounds):
            t0 = time.perf_counter()
            try:
                await store.reserve(member(user_id), PARAMS, bot_default_limit=BOT_DEFAULT)
            except QuotaExceeded:
                samples.append((time.perf_counter() - t0) * 1000)
            else:
                raise AssertionError("a member with limit 0 was granted an image")

    async def busy(user_id: int) -> None:
        for _ in range(rounds):
            reservation = await store.reserve(
                member(user_id), PARAMS, bot_default_limit=BOT_DEFAULT
            )
            await store.complete(reservation.generation_id, delivered=1, latency_ms=1)

    await asyncio.gather(
        *(refused(900_000 + i) for i in range(members)),
        *(busy(100 + i) for i in range(members)),
    )
    return samples


def latency_row(name: str, samples: Sequence[float]) -> str:
    return (
        f"| {name} | {len(samples)} | {statistics.median(samples):.2f} | "
        f"{percentile(samples, 95):.2f} | {percentile(samples, 99):.2f} | {max(samples):.2f} |"
    )


async def run(
    members: int, rounds: int, sequential: int, history: int, database_url: str | None = None
) -> str:
    if database_url is None:
        opened = sqlite_store(history)
    else:
        opened = postgres_store(database_url, history)
    async with opened as (store, engine):
        await configure_guild(store)
        seq_rate = await sequential_pairs(store, sequential)
        conc_rate, reserve_ms, check_ms = await concurrent_pairs(store, members, rounds)
        refused_ms = await refused_latency(store, members, max(1, rounds // 5))

    lines = [
        f"{engine}, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs; {history:,} past generations in the log; "
        f"{members} concurrent members x {rounds} rounds.",
        "",
        "| throughput | pairs/s |",
        "| --- | ---: |",
        f"| reserve + complete, one member at a time ({sequential} pairs) | {seq_rate:,.0f} |",
        f"| reserve + complete, {members} members at once ({members * rounds} pairs) "
        f"| {conc_rate:,.0f} |",
        "",
        f"| latency under load ({members} members), ms | n | p50 | p95 | p99 | max |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        latency_row("`reserve` (quota check + reservation)", reserve_ms),
        latency_row("pre-defer check: `guild_policy` + rules + `reserve`", check_ms),
        latency_row("refused `reserve` (limit 0) amid as many generating", refused_ms),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--members", type=int, default=200, help="concurrent members")
    parser.add_argument("--rounds", type=int, default=25, help="requests per member")
    parser.add_argument("--sequential", type=int, default=2000, help="pairs in the serial run")
    parser.add_argument("--history", type=int, default=100_000, help="past generations")
    parser.add_argument(
        "--database-url",
        default=None,
        help="measure PostgreSQL (postgresql://…) in a throwaway schema instead of SQLite",
    )
    args = parser.parse_args(argv)
    report = run(args.members, args.rounds, args.sequential, args.history, args.database_url)
    print(asyncio.run(report))


if __name__ == "__main__":
    main()
