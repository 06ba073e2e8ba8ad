"""``python -m bot`` / ``imagine-bot``: start the bot, or explain in one line why it cannot."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Sequence

import aiohttp
import discord

from bot.app import ImagineBot
from bot.config import ConfigError, Settings, health_file_setting, load_settings, merged_environment
from bot.doctor import application_id_from_token, invite_url, run_checks
from bot.health import health_command
from bot.joblog import install_job_ids
from bot.logs import configure_logging, database_password
from bot.ops import OperationsError
from bot.store import StoreError

EXIT_CONFIG = 2


def _fail(message: str) -> int:
    print(f"imagine-bot: {message}", file=sys.stderr)
    return EXIT_CONFIG


async def run(settings: Settings) -> None:
    """Run until Discord disconnects for good or SIGTERM/SIGINT asks for a graceful stop."""
    bot = ImagineBot(settings)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, lambda: asyncio.ensure_future(bot.close()))
    try:
        async with bot:
            await bot.start(settings.discord_token.reveal())
    finally:
        await bot.close()  # waits for a shutdown already under way; closes the database


USAGE = "usage: imagine-bot [run | check | invite | health]"


def check(settings: Settings) -> int:
    """Print one line per check; exit 0 only if all pass, else 1."""
    results = asyncio.run(run_checks(settings))
    for result in results:
        print(result.line())
    return 0 if all(result.ok for result in results) else 1


def invite(settings: Settings) -> int:
    application_id = application_id_from_token(settings.discord_token.reveal())
    if application_id is None:
        return _fail("DISCORD_TOKEN does not look like a bot token (see .env.example)")
    print(invite_url(application_id))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Returns the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "run"
    if command not in ("run", "check", "invite", "health") or len(args) > 1:
        return _fail(f"unknown arguments {' '.join(args)!r}; {USAGE}")
    if command == "health":  # Docker's HEALTHCHECK: needs no token, and only exits 0 or 1
        try:
            return health_command(health_file_setting(merged_environment()))
        except ConfigError as error:
            print(f"unhealthy: {error}")
            return 1
    try:
        settings = load_settings()
    except ConfigError as error:
        return _fail(str(error))
    if command == "check":
        return check(settings)
    if command == "invite":
        return invite(settings)
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
        asyncio.run(run(settings))
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
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
