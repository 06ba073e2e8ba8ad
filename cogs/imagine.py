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
    DEFAULT_SIZE,
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
    SIDE_MULTIPLE,
    SIZE_PRESETS,
)
from cogs.common.translator import locale_str
from cogs.common.workspace import options_given, request_for, style_choices

if TYPE_CHECKING:
    from bot.app import ImagineBot


def _size(preset: str) -> str:
    width, height = SIZE_PRESETS[preset]
    return f"{width}×{height}"


SIZE_CHOICES = [
    # TRANSLATORS: a size preset in /imagine's and /preferences' size list (at most 100
    # characters); keep the preset's name before the colon as it is: /preferences show and
    # the /imagine line write it that way.
    Choice(
        name=locale_str("square_hd: large square ({size})", size=_size("square_hd")),
        value="square_hd",
    ),
    # TRANSLATORS: a size preset, like the one above (at most 100 characters).
    Choice(
        name=locale_str("square: small square ({size})", size=_size("square")),
        value="square",
    ),
    # TRANSLATORS: a size preset, like the one above (at most 100 characters).
    Choice(
        name=locale_str("portrait_4_3: portrait ({size})", size=_size("portrait_4_3")),
        value="portrait_4_3",
    ),
    # TRANSLATORS: a size preset, like the one above (at most 100 characters).
    Choice(
        name=locale_str("portrait_16_9: tall portrait ({size})", size=_size("portrait_16_9")),
        value="portrait_16_9",
    ),
    # TRANSLATORS: a size preset, like the one above (at most 100 characters).
    Choice(
        name=locale_str("landscape_4_3: landscape ({size})", size=_size("landscape_4_3")),
        value="landscape_4_3",
    ),
    # TRANSLATORS: a size preset, like the one above (at most 100 characters).
    Choice(
        name=locale_str("landscape_16_9: widescreen ({size})", size=_size("landscape_16_9")),
        value="landscape_16_9",
    ),
]
"""One choice per preset (``SIZE_PRESETS``), each its own sentence for translators."""
ACCELERATION_CHOICES = [
    # TRANSLATORS: an acceleration choice of /imagine and /preferences set (at most 100
    # characters); keep the first word (none, regular, high) as it is: /preferences show
    # writes it that way.
    Choice(name=locale_str("none (best quality, slowest)"), value="none"),
    # TRANSLATORS: an acceleration choice, like the one above (at most 100 characters).
    Choice(name=locale_str("regular (balanced)"), value="regular"),
    # TRANSLATORS: an acceleration choice, like the one above (at most 100 characters).
    Choice(name=locale_str("high (fastest)"), value="high"),
]


class Imagine(commands.Cog):
    """The command members use most; deliberately only a translation layer."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="imagine",
        # TRANSLATORS: command and option descriptions are at most 100 characters.
        description=locale_str("Generate images from a text prompt"),
    )
    @app_commands.guild_only()
    @app_commands.describe(
        prompt=locale_str("What to draw: subject, style, lighting, mood…"),
        size=locale_str(
            "A preset size (default: yours from /preferences, else {preset}, {size})",
            preset=DEFAULT_SIZE,
            size=_size(DEFAULT_SIZE),
        ),
        width=locale_str(
            "Custom width in pixels ({low}–{high}, multiple of {step}); set height too",
            low=str(MIN_SIDE),
            high=str(MAX_SIDE),
            step=str(SIDE_MULTIPLE),
        ),
        height=locale_str(
            "Custom height in pixels ({low}–{high}, multiple of {step}); set width too",
            low=str(MIN_SIDE),
            high=str(MAX_SIDE),
            step=str(SIDE_MULTIPLE),
        ),
        steps=locale_str(
            "Denoising steps: more is finer but slower (default: yours, else {default})",
            default=DEFAULT_STEPS,
        ),
        seed=locale_str("Reuse a seed to reproduce an image (random if left out)"),
        guidance=locale_str(
            "How closely to follow the prompt (default {default})", default=DEFAULT_GUIDANCE
        ),
        acceleration=locale_str("Speed against quality (default regular)"),
        count=locale_str(
            "How many images to make at once ({low}–{high}, default 1)",
            low=MIN_COUNT,
            high=MAX_COUNT,
        ),
        style=locale_str("A style this server's moderators made, added to your prompt"),
        private=locale_str(
            "Only you see it here (default: everyone); a server's moderation log may record it"
        ),
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
