"""``python -m bot`` / ``imagine-bot``: start the bot, or explain in one line why it cannot."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

import discord

from bot.app import ImagineBot
from bot.config import ConfigError, Settings, load_settings
from bot.logs import configure_logging

EXIT_CONFIG = 2


def _fail(message: str) -> int:
    print(f"imagine-bot: {message}", file=sys.stderr)
    return EXIT_CONFIG


async def run(settings: Settings) -> None:
    async with ImagineBot(settings) as bot:
        await bot.start(settings.discord_token.reveal())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point. Returns the process exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] not in ("run",):
        return _fail(f"unknown command {args[0]!r}; usage: imagine-bot [run]")
    try:
        settings = load_settings()
    except ConfigError as error:
        return _fail(str(error))
    configure_logging(
        settings.log_level,
        [settings.discord_token.reveal(), settings.siraya_api_key.reveal()],
    )
    try:
        asyncio.run(run(settings))
    except discord.LoginFailure:
        return _fail(
            "Discord rejected DISCORD_TOKEN (401 Unauthorized). Copy the bot token from the "
            "Developer Portal → your application → Bot → Reset Token (see .env.example)"
        )
    except discord.PrivilegedIntentsRequired:
        return _fail("Discord refused a privileged intent; this bot needs none (see README)")
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
