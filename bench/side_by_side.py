"""imagine-bot next to a bot that does nothing else: the price of its features, as ratios.

Run from the repository root::

    python -m bench.side_by_side                 # quiet, then under half a core of competing load
    python -m bench.side_by_side --load 0 --rounds 3

Both bots run in the same run against the same emulators (one Discord emulator in this
process, one image-API emulator in a process of its own, API latency 2 s), one after the
other, each as its own process so its CPU time and memory are its own: imagine-bot as
``python -m bot`` (SQLite, every rule and quota check, progress line, result buttons) and
the reference as ``python -m bench.bare_bot`` (defer, call, download, post). The order
alternates between rounds (bare first, then imagine-bot first, …) so a change in the
machine's load during a run falls on both. Each turn:

1. one warm-up job, then ``--overhead-jobs`` jobs one at a time: **overhead** is the
   member's wait (command → image visible) minus the API latency;
2. a **burst** of ``--burst`` members at once, every job in flight (MAX_CONCURRENT_JOBS is
   the burst): **acknowledgement** latency as Discord measures it (INTERACTION_CREATE sent →
   deferral received), **missed** acknowledgements (over Discord's 3 s), **CPU per
   delivered image** (the bot process's user + system time over the burst, divided by the
   images delivered) and **peak RSS** (VmHWM, the bot process's high-water mark).

Every job asks for the same prompt and seed, so the API emulator renders once and serves
its cache: rendering is the provider's GPU work, not either bot's. ``--load X`` runs X
cores' worth of busy-loop (bench/cpu_load.py) through the whole scenario, the same for
both bots: the "busy shared host" case.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load_bench import REPO, ApiProcess, peak_rss_mb, percentile
from tests.emulators.discord import DiscordEmulator, Guild, InteractionRecord, Message

BARE = "bare"
IMAGINE = "imagine-bot"
PROMPT: dict[str, Any] = {"prompt": "a benchmark lighthouse", "seed": 42}
DEADLINE = 3.0  # Discord's: no acknowledgement within it is "This interaction failed"


@dataclass(frozen=True)
class Turn:
    """One bot's numbers in one round."""

    bot: str
    ack_p50: float
    ack_p99: float
    cpu_per_image: float
    loop_cpu_share: float
    """The main thread's (the event loop's) part of that CPU time; the rest is threads."""
    bot_busy: float
    """Cores the bot kept busy from the burst's start until every member was acknowledged."""
    emulator_busy: float
    """Cores the Discord emulator (and load generator) kept busy meanwhile: near 1, it is
    the emulator, not the bot, that sets the pace of the acknowledgements."""
    overhead_p50: float
    overhead_p99: float
    peak_rss_mb: float
    missed: int
    delivered: int
    burst: int


@dataclass(frozen=True)
class Options:
    burst: int = 250
    overhead_jobs: int = 5
    api_latency: float = 2.0
    rounds: int = 2
    timeout: float = 300.0
    profile: Path | None = None
    """Where to write py-spy's collapsed stacks of each bot's burst (profiling runs only)."""


def _has_image(message: Message) -> bool:
    return bool(message.attachments)


def _thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of each thread of ``pid`` (threads that already ended are gone)."""
    seconds: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError):
            seconds[int(task.name)] = _cpu_seconds(pid, int(task.name))
    return seconds


def _thread_names(stacks: Path) -> dict[int, str]:
    """Thread id → Python thread name, as py-spy's raw output (``--threads``) gives them."""
    names: dict[int, str] = {}
    with contextlib.suppress(OSError):
        for line in stacks.read_text().splitlines():
            head = line.split(";", 1)[0]  # "thread (1234): imaging_0"
            if head.startswith("thread (") and "): " in head:
                tid, _, name = head[len("thread (") :].partition("): ")
                with contextlib.suppress(ValueError):
                    names[int(tid)] = name
    return names


def _write_thread_cpu(
    path: Path, before: dict[int, float], after: dict[int, float], names: dict[int, str]
) -> None:
    """Each thread's CPU over the burst, by name: py-spy cannot see C code that dropped the GIL."""
    spent = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    total = sum(spent.values()) or math.nan
    lines = ["tid\tthread\tcpu_s\tshare"]
    for tid, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        lines.append(f"{tid}\t{names.get(tid, '?')}\t{seconds:.3f}\t{seconds / total:.1%}")
    path.write_text("\n".join(lines) + "\n")


def _cpu_seconds(pid: int, tid: int | None = None) -> float:
    """User + system time of the process (all its threads) so far, or of one of its threads."""
    where = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(where).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BotUnderTest:
    """One of the two bots as a child process, pointed at the shared emulators."""

    def __init__(self, bot: str, discord_emu: DiscordEmulator, api: ApiProcess, data: Path) -> None:
        self.bot = bot
        self.discord = discord_emu
        self.api = api
        self.data = data
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, guild: Guild, slots: int) -> None:
        env = {
            **os.environ,
            "DISCORD_TOKEN": self.discord.bot_token,
            "DISCORD_API_BASE_URL": self.discord.base_url,
            "SIRAYA_API_KEY": self.api.api_key,
            "SIRAYA_BASE_URL": self.api.base_url,
            "COMMAND_GUILD_IDS": str(guild.id),
            "PYTHONPATH": str(REPO),
        }
        if self.bot == IMAGINE:
            env.update(
                DATABASE_URL=f"sqlite:///{self.data / 'bench.db'}",
                MAX_CONCURRENT_JOBS=str(slots),
                QUEUE_LIMIT="10000",
                DEFAULT_DAILY_LIMIT="1000",
                LOG_LEVEL="WARNING",
            )
        module = "bot" if self.bot == IMAGINE else "bench.bare_bot"
        self.stderr = (self.data / f"{self.bot}.stderr").open("wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, env=env, cwd=REPO, stderr=self.stderr
        )
        await self.discord.wait_until_commands_synced(guild, timeout=60)
        await self.discord.gateway.signal.wait_for(
            lambda: self.discord.gateway.connection_for(guild),
            timeout=60,
            describe=lambda: f"{self.bot} never connected to the gateway for {guild!r}",
        )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stderr_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.data / f"{self.bot}.stderr").read_text(errors="replace")[-2000:]
        return ""

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()
        self.stderr.close()


async def _one_job(
    discord_emu: DiscordEmulator, guild: Guild, name: str, options: Options
) -> InteractionRecord:
    member = guild.add_member(name)
    channel = guild.channels[0]
    it = await discord_emu.run_slash_command(member, channel, "imagine", **PROMPT)
    await it.wait_for_original(_has_image, timeout=options.timeout)
    return it


async def _acknowledged(records: Sequence[InteractionRecord], within: float) -> None:
    """Until every interaction got an answer (accepted or refused), or ``within`` seconds."""
    deadline = time.monotonic() + within
    for it in records:
        with contextlib.suppress(Exception):
            await it.wait_for_callback(timeout=max(0.1, deadline - time.monotonic()))


async def _settled(records: Sequence[InteractionRecord], within: float) -> None:
    """Until every acknowledged job shows its image, or ``within`` seconds in all.

    One waiter at a time (the emulator re-checks every waiter on every change); a job
    whose acknowledgement was refused as too late is skipped at once, it has no image to wait for.
    """
    deadline = time.monotonic() + within
    for it in records:
        with contextlib.suppress(Exception):
            await it.acknowledged(timeout=max(0.1, deadline - time.monotonic()))
            await it.wait_for_original(_has_image, timeout=max(0.1, deadline - time.monotonic()))


async def take_turn(
    bot: str, discord_emu: DiscordEmulator, api: ApiProcess, data: Path, options: Options
) -> Turn:
    guild = discord_emu.add_guild(f"{bot} {data.name}")
    channel = guild.add_channel("general")
    under_test = BotUnderTest(bot, discord_emu, api, data)
    try:
        await under_test.start(guild, slots=max(options.burst, 1))
        await _one_job(discord_emu, guild, "warm-up", options)
        overheads = []
        for index in range(options.overhead_jobs):
            start = time.perf_counter()
            await _one_job(discord_emu, guild, f"solo{index}", options)
            overheads.append(time.perf_counter() - start - options.api_latency)
        members = [guild.add_member(f"burst{i}") for i in range(options.burst)]
        profiler = await _profiler(options.profile, under_test.pid, f"{bot}-{data.name}")
        cpu_before = _cpu_seconds(under_test.pid)
        threads_before = _thread_cpu(under_test.pid)
        loop_before = _cpu_seconds(under_test.pid, under_test.pid)
        emulator_before, wall_before = time.process_time(), time.perf_counter()
        records = await asyncio.gather(
            *(discord_emu.run_slash_command(m, channel, "imagine", **PROMPT) for m in members)
        )
        await _acknowledged(records, DEADLINE + 2)
        ack_wall = time.perf_counter() - wall_before
        emulator_busy = (time.process_time() - emulator_before) / ack_wall
        bot_busy = (_cpu_seconds(under_test.pid) - cpu_before) / ack_wall
        await _settled(records, options.timeout)
        cpu = _cpu_seconds(under_test.pid) - cpu_before
        loop_cpu = _cpu_seconds(under_test.pid, under_test.pid) - loop_before
        threads_after = _thread_cpu(under_test.pid)
        if profiler is not None and options.profile is not None:
            profiler.send_signal(signal.SIGINT)
            await profiler.wait()
            stacks = options.profile / f"{bot}-{data.name}.txt"
            _write_thread_cpu(
                stacks.with_suffix(".threads.tsv"),
                threads_before,
                threads_after,
                _thread_names(stacks),
            )
        delivered = sum(1 for it in records if it.original and it.original.attachments)
        latencies = [it.ack_latency for it in records if it.ack_latency is not None]
        missed = sum(
            1 for it in records if it.failed or it.ack_latency is None or it.ack_latency > DEADLINE
        )
        return Turn(
            bot=bot,
            ack_p50=percentile(latencies, 0.5),
            ack_p99=percentile(latencies, 0.99),
            cpu_per_image=cpu / delivered if delivered else math.nan,
            loop_cpu_share=loop_cpu / cpu if cpu > 0 else math.nan,
            bot_busy=bot_busy,
            emulator_busy=emulator_busy,
            overhead_p50=percentile(overheads, 0.5),
            overhead_p99=percentile(overheads, 0.99),
            peak_rss_mb=peak_rss_mb(under_test.pid),
            missed=missed,
            delivered=delivered,
            burst=options.burst,
        )
    except Exception as error:
        raise RuntimeError(f"{bot} failed its turn: {error}\n{under_test.stderr_tail()}") from error
    finally:
        await under_test.stop()


async def _profiler(folder: Path | None, pid: int, name: str) -> asyncio.subprocess.Process | None:
    """py-spy sampling whichever thread of ``pid`` holds the GIL (CPU, not waits), until SIGINT.

    Stacks start with the thread (``thread (tid): name``), which also names the threads
    in the per-thread CPU table written next to them (``*.threads.tsv``, from /proc).
    """
    if folder is None:
        return None
    spy = Path(sys.executable).with_name("py-spy")
    process = await asyncio.create_subprocess_exec(
        str(spy), "record", "--pid", str(pid), "--rate", "1000", "--format", "raw",
        "--output", str(folder / f"{name}.txt"), "--nonblocking", "--gil", "--threads",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await asyncio.sleep(1.0)  # py-spy needs a moment to attach
    return process


@contextlib.contextmanager
def competing_load(cores: float) -> Iterator[None]:
    """``cores`` worth of busy-loop, split over ceil(cores) processes, until the block ends."""
    import subprocess

    count = math.ceil(cores)
    spinners = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.cpu_load", str(cores / count)],
            cwd=REPO,
            stdin=subprocess.PIPE,
        )
        for _ in range(count)
    ]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.terminate()
            spinner.wait()


async def scenario(options: Options) -> list[tuple[Turn, Turn]]:
    """``rounds`` pairs (bare, imagine-bot), alternating which goes first."""
    discord_emu = DiscordEmulator()
    api = ApiProcess(latency=options.api_latency)
    await api.start()
    await discord_emu.start()
    pairs: list[tuple[Turn, Turn]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="imagine-side-by-side-") as folder:
            for index in range(options.rounds):
                order = (BARE, IMAGINE) if index % 2 == 0 else (IMAGINE, BARE)
                turns: dict[str, Turn] = {}
                for bot in order:
                    print(f"… round {index + 1}/{options.rounds}: {bot}", file=sys.stderr)
                    data = Path(folder) / f"round{index}-{bot}"
                    data.mkdir()
                    turns[bot] = await take_turn(bot, discord_emu, api, data, options)
                pairs.append((turns[BARE], turns[IMAGINE]))
    finally:
        await discord_emu.stop()
        await api.stop()
    return pairs


@dataclass(frozen=True)
class Metric:
    label: str
    field: str
    unit: str
    scale: float
    target: float | None
    digits: int = 1


METRICS = (
    Metric("acknowledgement p50", "ack_p50", "ms", 1000, None),
    Metric("acknowledgement p99", "ack_p99", "ms", 1000, 1.1),
    Metric("CPU per delivered image", "cpu_per_image", "ms", 1000, 1.5),
    Metric("… of which on the event loop's thread", "loop_cpu_share", "%", 100, None),
    Metric("cores busy while acknowledging: the bot", "bot_busy", "", 1, None, 2),
    Metric("… the Discord emulator", "emulator_busy", "", 1, None, 2),
    Metric("overhead p50", "overhead_p50", "ms", 1000, 1.0),
    Metric("overhead p99", "overhead_p99", "ms", 1000, 1.0),
    Metric("peak RSS", "peak_rss_mb", "MB", 1, None),
)


def _span(values: Sequence[float], digits: int, suffix: str = "") -> str:
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:.{digits}f}{suffix}"
    return f"{median:.{digits}f}{suffix} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def report(pairs: Sequence[tuple[Turn, Turn]]) -> str:
    """A markdown table: medians over rounds, (min–max) when there was more than one round."""
    rows = [
        "| measurement | bare bot | imagine-bot | ratio | target |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for metric in METRICS:
        bare = [getattr(b, metric.field) * metric.scale for b, _ in pairs]
        ours = [getattr(o, metric.field) * metric.scale for _, o in pairs]
        ratios = [o / b if b > 0 else math.nan for b, o in zip(bare, ours, strict=True)]
        target = f"≤ {metric.target:g}×" if metric.target is not None else ""
        unit = f" {metric.unit}" if metric.unit else ""
        if metric.field == "peak_rss_mb":
            target = "≤ 150 MB (imagine-bot)"
        rows.append(
            f"| {metric.label} | {_span(bare, metric.digits, unit)} "
            f"| {_span(ours, metric.digits, unit)} | {_span(ratios, 2, '×')} | {target} |"
        )
    missed = [(b.missed, o.missed) for b, o in pairs]
    delivered = [(b.delivered, o.delivered) for b, o in pairs]
    burst = pairs[0][0].burst
    rows.append(
        f"| missed acknowledgements (> 3 s), all rounds | {sum(b for b, _ in missed)} "
        f"| {sum(o for _, o in missed)} | | 0 |"
    )
    rows.append(
        f"| images delivered per burst of {burst} | {min(b for b, _ in delivered)} "
        f"| {min(o for _, o in delivered)} | | all |"
    )
    return "\n".join(rows)


def run(options: Options, loads: Sequence[float]) -> str:
    if options.profile is not None:
        options.profile.mkdir(parents=True, exist_ok=True)
    sections = []
    for load in loads:
        title = (
            "quiet (no added load)"
            if load <= 0
            else f"under a steady competing load of {load:g} core(s) of busy-loop"
        )
        print(f"… side by side, {title}", file=sys.stderr)
        if load > 0:
            with competing_load(load):
                pairs = asyncio.run(scenario(options))
        else:
            pairs = asyncio.run(scenario(options))
        sections.append(
            f"### Side by side, {title}\n\n{options.rounds} round(s), burst of {options.burst} "
            f"at once, API latency {options.api_latency:g} s; medians (min–max over rounds), "
            f"ratio = imagine-bot ÷ bare bot per round.\n\n{report(pairs)}"
        )
    return "\n\n".join(sections)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = Options()
    parser.add_argument(
        "--burst", type=int, default=defaults.burst, help="members at once, all in flight"
    )
    parser.add_argument(
        "--overhead-jobs",
        type=int,
        default=defaults.overhead_jobs,
        help="jobs one at a time for the overhead",
    )
    parser.add_argument(
        "--api-latency", type=float, default=defaults.api_latency, help="seconds per generation"
    )
    parser.add_argument(
        "--rounds", type=int, default=defaults.rounds, help="pairs of turns, order alternating"
    )
    parser.add_argument(
        "--load",
        type=float,
        nargs="+",
        default=[0.0, 0.5],
        help="scenarios: cores of steady competing busy-loop (0 = quiet)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="folder for py-spy's collapsed stacks of each burst (needs py-spy installed)",
    )


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        burst=args.burst,
        overhead_jobs=args.overhead_jobs,
        api_latency=args.api_latency,
        rounds=args.rounds,
        profile=args.profile,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="imagine-bot side by side with a bare bot")
    add_arguments(parser)
    args = parser.parse_args(argv)
    print(run(options_from(args), args.load))


if __name__ == "__main__":
    main()
