"""The bot under a burst, through the emulators: acknowledgements, overhead, slots, memory.

Run from the repository root::

    python -m bench.load_bench            # all four measurements, ~1 minute on 2 cores

Everything runs on this machine: the local Discord emulator, the local image-API
emulator and the real bot. Measured (targets from issue 6):

* acknowledgement latency p50/p99 of a burst of 300 ``/imagine`` from 300 members sent
  within one second (target: 0 missed, p99 < 50 ms), and event-loop lag p99 meanwhile;
* overhead: end-to-end time minus the emulated API time, p50/p99, with 0 s and 2 s of
  API latency;
* scheduler efficiency: N jobs with API latency L and concurrency C against the ideal
  ceil(N/C)·L (target ≥ 95 %);
* peak RSS of a separate ``python -m bot`` process with 200 jobs in flight (target
  ≤ 150 MB).

The bot, the emulators and the load generator share one event loop in the first three
measurements (the bot must run in-process to be timed from inside), so the loop lag
reported there is an upper bound for the bot's own.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.e2e.harness import Harness, start_harness
from tests.emulators.discord import DiscordEmulator, InteractionRecord, Message
from tests.emulators.siraya import SirayaEmulator

REPO = Path(__file__).resolve().parents[1]


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def has_image(message: Message) -> bool:
    return bool(message.attachments)


class LoopLag:
    """Samples how late a 10 ms timer fires: the time the loop was busy elsewhere."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(self.interval)
            self.samples.append(max(0.0, loop.time() - start - self.interval))

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def world(data: Path, **env: str) -> Harness:
    settings = {"QUEUE_LIMIT": "10000", "MAX_JOBS_PER_USER": "10", "LOG_LEVEL": "WARNING"}
    return await start_harness(data, {**settings, **env})


CACHED = {"prompt": "a benchmark lighthouse", "seed": 42}
"""Every timed job asks for the same image, which the API emulator renders once and then
serves from its cache: rendering is the provider's work (on its GPUs), not the bot's, and
must not be counted as the bot's overhead."""


async def burst(harness: Harness, count: int, spread: float) -> list[InteractionRecord]:
    """``count`` members each type /imagine, evenly spread over ``spread`` seconds."""
    members = [harness.member("burst") for _ in range(count)]

    async def one(index: int) -> InteractionRecord:
        await asyncio.sleep(spread * index / count)
        return await harness.discord.run_slash_command(
            members[index], harness.general, "imagine", **CACHED
        )

    return await asyncio.gather(*(one(i) for i in range(count)))


@dataclass
class AckResult:
    p50: float
    p99: float
    missed: int
    answered: int
    lag_p99: float
    bot_ack_p99: float


class ApiProcess:
    """The image-API emulator in its own process (see bench/siraya_process.py)."""

    def __init__(self, api_key: str = "bench-key", latency: float = 0.0) -> None:
        self.api_key = api_key
        self.latency = latency
        self.process: asyncio.subprocess.Process | None = None
        self.base_url = ""

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.siraya_process", self.api_key, str(self.latency),
            cwd=REPO, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.process.stdout is not None
        self.base_url = (await self.process.stdout.readline()).decode().strip()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


class BotProcess:
    """A real ``python -m bot`` against the emulators, so it has its own event loop and core."""

    def __init__(
        self, discord_emu: DiscordEmulator, api: SirayaEmulator | ApiProcess, data: Path
    ) -> None:
        self.discord = discord_emu
        self.api = api
        self.data = data
        self.metrics_port = _free_port()
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, guild_id: int, **env: str) -> None:
        environment = {
            **os.environ,
            "DISCORD_TOKEN": self.discord.bot_token,
            "SIRAYA_API_KEY": self.api.api_key,
            "SIRAYA_BASE_URL": self.api.base_url,
            "DISCORD_API_BASE_URL": self.discord.base_url,
            "DATABASE_URL": f"sqlite:///{self.data / 'bench.db'}",
            "COMMAND_GUILD_IDS": str(guild_id),
            "QUEUE_LIMIT": "10000",
            "LOG_LEVEL": "WARNING",
            "METRICS_PORT": str(self.metrics_port),
            "METRICS_HOST": "127.0.0.1",
            "PYTHONPATH": str(REPO),
            **env,
        }
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", env=environment, stderr=asyncio.subprocess.DEVNULL
        )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def metric_p99(self, name: str) -> float:
        """The upper bound of the histogram bucket holding the 99th percentile."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{self.metrics_port}/metrics") as response,
        ):
            text = await response.text()
        buckets: list[tuple[float, int]] = []
        for line in text.splitlines():
            if line.startswith(f"{name}_bucket"):
                bound = line.split('le="', 1)[1].split('"', 1)[0]
                buckets.append((float(bound), int(float(line.rsplit(" ", 1)[1]))))
        total = buckets[-1][1] if buckets else 0
        for bound, count in buckets:
            if total and count >= 0.99 * total:
                return bound
        return float("nan")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def measure_acks(data: Path, members: int, *, hold_api: bool = False) -> AckResult:
    """With ``hold_api`` the API answers nothing until every member was acknowledged;
    otherwise a separate emulator process renders and serves every image meanwhile."""
    discord_emu = DiscordEmulator()
    guild = discord_emu.add_guild("Bench")
    general = guild.add_channel("general")
    held = SirayaEmulator()
    rendering = ApiProcess()
    api: SirayaEmulator | ApiProcess = held if hold_api else rendering
    await api.start()
    await discord_emu.start()
    bot = BotProcess(discord_emu, api, data)
    try:
        await bot.start(guild.id, MAX_CONCURRENT_JOBS="4", MAX_JOBS_PER_USER="10")
        await discord_emu.wait_until_commands_synced(guild, timeout=60)
        await discord_emu.wait_for_gateway(timeout=60)
        people = [guild.add_member(f"burst{i}") for i in range(members)]

        async def one(index: int) -> InteractionRecord:
            await asyncio.sleep(index / members)  # 300 members within one second
            return await discord_emu.run_slash_command(
                people[index], general, "imagine", prompt=f"burst {index}"
            )

        if hold_api:
            held.hold()
        records = await asyncio.gather(*(one(i) for i in range(members)))
        for it in records:
            await it.acknowledged(timeout=30)
        latencies = [it.ack_latency for it in records if it.ack_latency is not None]
        held.release()
        for it in records:
            await it.wait_for_original(has_image, timeout=300)
        return AckResult(
            p50=percentile(latencies, 0.5),
            p99=percentile(latencies, 0.99),
            missed=len(discord_emu.interaction_failures),
            answered=sum(1 for it in records if it.original and it.original.attachments),
            lag_p99=await bot.metric_p99("imagine_event_loop_lag_seconds"),
            bot_ack_p99=await bot.metric_p99("imagine_acknowledgement_duration_seconds"),
        )
    finally:
        await bot.stop()
        await api.stop()
        await discord_emu.stop()


async def timed_job(harness: Harness) -> float:
    """Seconds from a member's /imagine to the image being visible."""
    member = harness.member("timed")
    start = time.perf_counter()
    it = await harness.discord.run_slash_command(member, harness.general, "imagine", **CACHED)
    await it.wait_for_original(has_image, timeout=120)
    return time.perf_counter() - start


async def measure_overhead(data: Path, api_latency: float, jobs: int) -> tuple[float, float]:
    """One job at a time, so the number is the bot's cost per job, not queueing."""
    harness = await world(data)
    harness.api.latency = api_latency
    try:
        await timed_job(harness)  # warm-up: renders and caches the image
        totals = [await timed_job(harness) for _ in range(jobs)]
        overheads = [t - api_latency for t in totals]
        return percentile(overheads, 0.5), percentile(overheads, 0.99)
    finally:
        await harness.close()


async def measure_efficiency(data: Path, jobs: int, latency: float, slots: int) -> float:
    harness = await world(data, MAX_CONCURRENT_JOBS=str(slots))
    harness.api.latency = latency
    try:
        await timed_job(harness)  # warm-up: renders and caches the image
        start = time.perf_counter()
        records = await burst(harness, jobs, spread=0.0)
        for it in records:
            await it.wait_for_original(has_image, timeout=300)
        elapsed = time.perf_counter() - start
        ideal = math.ceil(jobs / slots) * latency
        return ideal / elapsed
    finally:
        await harness.close()


def peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure_rss(data: Path, jobs: int) -> tuple[float, float]:
    """Peak RSS of a real bot process: after start, and with ``jobs`` in flight then delivered."""
    discord_emu = DiscordEmulator()
    guild = discord_emu.add_guild("Bench")
    general = guild.add_channel("general")
    api = SirayaEmulator()
    await api.start()
    await discord_emu.start()
    env = {
        **os.environ,
        "DISCORD_TOKEN": discord_emu.bot_token,
        "SIRAYA_API_KEY": api.api_key,
        "SIRAYA_BASE_URL": api.base_url,
        "DISCORD_API_BASE_URL": discord_emu.base_url,
        "DATABASE_URL": f"sqlite:///{data / 'rss.db'}",
        "COMMAND_GUILD_IDS": str(guild.id),
        "MAX_CONCURRENT_JOBS": str(jobs),
        "QUEUE_LIMIT": "10000",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(REPO),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", env=env, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        await discord_emu.wait_until_commands_synced(guild, timeout=60)
        idle = peak_rss_mb(process.pid)
        api.hold()
        records = []
        for index in range(jobs):
            member = guild.add_member(f"rss{index}")
            records.append(
                await discord_emu.run_slash_command(member, general, "imagine", prompt=f"m{index}")
            )
        await api.wait_for_requests(jobs, timeout=120)
        api.release()
        for it in records:
            await it.wait_for_original(has_image, timeout=300)
        return idle, peak_rss_mb(process.pid)
    finally:
        process.terminate()
        await process.wait()
        api.release()
        await api.stop()
        await discord_emu.stop()


async def run(args: argparse.Namespace) -> str:
    rows: list[tuple[str, str, str]] = []

    async def step(name: str, work: Callable[[Path], Awaitable[None]]) -> None:
        print(f"… {name}", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix="imagine-bench-") as folder:
            await work(Path(folder))

    async def acks(folder: Path) -> None:
        for hold, label in ((True, "API held"), (False, "images made and posted meanwhile")):
            result = await measure_acks(folder / label.replace(" ", "-"), args.burst, hold_api=hold)
            burst = f"{args.burst} in 1 s, {label}"
            rows.append((f"missed acknowledgements ({burst})", str(result.missed), "0"))
            rows.append((f"acknowledgement p50 ({label})", ms(result.p50), ""))
            rows.append((f"acknowledgement p99 ({label})", ms(result.p99), "< 50 ms"))
            rows.append(
                (f"answered with an image ({label})", f"{result.answered}/{args.burst}", "all")
            )
            rows.append(
                (
                    f"acknowledgement p99 seen by the bot ({label}; histogram bucket)",
                    f"≤ {ms(result.bot_ack_p99)}",
                    "",
                )
            )
            rows.append(
                (
                    f"bot event-loop lag p99 ({label}; histogram bucket)",
                    f"≤ {ms(result.lag_p99)}",
                    "",
                )
            )

    async def overhead(folder: Path) -> None:
        for latency in (0.0, 2.0):
            run_folder = folder / f"latency-{latency:g}"
            p50, p99 = await measure_overhead(run_folder, latency, args.overhead_jobs)
            rows.append((f"overhead p50 (API {latency:g} s)", ms(p50), ""))
            rows.append((f"overhead p99 (API {latency:g} s)", ms(p99), ""))

    async def efficiency(folder: Path) -> None:
        for latency in args.latency:
            run_folder = folder / f"latency-{latency:g}"
            ratio = await measure_efficiency(run_folder, args.jobs, latency, args.slots)
            label = f"scheduler efficiency (N={args.jobs}, L={latency:g} s, C={args.slots})"
            rows.append((label, f"{ratio * 100:.1f} %", "≥ 95 %"))

    async def rss(folder: Path) -> None:
        idle, peak = await measure_rss(folder, args.rss_jobs)
        rows.append(("peak RSS, bot idle after start", f"{idle:.0f} MB", ""))
        rows.append((f"peak RSS, {args.rss_jobs} jobs in flight", f"{peak:.0f} MB", "≤ 150 MB"))

    await step("acknowledgements under a burst", acks)
    await step("overhead", overhead)
    await step("scheduler efficiency", efficiency)
    await step("memory", rss)
    lines = ["| measurement | result | target |", "| --- | ---: | --- |"]
    lines += [f"| {name} | {value} | {target} |" for name, value, target in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="imagine-bot load benchmark")
    parser.add_argument("--burst", type=int, default=300, help="members in the 1 s burst")
    parser.add_argument("--overhead-jobs", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=40, help="N for the efficiency run")
    parser.add_argument(
        "--latency", type=float, nargs="+", default=[0.5, 2.0], help="L in seconds (one or more)"
    )
    parser.add_argument("--slots", type=int, default=4, help="C, MAX_CONCURRENT_JOBS")
    parser.add_argument("--rss-jobs", type=int, default=200)
    args = parser.parse_args(argv)
    print(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
