"""The reference for the side-by-side benchmark: a bot that does nothing but the work itself.

``python -m bench.bare_bot`` reads the same environment as ``python -m bot``
(DISCORD_TOKEN, DISCORD_API_BASE_URL, SIRAYA_BASE_URL, SIRAYA_API_KEY, COMMAND_GUILD_IDS)
and answers ``/imagine`` the way the shortest correct discord.py bot would: defer, POST the
same request imagine-bot sends, download the image, edit it into the acknowledgement. No
quota, no database, no rules, no verification, no progress line, no logging per job,
asyncio's own event loop and discord.py without its speed extras.

Whatever imagine-bot spends beyond this is the price of its features; bench/side_by_side.py
reports that price as ratios. It is deliberately not built from imagine-bot's modules (only
the endpoint redirection, which discord.py needs to reach the emulator at all).
"""

from __future__ import annotations

import asyncio
import io
import os
import sys

# The reference stays a plain ``pip install discord.py``: no speed extras, whatever
# imagine-bot installs into the same environment (discord.py uses orjson if it can import it).
sys.modules["orjson"] = None  # type: ignore[assignment]

import aiohttp  # noqa: E402
import discord  # noqa: E402
from discord import app_commands  # noqa: E402

from bot.discord_endpoint import use_discord_api_base, use_gateway  # noqa: E402

PAYLOAD = {
    "model": "flux-1-srpo-text-to-image",
    "size": "landscape_4_3",
    "num_inference_steps": 28,
    "guidance_scale": 4.5,
    "acceleration": "regular",
    "enable_safety_checker": True,
    "n": 1,
    "output_format": "url",
}
"""imagine-bot's defaults for ``/imagine prompt:…``, so both bots fetch the same image."""


class BareBot(discord.Client):
    def __init__(self, *, api_base: str, api_key: str, guild_id: int) -> None:
        super().__init__(intents=discord.Intents.default())
        self.tree = app_commands.CommandTree(self)
        self.api_base = api_base.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.guild = discord.Object(guild_id)
        self.session: aiohttp.ClientSession | None = None
        self.tree.add_command(imagine, guild=self.guild)

    async def setup_hook(self) -> None:
        timeout = aiohttp.ClientTimeout(sock_connect=10, sock_read=120)
        self.session = aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(limit=1000)
        )
        await self.tree.sync(guild=self.guild)
        _, url, _ = await self.http.get_bot_gateway()  # discord.Client would not ask
        use_gateway(url)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
        await super().close()


@app_commands.command(description="Generate an image")
async def imagine(interaction: discord.Interaction, prompt: str, seed: int | None = None) -> None:
    bot = interaction.client
    assert isinstance(bot, BareBot) and bot.session is not None
    await interaction.response.defer(thinking=True)
    payload = {**PAYLOAD, "prompt": prompt}
    if seed is not None:
        payload["seed"] = seed
    async with bot.session.post(
        f"{bot.api_base}/images/generations", json=payload, headers=bot.headers
    ) as response:
        body = await response.json()
    async with bot.session.get(body["data"][0]["url"]) as response:
        data = await response.read()
    await interaction.edit_original_response(
        attachments=[discord.File(io.BytesIO(data), filename="image.png")]
    )


async def main() -> None:
    use_discord_api_base(os.environ["DISCORD_API_BASE_URL"])
    bot = BareBot(
        api_base=os.environ["SIRAYA_BASE_URL"],
        api_key=os.environ["SIRAYA_API_KEY"],
        guild_id=int(os.environ["COMMAND_GUILD_IDS"].split(",")[0]),
    )
    async with bot:
        await bot.start(os.environ["DISCORD_TOKEN"])


if __name__ == "__main__":
    asyncio.run(main())
