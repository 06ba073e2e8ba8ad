"""What a user may ask for, and the exact sentence they read when they ask for too much."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest

from bot.siraya import (
    DEFAULT_GUIDANCE,
    DEFAULT_SIZE,
    DEFAULT_STEPS,
    MAX_SEED,
    PROMPT_MAX_LENGTH,
    SIZE_PRESETS,
    GenerationRequest,
    InvalidRequest,
)

MODEL = "flux-1-srpo-text-to-image"


def request(**changes: Any) -> GenerationRequest:
    return GenerationRequest(**{"prompt": "A cute baby sea otter.", **changes})


def test_presets_match_the_provider_table() -> None:
    assert SIZE_PRESETS == {
        "square_hd": (1024, 1024),
        "square": (512, 512),
        "portrait_4_3": (768, 1024),
        "portrait_16_9": (576, 1024),
        "landscape_4_3": (1024, 768),
        "landscape_16_9": (1024, 576),
    }


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"prompt": ""}, "prompt", "Please describe the image you want: the prompt is empty."),
        (
            {"prompt": "  \n\t "},
            "prompt",
            "Please describe the image you want: the prompt is empty.",
        ),
        (
            {"prompt": "x" * (PROMPT_MAX_LENGTH + 1)},
            "prompt",
            "The prompt is 1001 characters long; please keep it to 1000 characters or fewer.",
        ),
        ({"prompt": None}, "prompt", "The prompt must be text."),
        (
            {"size": "square", "width": 512, "height": 512},
            "size",
            "Choose either a size preset or a custom width and height, not both.",
        ),
        (
            {"width": 512},
            "height",
            "Width and height must both be set for a custom size, or neither.",
        ),
        (
            {"height": 512},
            "width",
            "Width and height must both be set for a custom size, or neither.",
        ),
        (
            {"size": "huge"},
            "size",
            'Unknown size "huge". Choose one of: square_hd, square, portrait_4_3, '
            "portrait_16_9, landscape_4_3, landscape_16_9.",
        ),
        (
            {"width": 1000, "height": 512},
            "width",
            "Width must be between 256 and 2048 pixels and a multiple of 16 (you asked for 1000).",
        ),
        (
            {"width": 512, "height": 4096},
            "height",
            "Height must be between 256 and 2048 pixels and a multiple of 16 (you asked for 4096).",
        ),
        (
            {"width": 240, "height": 512},
            "width",
            "Width must be between 256 and 2048 pixels and a multiple of 16 (you asked for 240).",
        ),
        (
            {"steps": 0},
            "steps",
            "Steps must be a whole number from 1 to 50 (you asked for 0).",
        ),
        (
            {"steps": 51},
            "steps",
            "Steps must be a whole number from 1 to 50 (you asked for 51).",
        ),
        (
            {"steps": 2.5},
            "steps",
            "Steps must be a whole number from 1 to 50 (you asked for 2.5).",
        ),
        (
            {"guidance": 0.5},
            "guidance",
            "Guidance must be between 1 and 20 (you asked for 0.5).",
        ),
        (
            {"guidance": 20.5},
            "guidance",
            "Guidance must be between 1 and 20 (you asked for 20.5).",
        ),
        (
            {"guidance": float("nan")},
            "guidance",
            "Guidance must be between 1 and 20 (you asked for nan).",
        ),
        (
            {"acceleration": "turbo"},
            "acceleration",
            'Acceleration must be one of none, regular or high (you asked for "turbo").',
        ),
        (
            {"seed": -1},
            "seed",
            "The seed must be a whole number from 0 to 4294967295 (you asked for -1).",
        ),
        (
            {"seed": 2**32},
            "seed",
            "The seed must be a whole number from 0 to 4294967295 (you asked for 4294967296).",
        ),
        (
            {"enable_safety_checker": "yes"},
            "enable_safety_checker",
            "The safety checker setting must be on or off.",
        ),
        ({"count": 0}, "count", "You can ask for 1 to 4 images at a time (you asked for 0)."),
        ({"count": 5}, "count", "You can ask for 1 to 4 images at a time (you asked for 5)."),
        (
            {"output_format": "png"},
            "output_format",
            'The output format must be "url" or "b64_json" (got "png").',
        ),
    ],
)
def test_invalid_requests_explain_what_to_change(
    changes: dict[str, Any], field: str, message: str
) -> None:
    bad = request(**changes)

    with pytest.raises(InvalidRequest) as caught:
        bad.validate()

    assert caught.value.field == field
    assert str(caught.value) == message
    with pytest.raises(InvalidRequest):  # nothing invalid can reach the wire either
        bad.to_payload(MODEL)


@pytest.mark.parametrize("field", ["width", "steps", "count", "seed"])
def test_booleans_are_not_numbers(field: str) -> None:
    changes: dict[str, Any] = {field: True}
    if field == "width":
        changes["height"] = 512
    with pytest.raises(InvalidRequest) as caught:
        request(**changes).validate()
    assert caught.value.field == field


def test_a_pasted_essay_is_not_echoed_back_in_full() -> None:
    with pytest.raises(InvalidRequest) as caught:
        request(size="x" * 500).validate()
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"prompt": "x" * PROMPT_MAX_LENGTH},
        {"size": "portrait_16_9"},
        {"width": 256, "height": 2048},
        {"steps": 1, "guidance": 1.0, "acceleration": "none", "seed": 0, "count": 1},
        {"steps": 50, "guidance": 20, "acceleration": "high", "seed": MAX_SEED, "count": 4},
        {"output_format": "b64_json", "enable_safety_checker": False},
    ],
)
def test_requests_at_the_limits_are_accepted(changes: dict[str, Any]) -> None:
    request(**changes).validate()


def test_defaults() -> None:
    default = request()
    assert (default.steps, default.guidance, default.acceleration) == (
        DEFAULT_STEPS,
        DEFAULT_GUIDANCE,
        "regular",
    )
    assert default.count == 1
    assert default.enable_safety_checker is True
    assert default.dimensions == SIZE_PRESETS[DEFAULT_SIZE] == (1024, 768)
    assert default.size_label == "landscape_4_3 (1024×768)"


def test_dimensions_and_labels() -> None:
    assert request(size="portrait_16_9").dimensions == (576, 1024)
    assert request(size="portrait_16_9").size_label == "portrait_16_9 (576×1024)"
    assert request(width=800, height=640).dimensions == (800, 640)
    assert request(width=800, height=640).size_label == "custom 800×640"
    with pytest.raises(InvalidRequest):
        _ = request(size="nope").dimensions


def test_preset_payload_matches_the_spec_example() -> None:
    payload = request(size="landscape_4_3").to_payload(MODEL)

    assert payload == {
        "model": MODEL,
        "prompt": "A cute baby sea otter.",
        "size": "landscape_4_3",
        "num_inference_steps": 28,
        "guidance_scale": 4.5,
        "acceleration": "regular",
        "enable_safety_checker": True,
        "n": 1,
        "output_format": "url",
    }


def test_custom_size_payload_uses_image_size_and_no_preset() -> None:
    payload = request(width=800, height=640, seed=7, count=3, guidance=7).to_payload("other-model")

    assert payload["model"] == "other-model"
    assert payload["image_size"] == {"width": 800, "height": 640}
    assert "size" not in payload
    assert payload["seed"] == 7
    assert payload["n"] == 3
    assert payload["guidance_scale"] == 7.0
    assert isinstance(payload["guidance_scale"], float)


def test_payload_sends_the_default_preset_explicitly_and_trims_the_prompt() -> None:
    payload = request(prompt="  an otter  \n").to_payload(MODEL)

    assert payload["size"] == DEFAULT_SIZE
    assert payload["prompt"] == "an otter"
    assert "seed" not in payload  # no seed: the provider picks one


def test_with_seed_returns_a_changed_copy() -> None:
    original = request()
    seeded = original.with_seed(42)

    assert seeded.seed == 42
    assert original.seed is None
    assert dataclasses.replace(seeded, seed=None) == original


def test_with_random_seed_picks_a_valid_seed_only_when_missing() -> None:
    first = request().with_random_seed(random.Random(3))
    again = request().with_random_seed(random.Random(3))
    other = request().with_random_seed(random.Random(4))

    assert first.seed is not None and 0 <= first.seed <= MAX_SEED
    assert first.seed == again.seed  # reproducible with an injected rng
    assert other.seed != first.seed
    pinned = request(seed=5)
    assert pinned.with_random_seed(random.Random(3)) is pinned
    assert request().with_random_seed().seed is not None  # default rng works too


def test_requests_are_immutable_and_hashable() -> None:
    frozen = request()
    with pytest.raises(dataclasses.FrozenInstanceError):
        frozen.prompt = "changed"  # type: ignore[misc]
    assert len({request(), request()}) == 1
