"""``imagine-bot copy-data``: an owner moves the bot to another database and nothing is lost.

A bot on SQLite serves a server for a while (limits, a budget, rules, a reset, results
with buttons). Then it is stopped, the real ``python -m bot copy-data`` runs in a
subprocess, and a bot started on the target shows every member the same ``/usage``,
refuses the same prompts and answers the buttons under the old results: SQLite to
PostgreSQL and back, and SQLite to SQLite to check every table of the schema exactly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pty
import re
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.core.conftest import fresh_schema, postgres_url
from tests.e2e.harness import Harness
from tests.emulators.discord import Member, Message
from tests.emulators.discord.interactions import CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE

pytestmark = pytest.mark.asyncio(loop_scope="module")

REPO = Path(__file__).resolve().parents[2]
WAIT = 15.0
BOOKKEEPING = {"schema_version", "sqlite_sequence"}


# -- what members and moderators see -----------------------------------------------------------


async def private_reply(world: Harness, who: Member, path: str, /, **options: Any) -> Message:
    it = await world.discord.run_slash_command(who, world.general, path, **options)
    await it.acknowledged(timeout=WAIT)
    assert it.response_type == CHANNEL_MESSAGE, it
    reply = await it.wait_for_original(timeout=WAIT)
    assert reply.ephemeral, reply
    return reply


async def moderate(world: Harness, path: str, /, **options: Any) -> str:
    return (await private_reply(world, world.moderator, path, **options)).text()


async def usage(world: Harness, member: Member) -> dict[str, Any]:
    embed = (await private_reply(world, member, "usage")).embeds[0]
    return {
        "description": embed["description"],
        **{f["name"]: f["value"] for f in embed.get("fields", [])},
    }


async def imagine(world: Harness, member: Member, prompt: str, count: int = 1) -> Message:
    it = await world.discord.run_slash_command(
        member, world.general, "imagine", prompt=prompt, count=count
    )
    await it.acknowledged(timeout=WAIT)
    assert not it.ephemeral, it
    return await it.wait_for_original(lambda m: len(m.attachments) == count, timeout=WAIT)


async def refusal(world: Harness, member: Member, prompt: str) -> str:
    reply = await private_reply(world, member, "imagine", prompt=prompt)
    return reply.text()


async def reroll_works(world: Harness, member: Member, result: Message) -> None:
    """The Re-roll button under a result posted by the bot on the old database."""
    it = await world.discord.press_button(member, result, label="Re-roll")
    await it.acknowledged(timeout=WAIT)
    assert it.response_type == DEFERRED_CHANNEL_MESSAGE, it
    fresh = await it.wait_for_original(lambda m: bool(m.attachments), timeout=WAIT)
    assert not fresh.ephemeral
    assert world.discord.interaction_failures == []


@dataclass
class Story:
    """What the server had on the first database, and the members to ask about it."""

    members: dict[str, Member]
    results: dict[str, Message]
    seen: dict[str, dict[str, Any]]
    blocked_refusal: str
    database: Path


async def everything_they_see(world: Harness, story: Story) -> dict[str, dict[str, Any]]:
    return {
        name: {
            **await usage(world, member),
            "preferences": (await private_reply(world, member, "preferences show")).text(),
        }
        for name, member in story.members.items()
    }


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def story(world: Harness) -> AsyncIterator[Story]:
    painters = world.guild.add_role("Painters")
    members = {
        "alice": world.member("alice"),
        "bob": world.member("bob"),
        "carol": world.member("carol", roles=(painters,)),
        "frank": world.member("frank"),
    }
    await moderate(world, "quota set-default", limit=7)
    await moderate(world, "quota set-role", role=painters, limit=9)
    await moderate(world, "quota set-user", member=members["bob"], limit=3)
    await moderate(world, "quota set-server", limit=500)
    await moderate(world, "settings block-word", word="dragon")
    await moderate(world, "settings nsfw-safety", state="off")
    results = {
        "alice": await imagine(world, members["alice"], "two red foxes", count=2),
        "bob": await imagine(world, members["bob"], "a small boat"),
    }
    await imagine(world, members["frank"], "a green apple")
    await moderate(world, "quota reset", member=members["frank"])
    await moderate(world, "settings add-style", name="Ink", text="ink wash, soft paper")
    await private_reply(world, members["carol"], "preferences set", style="ink", steps=30)
    await imagine(world, members["carol"], "a blue door")  # in her style, from her defaults
    seen = await everything_they_see(world, Story(members, {}, {}, "", Path()))
    blocked = await refusal(world, members["bob"], "a dragon over the hills")
    await world.stop_bot()  # a clean stop: the owner stops the bot before copying
    url = world.settings.database_url
    yield Story(members, results, seen, blocked, Path(url.removeprefix("sqlite:///")))


async def copy_data(*args: str, stderr: int | None = None) -> tuple[int, str, str]:
    """The real command, as the owner types it."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ENV_FILE")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "copy-data",
        *args,
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE if stderr is None else stderr,
    )
    async with asyncio.timeout(120):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), (err or b"").decode()


async def start_on(world: Harness, database_url: str) -> None:
    world.settings = dataclasses.replace(world.settings, database_url=database_url)
    await world.start_bot()


def summary_rows(out: str) -> dict[str, int]:
    rows = re.findall(r"^  (\w+)\s+(\d+)$", out, re.MULTILINE)
    return {name: int(count) for name, count in rows if name != "total"}


def sqlite_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of a SQLite database (its own bookkeeping aside) with all its rows."""
    with sqlite3.connect(path) as conn:
        names = [
            row[0]
            for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if row[0] not in BOOKKEEPING
        ]
        return {name: sorted(conn.execute(f'SELECT * FROM "{name}"'), key=repr) for name in names}


# -- the moves -----------------------------------------------------------------------------------


async def test_every_table_of_the_migrated_schema_is_copied_exactly(
    world: Harness, story: Story, tmp_path: Path
) -> None:
    target = tmp_path / "copy.db"
    code, out, err = await copy_data(f"sqlite:///{story.database}", f"sqlite:///{target}")
    assert code == 0, err
    source = sqlite_tables(story.database)
    copied = sqlite_tables(target)
    assert set(summary_rows(out)) == set(source), "every table of the schema is in the copy"
    for name, rows in source.items():
        assert copied[name] == rows, f"table {name} differs after the copy"
        assert summary_rows(out)[name] == len(rows)
    for name in ("generations", "member_limits", "role_limits", "guild_settings", "audit_log"):
        assert source[name], f"the story left {name} empty, so it proves nothing"
    assert source["usage_resets"] and source["blocked_words"] and source["guild_daily_usage"]
    assert source["guild_styles"] and source["member_preferences"]
    assert any("ink wash, soft paper" in row for row in source["generations"])


async def test_sqlite_to_postgresql_and_back_keeps_what_members_see(
    world: Harness, story: Story, tmp_path: Path
) -> None:
    url = postgres_url()
    async with fresh_schema(url) as schema:
        separator = "&" if "?" in url else "?"
        pg_url = f"{url}{separator}search_path={schema}"
        code, out, err = await copy_data(f"sqlite:///{story.database}", pg_url)
        assert code == 0, err
        assert summary_rows(out)["generations"] == 4, out

        await start_on(world, pg_url)
        try:
            assert await everything_they_see(world, story) == story.seen
            assert await refusal(world, story.members["bob"], "a dragon over the hills") == (
                story.blocked_refusal
            )
            await reroll_works(world, story.members["alice"], story.results["alice"])
            seen_on_postgres = await everything_they_see(world, story)
        finally:
            await world.stop_bot()
        assert seen_on_postgres != story.seen, "the re-roll was charged on PostgreSQL"

        back = tmp_path / "back.db"
        code, out, err = await copy_data(pg_url, f"sqlite:///{back}")
        assert code == 0, err
        await start_on(world, f"sqlite:///{back}")
        try:
            assert await everything_they_see(world, story) == seen_on_postgres
            assert await refusal(world, story.members["bob"], "a dragon over the hills") == (
                story.blocked_refusal
            )
            await reroll_works(world, story.members["bob"], story.results["bob"])
        finally:
            await world.stop_bot()


async def test_a_target_that_holds_data_is_refused_unless_forced(
    world: Harness, story: Story, tmp_path: Path
) -> None:
    target = tmp_path / "busy.db"
    assert (await copy_data(f"sqlite:///{story.database}", f"sqlite:///{target}"))[0] == 0
    with sqlite3.connect(target) as conn:
        conn.execute("INSERT INTO blocked_words (guild_id, word) VALUES (1, 'only-in-target')")
    code, out, err = await copy_data(f"sqlite:///{story.database}", f"sqlite:///{target}")
    assert code == 1 and out == ""
    assert "the target already holds data" in err and "--force" in err
    code, _, err = await copy_data(f"sqlite:///{story.database}", f"sqlite:///{target}", "--force")
    assert code == 0, err
    assert sqlite_tables(target) == sqlite_tables(story.database), "replaced, not merged"


async def test_a_bot_running_on_the_source_is_refused(
    world: Harness, story: Story, tmp_path: Path
) -> None:
    busy = tmp_path / "live.db"
    assert (await copy_data(f"sqlite:///{story.database}", f"sqlite:///{busy}"))[0] == 0
    world.api.hold()
    await start_on(world, f"sqlite:///{busy}")
    try:
        it = await world.discord.run_slash_command(
            story.members["alice"], world.general, "imagine", prompt="a slow painting"
        )
        await it.acknowledged(timeout=WAIT)
        await world.api.wait_for_requests(len(world.api.requests) + 1, timeout=WAIT)
        code, out, err = await copy_data(f"sqlite:///{busy}", f"sqlite:///{tmp_path / 'x.db'}")
        assert code == 1 and out == ""
        assert "a bot is running on the source" in err and "Stop the bot first" in err
    finally:
        world.api.release()
        await world.stop_bot()


async def test_bad_urls_are_named(world: Harness, story: Story) -> None:
    code, _, err = await copy_data("mysql://db/x", f"sqlite:///{story.database}")
    assert code == 2 and err.startswith("imagine-bot: SOURCE_URL must look like")
    folder = story.database.parent
    respelt = f"sqlite:///{folder}/../{folder.name}/{story.database.name}"  # the same file
    code, _, err = await copy_data(f"sqlite:///{story.database}", respelt)
    assert code == 1 and "name the same database" in err


async def test_a_long_usage_log_shows_a_progress_bar_on_a_terminal(
    world: Harness, story: Story, tmp_path: Path
) -> None:
    source = tmp_path / "long.db"
    assert (await copy_data(f"sqlite:///{story.database}", f"sqlite:///{source}"))[0] == 0
    with sqlite3.connect(source) as conn:
        conn.executemany(
            "INSERT INTO audit_log (guild_id, actor_id, action, at) VALUES (?, ?, ?, ?)",
            [(1, 2, "set-user", "2025-03-14T12:00:00.000000+00:00")] * 3000,
        )
        total = conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    main, terminal = pty.openpty()
    try:
        code, out, _ = await copy_data(
            f"sqlite:///{source}", f"sqlite:///{tmp_path / 'long-copy.db'}", stderr=terminal
        )
        os.close(terminal)
        terminal = -1
        shown = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main)
        if terminal != -1:
            os.close(terminal)
    assert code == 0
    assert f"audit_log [{'#' * 30}] {total}/{total} rows 100%" in shown.decode()
    assert summary_rows(out)["audit_log"] == total
