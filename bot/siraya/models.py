"""The generation request the bot sends, and the bot's own limits on it.

Validation lives here, next to the limits, so that a bad option is refused with a
sentence the user can act on *before* anything is queued, reserved or billed. The
bot's bounds are deliberately tighter than the provider's (custom sides up to 14142
upstream): a 14k-pixel image would cost a lot, take minutes and never fit in a
Discord upload anyway.
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from typing import Final

from bot.i18n import N_
from bot.policy.styles import join_prompt

SIZE_PRESETS: Final[dict[str, tuple[int, int]]] = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
DEFAULT_SIZE: Final = "landscape_4_3"
ACCELERATIONS: Final = ("none", "regular", "high")
OUTPUT_FORMATS: Final = ("url", "b64_json")
PROMPT_MAX_LENGTH: Final = 1000
MIN_SIDE, MAX_SIDE, SIDE_MULTIPLE = 256, 2048, 16
MIN_STEPS, MAX_STEPS, DEFAULT_STEPS = 1, 50, 28
MIN_GUIDANCE, MAX_GUIDANCE, DEFAULT_GUIDANCE = 1.0, 20.0, 4.5
MIN_COUNT, MAX_COUNT = 1, 4
MAX_SEED: Final = 2**32 - 1


def image_seeds(seed: int, count: int) -> tuple[int, ...]:
    """The seeds of a request's images: ``seed``, ``seed + 1``, … wrapping past
    :data:`MAX_SEED` to 0, so every one is a seed a member can type back."""
    return tuple((seed + k) % (MAX_SEED + 1) for k in range(count))


# User-typed values are echoed back in error sentences; keep a pasted essay short.
_ECHO_LIMIT = 40


class InvalidRequest(ValueError):
    """A request the bot will not send, and the sentence that says what to change.

    ``field`` names the offending option so a caller can highlight it or map it
    back to the slash-command option it came from. ``template`` is the sentence in
    English (a catalog msgid, marked with ``N_``) with named placeholders filled from
    ``fields``: the Discord side says it in the member's language
    (``cogs.common.messages.invalid_request``); ``str()`` is the English, for logs.
    """

    def __init__(self, field: str, template: str, **fields: object) -> None:
        super().__init__(template.format(**fields) if fields else template)
        self.field = field
        self.template = template
        self.fields = fields


_WIDTH_OUT_OF_BOUNDS = N_(
    "Width must be between {min_side} and {max_side} pixels and a multiple of {multiple} "
    "(you asked for {typed})."
)
_HEIGHT_OUT_OF_BOUNDS = N_(
    "Height must be between {min_side} and {max_side} pixels and a multiple of {multiple} "
    "(you asked for {typed})."
)


def _echo(value: object) -> str:
    """Show a user-supplied value in an error sentence without letting it run on."""
    text = str(value)
    if len(text) > _ECHO_LIMIT:
        text = text[: _ECHO_LIMIT - 1] + "…"
    return text


def _is_int(value: object) -> bool:
    # bool is an int subclass; True steps or a width of False is a bug, not a number.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """Everything needed to ask for images; immutable so it can be queued and retried safely.

    Give either ``size`` (a preset name) or both ``width`` and ``height``; with neither,
    :data:`DEFAULT_SIZE` is used.
    """

    prompt: str
    size: str | None = None
    width: int | None = None
    height: int | None = None
    steps: int = DEFAULT_STEPS
    guidance: float = DEFAULT_GUIDANCE
    acceleration: str = "regular"
    seed: int | None = None
    enable_safety_checker: bool = True
    count: int = 1
    output_format: str = "url"
    style_name: str | None = None  # a server style, resolved by name before the request
    style_text: str | None = None  # what it adds to the prompt sent to the API

    @property
    def api_prompt(self) -> str:
        """The prompt the API reads: the member's words, then the style's text."""
        return join_prompt(self.prompt, self.style_text)

    def validate(self) -> None:
        """Raise :class:`InvalidRequest` for the first problem, in the order users read options."""
        self._validate_prompt()
        self._resolve_dimensions()
        if not _is_int(self.steps) or not MIN_STEPS <= self.steps <= MAX_STEPS:
            raise InvalidRequest(
                "steps",
                N_("Steps must be a whole number from {low} to {high} (you asked for {typed})."),
                low=MIN_STEPS,
                high=MAX_STEPS,
                typed=_echo(self.steps),
            )
        if not _is_number(self.guidance) or not MIN_GUIDANCE <= self.guidance <= MAX_GUIDANCE:
            raise InvalidRequest(
                "guidance",
                N_("Guidance must be between {low} and {high} (you asked for {typed})."),
                low=f"{MIN_GUIDANCE:g}",
                high=f"{MAX_GUIDANCE:g}",
                typed=_echo(self.guidance),
            )
        if self.acceleration not in ACCELERATIONS:
            raise InvalidRequest(
                "acceleration",
                # TRANSLATORS: none, regular and high are the option's values: keep them.
                N_('Acceleration must be one of none, regular or high (you asked for "{typed}").'),
                typed=_echo(self.acceleration),
            )
        if self.seed is not None and (not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED):
            raise InvalidRequest(
                "seed",
                N_("The seed must be a whole number from 0 to {max_seed} (you asked for {typed})."),
                max_seed=MAX_SEED,
                typed=_echo(self.seed),
            )
        if not isinstance(self.enable_safety_checker, bool):
            raise InvalidRequest(
                "enable_safety_checker", N_("The safety checker setting must be on or off.")
            )
        if not _is_int(self.count) or not MIN_COUNT <= self.count <= MAX_COUNT:
            raise InvalidRequest(
                "count",
                N_("You can ask for {low} to {high} images at a time (you asked for {typed})."),
                low=MIN_COUNT,
                high=MAX_COUNT,
                typed=_echo(self.count),
            )
        if self.output_format not in OUTPUT_FORMATS:
            raise InvalidRequest(
                "output_format",
                N_('The output format must be "url" or "b64_json" (got "{typed}").'),
                typed=_echo(self.output_format),
            )

    def _validate_prompt(self) -> None:
        if not isinstance(self.prompt, str):
            raise InvalidRequest("prompt", N_("The prompt must be text."))
        length = len(self.prompt.strip())
        if length == 0:
            raise InvalidRequest(
                "prompt", N_("Please describe the image you want: the prompt is empty.")
            )
        if length > PROMPT_MAX_LENGTH:
            raise InvalidRequest(
                "prompt",
                N_(
                    "The prompt is {length} characters long; please keep it to "
                    "{limit} characters or fewer."
                ),
                length=length,
                limit=PROMPT_MAX_LENGTH,
            )

    def _resolve_dimensions(self) -> tuple[int, int]:
        custom = self.width is not None or self.height is not None
        if self.size is not None and custom:
            raise InvalidRequest(
                "size", N_("Choose either a size preset or a custom width and height, not both.")
            )
        if custom:
            if self.width is None or self.height is None:
                raise InvalidRequest(
                    "width" if self.width is None else "height",
                    N_("Width and height must both be set for a custom size, or neither."),
                )
            for field, value, text in (
                ("width", self.width, _WIDTH_OUT_OF_BOUNDS),
                ("height", self.height, _HEIGHT_OUT_OF_BOUNDS),
            ):
                if not _is_int(value) or not MIN_SIDE <= value <= MAX_SIDE or value % SIDE_MULTIPLE:
                    raise InvalidRequest(
                        field,
                        text,
                        min_side=MIN_SIDE,
                        max_side=MAX_SIDE,
                        multiple=SIDE_MULTIPLE,
                        typed=_echo(value),
                    )
            return self.width, self.height
        name = DEFAULT_SIZE if self.size is None else self.size
        try:
            return SIZE_PRESETS[name]
        except (KeyError, TypeError):
            raise InvalidRequest(
                "size",
                # TRANSLATORS: {presets} lists the size presets' names, as members type them.
                N_('Unknown size "{typed}". Choose one of: {presets}.'),
                typed=_echo(name),
                presets=", ".join(SIZE_PRESETS),
            ) from None

    @property
    def is_custom_size(self) -> bool:
        return self.width is not None or self.height is not None

    @property
    def preset(self) -> str | None:
        """The preset name that will be sent, or None for a custom size."""
        if self.is_custom_size:
            return None
        return DEFAULT_SIZE if self.size is None else self.size

    @property
    def dimensions(self) -> tuple[int, int]:
        """Resolved (width, height) in pixels; raises InvalidRequest if the size options are bad."""
        return self._resolve_dimensions()

    @property
    def size_label(self) -> str:
        """How the size is shown to users: the preset name they chose, or the custom sides."""
        width, height = self.dimensions
        preset = self.preset
        if preset is None:
            return f"custom {width}×{height}"
        return f"{preset} ({width}×{height})"

    def with_seed(self, seed: int) -> GenerationRequest:
        return dataclasses.replace(self, seed=seed)

    def image_requests(self) -> tuple[GenerationRequest, ...]:
        """One single-image request per image, image k with seed ``seed + k - 1``.

        The provider does not say which seeds the extra images of an ``n > 1`` request
        get, so only the first could ever be made again; asked one by one, every image
        has a known seed, and ``/imagine seed:<its seed>`` makes it again alone.
        """
        if self.seed is None:
            raise ValueError("pin a seed first (with_random_seed)")
        return tuple(
            dataclasses.replace(self, seed=seed, count=1)
            for seed in image_seeds(self.seed, self.count)
        )

    def with_random_seed(self, rng: random.Random | None = None) -> GenerationRequest:
        """Pin a seed if none was given.

        The API does not report the seed it picked, so the bot chooses one itself:
        that is what makes "same seed again" and "vary this" buttons possible.
        """
        if self.seed is not None:
            return self
        seed = (rng or random.SystemRandom()).randint(0, MAX_SEED)
        return dataclasses.replace(self, seed=seed)

    def to_payload(self, model: str) -> dict[str, object]:
        """The JSON body for ``POST /images/generations``; validates first: nothing bad is sent."""
        self.validate()
        payload: dict[str, object] = {"model": model, "prompt": self.api_prompt}
        preset = self.preset
        if preset is None:
            width, height = self.dimensions
            payload["image_size"] = {"width": width, "height": height}
        else:
            payload["size"] = preset
        payload.update(
            num_inference_steps=self.steps,
            guidance_scale=float(self.guidance),
            acceleration=self.acceleration,
            enable_safety_checker=self.enable_safety_checker,
            n=self.count,
            output_format=self.output_format,
        )
        if self.seed is not None:
            payload["seed"] = self.seed
        return payload
