"""Job ids in logs: an owner greps ``job=42`` and sees one request's whole story."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from bot.joblog import JobIdFilter, current_job, install_job_ids, job_context
from bot.logs import RedactSecrets


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def handlers() -> Iterator[tuple[Collect, Collect]]:
    """Two handlers on the root logger, as with a console and a file."""
    root = logging.getLogger()
    first, second = Collect(), Collect()
    previous = root.level
    root.setLevel(logging.INFO)
    root.addHandler(first)
    root.addHandler(second)
    install_job_ids([first, second])
    try:
        yield first, second
    finally:
        root.removeHandler(first)
        root.removeHandler(second)
        root.setLevel(previous)


def test_lines_inside_a_job_carry_its_id_from_any_module(
    handlers: tuple[Collect, Collect],
) -> None:
    first, second = handlers
    with job_context(42):
        logging.getLogger("bot.jobs.service").info("reserved %d image(s)", 2)
        logging.getLogger("discord.http").info("PATCH webhook")
    logging.getLogger("bot.app").info("idle")
    assert first.lines == [
        "bot.jobs.service: job=42 reserved 2 image(s)",
        "discord.http: job=42 PATCH webhook",
        "bot.app: idle",
    ]
    assert second.lines == first.lines, "tagged once, whatever the number of handlers"


async def test_concurrent_jobs_keep_their_own_ids(handlers: tuple[Collect, Collect]) -> None:
    log = logging.getLogger("bot.jobs.service")
    both_started = asyncio.Barrier(2)

    async def run(job: int) -> None:
        with job_context(job):
            log.info("start")
            await both_started.wait()  # interleave the two jobs' lines
            await asyncio.create_task(asyncio.sleep(0))  # a child task inherits the id
            log.info("done")

    await asyncio.gather(run(1), run(2))
    lines = handlers[0].lines
    assert sorted(lines) == sorted(
        f"bot.jobs.service: job={job} {what}" for job in (1, 2) for what in ("start", "done")
    )
    assert current_job() is None


async def test_a_task_started_in_a_job_logs_with_its_id(handlers: tuple[Collect, Collect]) -> None:
    async def progress() -> None:
        logging.getLogger("cogs.common.flow").info("editing progress line")

    with job_context("7"):
        task = asyncio.create_task(progress())
    await task
    assert handlers[0].lines == ["cogs.common.flow: job=7 editing progress line"]


def test_nested_contexts_restore_the_outer_job() -> None:
    with job_context(1):
        with job_context(2):
            assert current_job() == "2"
        assert current_job() == "1"
    assert current_job() is None


def test_the_id_and_secret_redaction_work_together(handlers: tuple[Collect, Collect]) -> None:
    first, _ = handlers
    first.addFilter(RedactSecrets(["sk-secret"]))
    with job_context(9):
        logging.getLogger("aiohttp").info("header Bearer %s", "sk-secret")
    assert first.lines == ["aiohttp: job=9 header Bearer [redacted]"]


def test_installing_twice_adds_one_filter() -> None:
    handler = Collect()
    install_job_ids([handler])
    install_job_ids([handler])
    assert sum(isinstance(f, JobIdFilter) for f in handler.filters) == 1
