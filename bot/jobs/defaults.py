"""A member's preferences meet what they typed: the request ``/imagine`` sends.

One rule, in one place, for ``/imagine`` and the "Imagine this" dialog: an option typed
always wins; a preference fills only what was left out; ``/imagine``'s own defaults
fill the rest. The size is one choice made of up to three options (a preset, or width
and height), so it is taken whole from one side: typing ``size`` never mixes with a
preferred ``width``/``height``, and a half-typed custom size is refused as
``/imagine`` refuses it, never completed from preferences.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from bot.siraya import DEFAULT_GUIDANCE, DEFAULT_STEPS, GenerationRequest
from bot.store.base import Preferences


@dataclass(frozen=True)
class Chosen:
    """The request (without its style's text yet) and the style to look up, if any."""

    request: GenerationRequest
    style: str | None
    style_from_preferences: bool


def _size_typed(typed: Preferences) -> bool:
    return typed.size is not None or typed.width is not None or typed.height is not None


def choose(prompt: str, typed: Preferences, preferred: Preferences, *, seed: int | None) -> Chosen:
    """What to generate: typed options, then ``preferred``, then the defaults."""
    sized = typed if _size_typed(typed) else preferred

    def pick(name: str) -> object:
        value = getattr(typed, name)
        return getattr(preferred, name) if value is None else value

    steps = pick("steps")
    guidance = pick("guidance")
    acceleration = pick("acceleration")
    count = pick("count")
    request = GenerationRequest(
        prompt=prompt,
        size=sized.size,
        width=sized.width,
        height=sized.height,
        steps=DEFAULT_STEPS if steps is None else steps,  # type: ignore[arg-type]
        guidance=DEFAULT_GUIDANCE if guidance is None else guidance,  # type: ignore[arg-type]
        acceleration="regular" if acceleration is None else acceleration,  # type: ignore[arg-type]
        seed=seed,
        count=1 if count is None else count,  # type: ignore[arg-type]
    )
    style = typed.style if typed.style is not None else preferred.style
    return Chosen(request, style, style_from_preferences=typed.style is None and style is not None)


def updated(old: Preferences, given: Preferences) -> Preferences:
    """``old`` with what the member gave in ``/preferences set`` (the size group whole)."""
    changes = {
        f.name: getattr(given, f.name) for f in fields(given) if getattr(given, f.name) is not None
    }
    if _size_typed(given):
        changes.update(size=given.size, width=given.width, height=given.height)
    return replace(old, **changes)


def check(preferences: Preferences) -> None:
    """Refuse (``InvalidRequest``) defaults ``/imagine`` itself would refuse."""
    choose("preferences", Preferences(), preferences, seed=None).request.validate()
