"""New requests made from a stored generation: re-roll, variations, edit, one picked image.

The buttons under a result carry only the generation's id (and, under a picked image,
its number); everything else comes from the usage log, so they work the same after a
restart or a week later. Image k of a generation was asked for alone with seed
``seed + k - 1`` (:func:`bot.siraya.image_seeds`), so one image's settings are the
generation's with that seed and a count of one.
"""

from __future__ import annotations

from dataclasses import replace

from bot.siraya import MAX_COUNT, GenerationRequest, image_seeds
from bot.store.base import GenerationParams


def request_from(params: GenerationParams) -> GenerationRequest:
    """The request that produced ``params`` (same seed, same size, same everything)."""
    custom = params.size_preset is None
    return GenerationRequest(
        prompt=params.prompt,
        size=params.size_preset,
        width=params.width if custom else None,
        height=params.height if custom else None,
        steps=params.steps,
        guidance=params.guidance,
        acceleration=params.acceleration,
        seed=params.seed,
        enable_safety_checker=params.safety_checker,
        count=params.count,
        style_name=params.style_name,
        style_text=params.style_text,
    )


def image_seed(params: GenerationParams, number: int) -> int:
    """The seed image ``number`` (1-based) of a generation was made with."""
    if not 1 <= number <= params.count:
        raise ValueError(f"generation has no image {number}")
    return image_seeds(params.seed, params.count)[number - 1]


def picked(params: GenerationParams, number: int) -> GenerationParams:
    """The settings that make image ``number`` of a generation again, alone."""
    return replace(params, seed=image_seed(params, number), count=1)


def reroll(params: GenerationParams) -> GenerationRequest:
    """Same settings, a new random seed (picked when the job is submitted)."""
    return replace(request_from(params), seed=None)


def variations(params: GenerationParams) -> GenerationRequest:
    """Four images at once from a new seed, to explore around an idea."""
    return replace(request_from(params), seed=None, count=MAX_COUNT)


def edited(
    params: GenerationParams, *, prompt: str, seed: int | None, steps: int, guidance: float
) -> GenerationRequest:
    """The member's changes from the Edit dialog applied to the stored settings."""
    return replace(request_from(params), prompt=prompt, seed=seed, steps=steps, guidance=guidance)


def exact_number(value: float) -> str:
    """A number as short as possible yet exact, so a copied value reproduces the image.

    ``:g`` alone rounds to six digits (7.123456 would read 7.12346); ``repr`` is the
    shortest text that reads back as the same float.
    """
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def imagine_command(params: GenerationParams) -> str:
    """A ``/imagine`` line with every option, ready to copy to reproduce the image."""
    parts = [f"prompt:{params.prompt}"]
    if params.size_preset is None:
        parts += [f"width:{params.width}", f"height:{params.height}"]
    else:
        parts.append(f"size:{params.size_preset}")
    parts += [
        f"steps:{params.steps}",
        f"seed:{params.seed}",
        f"guidance:{exact_number(params.guidance)}",
        f"acceleration:{params.acceleration}",
        f"count:{params.count}",
    ]
    if params.style_name:
        parts.append(f"style:{params.style_name}")
    return "/imagine " + " ".join(parts)
