"""Two versions of imagine-bot at the same time, one burst split between them: B's CPU ÷ A's.

Run from the repository root, with a second checkout to compare against::

    git worktree add --detach /tmp/before main
    python -m bench.duel --a /tmp/before --b .               # 6 bursts of 250
    python -m bench.duel --a . --a-env EVENT_LOOP=asyncio --b .   # one setting, same code

The side-by-side benchmark runs its bots one after the other, so on a shared host whatever
else runs changes between their turns: its CPU-per-image ratio moved by ±30 % from round to
round while other suites ran. Here both bots run at once, each against its own Discord
emulator (both in this process; one image-API emulator process serves them), and every
burst sends its members to A and B alternately, so both meet the same machine at the same
moment. **Ratio** = B's CPU per delivered image ÷ A's, per burst (process CPU time from
/proc, all threads); an A/A run (the same tree twice) gave a median of 1.01 (0.99–1.11) on
a host with a load average of 2. Both bots use this interpreter and its installed
packages, so a dependency is compared through a setting (``--a-env``) or by installing it
between runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.load_bench import REPO, ApiProcess, percentile
from bench.side_by_side import PROMPT, _cpu_seconds, _has_image, _settled, competing_load
from tests.emulators.discord import DiscordEmulator, Guild, InteractionRecord

SIDES = ("A", "B")


@dataclass(frozen=True)
class Burst:
    cpu_per_image: dict[str, float]
    delivered: dict[str, int]
    ack_p50: dict[str, float]
    ack_p99: dict[str, float]

    @property
    def ratio(self) -> float:
        return self.cpu_per_image["B"] / self.cpu_per_image["A"]


class Contender:
    """One imagine-bot (``python -m bot`` from ``tree``) with its own Discord emulator."""

    def __init__(self, side: str, tree: Path, env: dict[str, str], data: Path) -> None:
        self.side, self.tree, self.env, self.data = side, tree, env, data
        self.discord = DiscordEmulator()
        self.guild: Guild | None = None
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, api: ApiProcess, slots: int) -> None:
        await self.discord.start()
        guild = self.guild = self.discord.add_guild(f"duel {self.side}")
        guild.add_channel("general")
        env = {
            **os.environ,
            "DISCORD_TOKEN": self.discord.bot_token,
            "DISCORD_API_BASE_URL": self.discord.base_url,
            "SIRAYA_API_KEY": api.api_key,
            "SIRAYA_BASE_URL": api.base_url,
            "COMMAND_GUILD_IDS": str(guild.id),
            "PYTHONPATH": str(self.tree),
            "DATABASE_URL": f"sqlite:///{self.data / f'{self.side}.db'}",
            "MAX_CONCURRENT_JOBS": str(slots),
            "QUEUE_LIMIT": "100000",
            "DEFAULT_DAILY_LIMIT": "100000",
            "LOG_LEVEL": "WARNING",
            **self.env,
        }
        self.stderr = (self.data / f"{self.side}.stderr").open("wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", env=env, cwd=self.tree, stderr=self.stderr
        )
        await self.discord.wait_until_commands_synced(guild, timeout=60)
        await self.discord.gateway.signal.wait_for(
            lambda: self.discord.gateway.connection_for(guild),
            timeout=60,
            describe=lambda: f"bot {self.side} ({self.tree}) never connected",
        )

    def ask(self, name: str) -> asyncio.Future[InteractionRecord]:
        assert self.guild is not None
        member = self.guild.add_member(name)
        return asyncio.ensure_future(
            self.discord.run_slash_command(member, self.guild.channels[0], "imagine", **PROMPT)
        )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()
        with contextlib.suppress(AttributeError):
            self.stderr.close()
        await self.discord.stop()


async def duel(
    trees: dict[str, Path], envs: dict[str, dict[str, str]], bursts: int, burst: int
) -> list[Burst]:
    api = ApiProcess(latency=2.0)
    await api.start()
    results: list[Burst] = []
    with tempfile.TemporaryDirectory(prefix="imagine-duel-") as folder:
        bots = {side: Contender(side, trees[side], envs[side], Path(folder)) for side in SIDES}
        try:
            for bot in bots.values():
                await bot.start(api, slots=burst)
            for bot in bots.values():  # warm-up: connections, caches, the API's render
                for index in range(3):
                    it = await bot.ask(f"warm-up {index}")
                    await it.wait_for_original(_has_image, timeout=60)
            for number in range(bursts):
                order = SIDES if number % 2 == 0 else SIDES[::-1]
                before = {side: _cpu_seconds(bots[side].pid) for side in SIDES}
                asked = [
                    (side, bots[side].ask(f"burst {number} member {index}"))
                    for index in range(burst // 2)
                    for side in order
                ]
                records = await asyncio.gather(*(future for _, future in asked))
                await _settled(records, 300)
                by_side = {
                    side: [r for (s, _), r in zip(asked, records, strict=True) if s == side]
                    for side in SIDES
                }
                delivered = {
                    side: sum(1 for r in by_side[side] if r.original and r.original.attachments)
                    for side in SIDES
                }
                results.append(
                    Burst(
                        cpu_per_image={
                            side: (_cpu_seconds(bots[side].pid) - before[side])
                            / max(1, delivered[side])
                            for side in SIDES
                        },
                        delivered=delivered,
                        ack_p50={side: _ack(by_side[side], 0.5) for side in SIDES},
                        ack_p99={side: _ack(by_side[side], 0.99) for side in SIDES},
                    )
                )
                print(_line(number, results[-1]), file=sys.stderr)
        finally:
            for bot in bots.values():
                await bot.stop()
            await api.stop()
    return results


def _ack(records: Sequence[InteractionRecord], fraction: float) -> float:
    return percentile([r.ack_latency for r in records if r.ack_latency is not None], fraction)


def _line(number: int, burst: Burst) -> str:
    a, b = burst.cpu_per_image["A"] * 1000, burst.cpu_per_image["B"] * 1000
    return (
        f"burst {number + 1}: A {a:.2f} ms/image ({burst.delivered['A']} delivered), "
        f"B {b:.2f} ms/image ({burst.delivered['B']}), B/A {burst.ratio:.3f}; "
        f"acknowledgement p50/p99 A {burst.ack_p50['A'] * 1000:.0f}/"
        f"{burst.ack_p99['A'] * 1000:.0f} ms, B {burst.ack_p50['B'] * 1000:.0f}/"
        f"{burst.ack_p99['B'] * 1000:.0f} ms"
    )


def report(results: Sequence[Burst]) -> str:
    ratios = [burst.ratio for burst in results]
    a = [burst.cpu_per_image["A"] * 1000 for burst in results]
    b = [burst.cpu_per_image["B"] * 1000 for burst in results]
    lines = [
        f"CPU per delivered image over {len(results)} burst(s): "
        f"A {statistics.median(a):.2f} ms ({min(a):.2f}–{max(a):.2f}), "
        f"B {statistics.median(b):.2f} ms ({min(b):.2f}–{max(b):.2f}); "
        f"B/A median {statistics.median(ratios):.3f} ({min(ratios):.3f}–{max(ratios):.3f})"
    ]
    for label, field in (("p50", "ack_p50"), ("p99", "ack_p99")):
        acks = [(getattr(x, field)["A"], getattr(x, field)["B"]) for x in results]
        over = [later / first for first, later in acks if first > 0]
        lines.append(
            f"acknowledgement {label}: A {statistics.median(x for x, _ in acks) * 1000:.0f} ms, "
            f"B {statistics.median(y for _, y in acks) * 1000:.0f} ms; B/A median "
            f"{statistics.median(over):.3f} ({min(over):.3f}–{max(over):.3f})"
        )
    return "\n".join(lines)


def _env(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--a-env/--b-env take NAME=VALUE, got {pair!r}")
        env[name] = value
    return env


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Two imagine-bot checkouts at once, one burst split between them: B ÷ A"
    )
    parser.add_argument("--a", type=Path, default=REPO, help="checkout A (default: this one)")
    parser.add_argument("--b", type=Path, default=REPO, help="checkout B (default: this one)")
    parser.add_argument("--a-env", nargs="*", default=[], help="NAME=VALUE settings for A")
    parser.add_argument("--b-env", nargs="*", default=[], help="NAME=VALUE settings for B")
    parser.add_argument("--bursts", type=int, default=6, help="bursts, order alternating")
    parser.add_argument("--burst", type=int, default=250, help="members per burst (half each)")
    parser.add_argument("--load", type=float, default=0.0, help="cores of competing busy-loop")
    args = parser.parse_args(argv)
    trees = {"A": args.a.resolve(), "B": args.b.resolve()}
    envs = {"A": _env(args.a_env), "B": _env(args.b_env)}
    with competing_load(args.load) if args.load > 0 else contextlib.nullcontext():
        results = asyncio.run(duel(trees, envs, args.bursts, args.burst))
    print(report(results))


if __name__ == "__main__":
    main()
