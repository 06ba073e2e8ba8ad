"""``imagine-bot check`` and ``imagine-bot invite``, run as an owner runs them.

Each test runs the real command in a subprocess against the local Discord and image
API emulators, with settings passed the way ``.env`` passes them, and reads what the
owner would read: one PASS/FAIL line per check and the exit status.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.doctor import invite_url
from tests.e2e.harness import start_harness
from tests.emulators.discord import DiscordEmulator, Permission
from tests.emulators.siraya import Fault, SirayaEmulator

REPO = Path(__file__).resolve().parents[1]
WAIT = 15.0
TOKEN_LIFETIME = 15 * 60

# Discord's documented bit values, written out here rather than imported from the bot, so
# that a change to what the bot asks for has to be made deliberately in both places.
NEEDED = {
    "VIEW_CHANNEL": 1 << 10,
    "SEND_MESSAGES": 1 << 11,
    "EMBED_LINKS": 1 << 14,
    "ATTACH_FILES": 1 << 15,
    "READ_MESSAGE_HISTORY": 1 << 16,
    "SEND_MESSAGES_IN_THREADS": 1 << 38,
}
BOT_VARIABLES = (
    "DISCORD_TOKEN",
    "SIRAYA_API_KEY",
    "SIRAYA_BASE_URL",
    "SIRAYA_MODEL",
    "DISCORD_API_BASE_URL",
    "DATABASE_URL",
    "COMMAND_GUILD_IDS",
    "HEALTH_FILE",
    "METRICS_PORT",
    "ENV_FILE",
    "MAX_CONCURRENT_JOBS",
)


@dataclass
class Owner:
    """Two emulators and a working ``.env``: each test breaks one thing."""

    discord: DiscordEmulator
    api: SirayaEmulator
    env: dict[str, str]
    workdir: Path

    async def run(self, command: str, **changes: str) -> tuple[int, list[str], str]:
        """``imagine-bot <command>`` with ``changes`` applied to the owner's settings."""
        base = {k: v for k, v in os.environ.items() if k not in BOT_VARIABLES}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            command,
            cwd=self.workdir,  # no stray .env from the repository is read
            env={**base, **self.env, **changes, "PYTHONPATH": str(REPO)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(60):  # the emulators keep serving on this loop meanwhile
            out, err = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode().splitlines(), err.decode()


def closed_port_url(path: str) -> str:
    """An address where nothing listens: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


@pytest.fixture
async def owner(tmp_path: Path) -> AsyncIterator[Owner]:
    discord = DiscordEmulator()
    api = SirayaEmulator()
    await discord.start()
    api_url = await api.start()
    env = {
        "DISCORD_TOKEN": discord.bot_token,
        "SIRAYA_API_KEY": api.api_key,
        "SIRAYA_BASE_URL": api_url,
        "DISCORD_API_BASE_URL": discord.base_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'imagine.db'}",
    }
    try:
        yield Owner(discord, api, env, tmp_path)
    finally:
        await api.stop()
        await discord.stop()


def by_check(lines: list[str]) -> Mapping[str, str]:
    """``{"database": "PASS  database: …", …}``"""
    return {line.split(":", 1)[0].split(None, 1)[1]: line for line in lines}


# -- check ------------------------------------------------------------------------------------


async def test_check_passes_every_line_with_good_settings(owner: Owner) -> None:
    code, lines, err = await owner.run("check")
    assert code == 0, (lines, err)
    assert [line.split(":")[0] for line in lines] == [
        "PASS  database",
        "PASS  retention",
        "PASS  personal use",
        "PASS  discord",
        "PASS  image api",
    ]
    assert owner.discord.bot_user.username in by_check(lines)["discord"]
    assert "usage log kept 180 days" in by_check(lines)["retention"]
    assert "audit log 365 days" in by_check(lines)["retention"]
    assert "no spend shown" in by_check(lines)["retention"]
    assert (owner.workdir / "data" / "imagine.db").is_file(), "the database was created"
    assert all(not r.json or "prompt" not in r.json for r in owner.api.requests), (
        "check never asks for an image, so it never spends credit"
    )


async def test_check_shows_the_retention_and_price_in_force(owner: Owner) -> None:
    code, lines, _ = await owner.run(
        "check", RETENTION_DAYS="30", AUDIT_RETENTION_DAYS="90", SIRAYA_PRICE_PER_MEGAPIXEL="0.025"
    )
    assert code == 0, lines
    line = by_check(lines)["retention"]
    assert "usage log kept 30 days" in line and "audit log 90 days" in line
    assert "$0.025 per megapixel" in line


@pytest.mark.parametrize(
    ("env", "state", "expected"),
    [
        pytest.param({}, "PASS", "off: images only in servers", id="off"),
        pytest.param(
            {"PERSONAL_USE": "members", "COMMAND_GUILD_IDS": ""},
            "PASS",
            "members of a server the bot is in can also generate in DMs",
            id="members",
        ),
        pytest.param(
            {"PERSONAL_USE": "everyone", "PERSONAL_DAILY_LIMIT": "2"},
            "PASS",
            "anyone who installs the app can also generate in DMs, group DMs and servers "
            "without the bot, up to 2 image(s) each per UTC day, billed to you",
            id="everyone",
        ),
        pytest.param(
            {"PERSONAL_USE": "members", "COMMAND_GUILD_IDS": "123"},
            "WARN",
            "COMMAND_GUILD_IDS now carries only /quota and /settings",
            id="guild-ids-warned",
        ),
        pytest.param(
            {"PERSONAL_USE": "everyone", "PERSONAL_DAILY_LIMIT": "0"},
            "FAIL",
            "cannot work: nobody can generate outside servers",
            id="zero-limit-fails",
        ),
    ],
)
async def test_check_explains_personal_use_and_what_it_costs(
    owner: Owner, env: dict[str, str], state: str, expected: str
) -> None:
    code, lines, _ = await owner.run("check", **env)
    line = by_check(lines)["personal use"]
    assert line.startswith(state), line
    assert expected in line
    assert code == (1 if state == "FAIL" else 0), lines


async def test_invite_adds_a_user_install_link_when_personal_use_is_on(owner: Owner) -> None:
    code, lines, err = await owner.run("invite", PERSONAL_USE="everyone")
    assert code == 0, err
    server, user = (invite_query([line]) for line in lines)
    assert sorted(server["scope"][0].split()) == ["applications.commands", "bot"]
    assert user["integration_type"] == ["1"] and user["scope"] == ["applications.commands"]
    assert user["client_id"] == [str(owner.discord.application_id)]
    assert "billed to you" in err


async def test_a_bad_retention_setting_is_named_and_not_reported_as_in_force(
    owner: Owner,
) -> None:
    code, lines, _ = await owner.run("check", RETENTION_DAYS="forever")
    assert code == 2
    assert lines[0].startswith("FAIL  setting RETENTION_DAYS")
    assert by_check(lines)["retention"] == "FAIL  retention: not tried: fix RETENTION_DAYS first"


async def test_a_wrong_discord_token_fails_the_discord_line(owner: Owner) -> None:
    wrong = owner.discord.bot_token[:-4] + "abcd"
    code, lines, _ = await owner.run("check", DISCORD_TOKEN=wrong)
    assert code != 0
    checks = by_check(lines)
    assert checks["discord"].startswith("FAIL") and "DISCORD_TOKEN (401)" in checks["discord"]
    assert checks["database"].startswith("PASS") and checks["image api"].startswith("PASS")
    assert wrong not in "\n".join(lines), "the token is never printed"


async def test_a_wrong_api_key_fails_the_image_api_line(owner: Owner) -> None:
    code, lines, _ = await owner.run("check", SIRAYA_API_KEY="sk-not-the-key")
    assert code != 0
    line = by_check(lines)["image api"]
    assert line.startswith("FAIL") and "SIRAYA_API_KEY (401)" in line
    assert "sk-not-the-key" not in "\n".join(lines)
    assert by_check(lines)["discord"].startswith("PASS")


async def test_an_unreachable_api_fails_the_image_api_line(owner: Owner) -> None:
    code, lines, _ = await owner.run("check", SIRAYA_BASE_URL=closed_port_url("/v1"))
    assert code != 0
    line = by_check(lines)["image api"]
    assert line.startswith("FAIL  image api: cannot reach http://127.0.0.1:"), line


async def test_an_unreachable_discord_fails_the_discord_line(owner: Owner) -> None:
    code, lines, _ = await owner.run("check", DISCORD_API_BASE_URL=closed_port_url("/api/v10"))
    assert code != 0
    assert by_check(lines)["discord"].startswith("FAIL  discord: cannot reach")


async def test_an_account_out_of_credit_is_named(owner: Owner) -> None:
    owner.api.fail_next(Fault.status(402))
    code, lines, _ = await owner.run("check")
    assert code != 0
    assert "out of credit (402)" in by_check(lines)["image api"]


async def test_an_unusable_database_fails_the_database_line(owner: Owner) -> None:
    not_a_folder = owner.workdir / "file"
    not_a_folder.write_text("")
    code, lines, _ = await owner.run("check", DATABASE_URL=f"sqlite:///{not_a_folder}/bot.db")
    assert code != 0
    checks = by_check(lines)
    assert checks["database"].startswith("FAIL  database:")
    assert checks["discord"].startswith("PASS"), "one broken thing does not hide the others"


async def test_check_with_a_missing_setting_names_it(owner: Owner) -> None:
    code, lines, _ = await owner.run("check", SIRAYA_API_KEY="")
    assert code == 2, "bad configuration"
    checks = by_check(lines)
    assert lines[0].startswith("FAIL  setting SIRAYA_API_KEY: is required but not set (no ")
    assert checks["image api"] == "FAIL  image api: not tried: fix SIRAYA_API_KEY first"
    assert checks["database"].startswith("PASS") and checks["discord"].startswith("PASS")


async def test_check_lists_every_bad_setting_then_runs_what_it_still_can(owner: Owner) -> None:
    code, lines, _ = await owner.run(
        "check", SIRAYA_API_KEY="", MAX_CONCURRENT_JOBS="lots", DATABASE_URL="mysql://db/x"
    )
    assert code == 2
    assert [line.split(":")[0] for line in lines] == [
        "FAIL  setting SIRAYA_API_KEY",
        "FAIL  setting DATABASE_URL",
        "FAIL  setting MAX_CONCURRENT_JOBS",
        "FAIL  database",
        "PASS  retention",
        "PASS  personal use",
        "PASS  discord",
        "FAIL  image api",
    ]
    assert "not tried: fix DATABASE_URL first" in lines[3]
    assert not (owner.workdir / "data").exists(), "no database was made from a default"


# -- invite -----------------------------------------------------------------------------------


def invite_query(lines: list[str]) -> dict[str, list[str]]:
    assert len(lines) == 1, lines
    url = urlsplit(lines[0])
    assert (url.scheme, url.netloc, url.path) == ("https", "discord.com", "/oauth2/authorize")
    return parse_qs(url.query)


async def test_invite_prints_the_url_with_both_scopes_and_exactly_the_needed_permissions(
    owner: Owner,
) -> None:
    code, lines, _ = await owner.run("invite")
    assert code == 0
    query = invite_query(lines)
    assert query["client_id"] == [str(owner.discord.application_id)]
    assert sorted(query["scope"][0].split()) == ["applications.commands", "bot"]
    assert query["permissions"] == [str(sum(NEEDED.values()))]


async def test_invite_needs_only_the_token(owner: Owner) -> None:
    code, lines, err = await owner.run(
        "invite", SIRAYA_API_KEY="", DATABASE_URL="", SIRAYA_BASE_URL="", DISCORD_API_BASE_URL=""
    )
    assert code == 0, err
    assert invite_query(lines)["client_id"] == [str(owner.discord.application_id)]


async def test_invite_without_a_token_says_where_it_looked(owner: Owner) -> None:
    code, lines, err = await owner.run("invite", DISCORD_TOKEN="")
    assert code == 2 and lines == []
    assert "DISCORD_TOKEN is required" in err and str(owner.workdir / ".env") in err
    assert "SIRAYA_API_KEY" not in err


async def test_invite_with_a_malformed_token_says_so(owner: Owner) -> None:
    code, lines, err = await owner.run("invite", DISCORD_TOKEN="not-a-token")
    assert code == 2 and lines == []
    assert "DISCORD_TOKEN does not look like a bot token" in err


async def test_the_invited_permissions_are_enough_to_serve_members(tmp_path: Path) -> None:
    """A server where the bot has only what the invite asks for.

    Interaction responses need no channel permission; the post in the channel when a
    member's token expired during a long generation does (message, embed, files,
    buttons). That is the path exercised here, and it must not meet a 403: without any
    one of View Channels, Send Messages, Embed Links or Attach Files this test fails.
    (Read Message History and Send Messages in Threads serve paths not driven here.)
    """
    world = await start_harness(tmp_path, start_bot=False)
    try:
        permissions = int(
            invite_query([invite_url(world.discord.application_id)])["permissions"][0]
        )
        server = world.discord.add_guild(
            "Invited", everyone_permissions=0, bot_permissions=permissions
        )
        channel = server.add_channel("art")
        members = server.add_role(
            "Members",
            permissions=Permission.VIEW_CHANNEL
            | Permission.SEND_MESSAGES
            | Permission.USE_APPLICATION_COMMANDS,
        )
        alice = server.add_member("alice", roles=[members])
        world.settings = dataclasses.replace(
            world.settings, command_guild_ids=(world.guild.id, server.id)
        )
        await world.start_bot()
        await world.discord.wait_until_commands_synced(server, timeout=WAIT)
        world.api.hold()  # the API is "working" until released
        try:
            it = await world.discord.run_slash_command(alice, channel, "imagine", prompt="a fox")
            await it.acknowledged(timeout=WAIT)
            await it.wait_for_original(lambda m: "Generating" in m.content, timeout=WAIT)
            world.discord.clock.advance(TOKEN_LIFETIME + 1)  # the member's token expires
        finally:
            world.api.release()
        posted = await world.discord.wait_for_message(
            channel, lambda m: alice.mention in m.content, timeout=WAIT, include_existing=False
        )
        assert len(posted.attachments) == 1 and posted.embeds and posted.buttons
        assert {e.code for e in world.discord.errors} <= {50027}, "no 403 Missing Permissions"
        assert world.discord.interaction_failures == []
    finally:
        await world.close()
