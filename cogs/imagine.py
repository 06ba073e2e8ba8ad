"""``/imagine``: turn a member's options into a generation request and hand it to the flow."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot.policy.styles import STYLE_NAME_MAX
from bot.siraya import (
    DEFAULT_GUIDANCE,
    DEFAULT_STEPS,
    MAX_COUNT,
    MAX_GUIDANCE,
    MAX_SEED,
    MAX_SIDE,
    MAX_STEPS,
    MIN_COUNT,
    MIN_GUIDANCE,
    MIN_SIDE,
    MIN_STEPS,
    PROMPT_MAX_LENGTH,
    SIZE_PRESETS,
)
from cogs.common.workspace import options_given, request_for, style_choices

if TYPE_CHECKING:
    from bot.app import ImagineBot

SIZE_CHOICES = [
    Choice(name=f"{name} ({width}×{height})", value=name)
    for name, (width, height) in SIZE_PRESETS.items()
]
ACCELERATION_CHOICES = [
    Choice(name="none (best quality, slowest)", value="none"),
    Choice(name="regular (balanced)", value="regular"),
    Choice(name="high (fastest)", value="high"),
]


class Imagine(commands.Cog):
    """The command members use most; deliberately only a translation layer."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(name="imagine", description="Generate images from a text prompt")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What to draw: subject, style, lighting, mood…",
        size="A preset size (default: yours from /preferences, else landscape_4_3, 1024×768)",
        width=f"Custom width in pixels ({MIN_SIDE}–{MAX_SIDE}, multiple of 16); set height too",
        height=f"Custom height in pixels ({MIN_SIDE}–{MAX_SIDE}, multiple of 16); set width too",
        steps=f"Denoising steps: more is finer but slower (default: yours, else {DEFAULT_STEPS})",
        seed="Reuse a seed to reproduce an image (random if left out)",
        guidance=f"How closely to follow the prompt (default {DEFAULT_GUIDANCE:g})",
        acceleration="Speed against quality (default regular)",
        count=f"How many images to make at once ({MIN_COUNT}–{MAX_COUNT}, default 1)",
        style="A style this server's moderators made, added to your prompt",
        private="Only you see it here (default: everyone); a server's moderation log may record it",
    )
    @app_commands.choices(size=SIZE_CHOICES, acceleration=ACCELERATION_CHOICES)
    @app_commands.autocomplete(style=style_choices)
    async def imagine(
        self,
        interaction: discord.Interaction[ImagineBot],
        prompt: Range[str, 1, PROMPT_MAX_LENGTH],
        size: Choice[str] | None = None,
        width: Range[int, MIN_SIDE, MAX_SIDE] | None = None,
        height: Range[int, MIN_SIDE, MAX_SIDE] | None = None,
        steps: Range[int, MIN_STEPS, MAX_STEPS] | None = None,
        seed: Range[int, 0, MAX_SEED] | None = None,
        guidance: Range[float, MIN_GUIDANCE, MAX_GUIDANCE] | None = None,
        acceleration: Choice[str] | None = None,
        count: Range[int, MIN_COUNT, MAX_COUNT] | None = None,
        style: Range[str, 1, STYLE_NAME_MAX] | None = None,
        private: bool = False,
    ) -> None:
        typed = options_given(
            size=size,
            width=width,
            height=height,
            steps=steps,
            guidance=guidance,
            acceleration=acceleration,
            count=count,
            style=style,
        )
        request = await request_for(interaction, prompt, typed, seed=seed)
        if request is not None:
            await self.bot.flow.start(interaction, request, private=private)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Imagine(bot))
