"""``python -m bot`` / ``imagine-bot``: the owner's command line.

``run`` (the default) starts the bot; ``check``, ``invite``, ``health`` and ``copy-data``
help an owner set up, supervise and move it. Each command explains itself
(``imagine-bot <command> --help``) and ends with a documented exit status, so a
supervisor or a script can act on it: 0 fine, 1 a check failed, 2 bad configuration
(or bad usage of the command line itself).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import textwrap
from collections.abc import Sequence

import aiohttp
import discord

from bot import package_version
from bot.app import ImagineBot
from bot.config import (
    ConfigError,
    ConfigProblems,
    Environment,
    PersonalUse,
    Settings,
    discord_token_setting,
    health_file_setting,
    merged_environment,
    personal_use_setting,
    read_settings,
)
from bot.doctor import application_id_from_token, invite_url, run_checks, user_install_url
from bot.eventloop import loop_factory
from bot.health import health_command
from bot.joblog import install_job_ids
from bot.logs import configure_logging, database_password
from bot.ops import OperationsError
from bot.store import StoreError, open_store

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2

EXIT_CODES = """\
exit status:
  0  fine
  1  a check failed (check, health), or copy-data refused or failed
  2  bad configuration: a missing or malformed setting, or bad arguments

Settings come from the environment and from the file ENV_FILE names (default ./.env);
every variable is described in .env.example."""


def _fail(message: str) -> int:
    for line in message.splitlines():
        print(f"imagine-bot: {line}", file=sys.stderr)
    return EXIT_CONFIG


def _settings(env: Environment) -> Settings:
    """Validated settings; raises :class:`ConfigProblems` listing every bad one."""
    settings = read_settings(env)
    env.raise_problems()
    return settings


async def run(settings: Settings) -> None:
    """Open the database, then run until Discord disconnects for good or a signal stops it.

    The database comes first so that a bad DATABASE_URL is the first thing reported,
    before (and regardless of) whether Discord is reachable.
    """
    store = await open_store(settings.database_url, price=settings.price_per_megapixel)
    bot = ImagineBot(settings, store=store)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: asyncio.ensure_future(bot.close()))
    try:
        async with bot:
            await bot.start(settings.discord_token.reveal())
    finally:
        await bot.close()  # waits for a shutdown already under way; closes the database


def command_run(_: argparse.Namespace) -> int:
    try:
        settings = _settings(merged_environment())
    except ConfigError as error:
        return _fail(str(error))
    configure_logging(
        settings.log_level,
        [
            settings.discord_token.reveal(),
            settings.siraya_api_key.reveal(),
            database_password(settings.database_url),
        ],
    )
    install_job_ids()
    try:
        with asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as runner:
            runner.run(run(settings))
    except discord.LoginFailure:
        return _fail(
            "Discord rejected DISCORD_TOKEN (401 Unauthorized). Copy the bot token from the "
            "Developer Portal → your application → Bot → Reset Token (see .env.example)"
        )
    except discord.PrivilegedIntentsRequired:
        return _fail("Discord refused a privileged intent; this bot needs none (see README)")
    except aiohttp.ClientConnectionError as error:
        return _fail(
            f"cannot reach Discord at DISCORD_API_BASE_URL={settings.discord_api_base_url} "
            f"({type(error).__name__})"
        )
    except OperationsError as error:
        return _fail(str(error))
    except (StoreError, OSError) as error:
        return _fail(f"cannot open the database at DATABASE_URL: {error}")
    except KeyboardInterrupt:
        return EXIT_OK
    return EXIT_OK


def command_check(_: argparse.Namespace) -> int:
    """Print every bad setting, then one line per check that can still run."""
    env = merged_environment()
    settings = read_settings(env)
    for problem in env.problems:
        print(f"FAIL  setting {problem.variable}: {problem.problem} ({problem.hint})")
    bad = frozenset(problem.variable for problem in env.problems)
    results = asyncio.run(run_checks(settings, bad))
    for result in results:
        print(result.line())
    if env.problems:
        return EXIT_CONFIG
    return EXIT_OK if all(result.ok for result in results) else EXIT_FAILED


def command_invite(_: argparse.Namespace) -> int:
    env = merged_environment()
    try:
        token = discord_token_setting(env)
        personal = personal_use_setting(env)
    except ConfigError as error:
        return _fail(str(error))
    application_id = application_id_from_token(token.reveal())
    if application_id is None:
        return _fail("DISCORD_TOKEN does not look like a bot token (see .env.example)")
    print(invite_url(application_id))
    if personal.enabled:
        # Second line: members add the app to their own account (PERSONAL_USE is on).
        print(user_install_url(application_id))
        print(
            f"The first link adds the bot to a server; the second lets "
            f"{'members of its servers' if personal is PersonalUse.MEMBERS else 'anyone'} "
            "add it to their own account (PERSONAL_USE), each image billed to you.",
            file=sys.stderr,
        )
    return EXIT_OK


def command_health(_: argparse.Namespace) -> int:
    """Docker's HEALTHCHECK: needs no token, and only ever exits 0 or 1."""
    env = merged_environment()
    path = health_file_setting(env)
    if env.problems:
        print(f"unhealthy: {ConfigProblems(env.problems)}")
        return EXIT_FAILED
    return health_command(path)


def command_copy_data(args: argparse.Namespace) -> int:
    from bot.copydata import copy_data_command

    return copy_data_command(args.source, args.target, force=args.force, fail=_fail)


COMMANDS = {
    "run": command_run,
    "check": command_check,
    "invite": command_invite,
    "health": command_health,
    "copy-data": command_copy_data,
}


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Our line breaks kept; one line per command in the list, however long its name."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=24, width=100)

    def add_argument(self, action: argparse.Action) -> None:
        super().add_argument(action)
        if action.choices and not action.option_strings:
            # argparse measures the commands at the list's indent but prints them 2 deeper,
            # so `copy-data` would get a line of its own.
            self._action_max_length += 2


def build_parser() -> argparse.ArgumentParser:
    formatter = _HelpFormatter
    parser = argparse.ArgumentParser(
        prog="imagine-bot",
        description="A self-hostable Discord bot: /imagine with FLUX.1 SRPO.",
        epilog=EXIT_CODES,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"imagine-bot {package_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def command(name: str, summary: str, details: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=summary,
            description=textwrap.fill(details, 79),
            epilog=EXIT_CODES,
            formatter_class=formatter,
        )

    command(
        "run",
        "connect to Discord and serve members (the default)",
        "Open and migrate the database, then connect to Discord and serve /imagine until "
        "stopped (SIGTERM or Ctrl-C stops it gracefully; queued requests resume next start).",
    )
    command(
        "check",
        "test every setting, the database, Discord and the image API",
        "Print every missing or malformed setting, then one PASS/FAIL line per connection "
        "that can still be tried. Never generates an image, so it costs nothing.",
    )
    command(
        "invite",
        "print the URL that adds the bot to a server (needs only DISCORD_TOKEN)",
        "Print the invite URL with the bot and applications.commands scopes and exactly the "
        "permissions the bot uses. Needs only DISCORD_TOKEN.",
    )
    command(
        "health",
        "exit 0 if the running bot is healthy (Docker's HEALTHCHECK)",
        "Read HEALTH_FILE, which the running bot refreshes every 15 s; print one line and "
        "exit 0 when healthy, 1 otherwise (unhealthy, stale, or HEALTH_FILE unset). Needs "
        "no token.",
    )
    copy = command(
        "copy-data",
        "copy limits, settings and usage history to another database",
        "Copy everything the bot stores (limits, budgets, roles' limits, settings and "
        "rules, the usage log, resets, the audit log, results) from SOURCE_URL to "
        "TARGET_URL: SQLite to PostgreSQL or back. Stop the bot first: a bot running on "
        "the source is refused. The target is created and migrated if needed; a target "
        "that already holds data is refused unless --force.",
    )
    copy.add_argument("source", metavar="SOURCE_URL", help="e.g. sqlite:///data/imagine.db")
    copy.add_argument(
        "target", metavar="TARGET_URL", help="e.g. postgresql://imagine:password@db:5432/imagine"
    )
    copy.add_argument(
        "--force",
        action="store_true",
        help="replace whatever the target already holds (its rows are deleted first)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Returns the process exit status (argparse exits 2 on bad usage)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if args_list[:1] == ["help"]:  # `imagine-bot help [command]`, as people type it
        args_list = [*args_list[1:2], "--help"]
    args = parser.parse_args(args_list)
    return COMMANDS[args.command or "run"](args)


if __name__ == "__main__":
    sys.exit(main())
