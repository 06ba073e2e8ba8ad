"""A newcomer runs the offline demo and finds a Discord message and its images on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from tests import demo
from tests.demo_preview import BACKGROUND, GUTTER, SCALE


def test_the_demo_writes_the_message_and_its_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "demo-output"
    args = ["a red fox in the snow", "--out", str(out), "--count", "2", "--size", "square"]
    status = demo.main([*args, "--api-latency", "0.2"])
    assert status == 0
    message = json.loads((out / "message.json").read_text("utf-8"))
    assert message["content"] == ""
    embed = message["embeds"][0]
    assert embed["description"] == "a red fox in the snow"
    assert embed["author"]["name"] == f"Requested by {demo.MEMBER_NAME}"
    assert {f["name"] for f in embed["fields"]} >= {"Seeds", "Size", "Steps", "Time"}
    labels = [[b["label"] for b in row["components"]] for row in message["components"]]
    assert labels[-1] == ["U1", "U2"], "a pick button per image, in a row of their own"
    names = [a["filename"] for a in message["attachments"]]
    assert len(names) == 2
    assert [e["image"]["url"] for e in message["embeds"]] == names, "links point at the files"
    for name in names:
        with Image.open(out / name) as image:
            assert image.size == (512, 512)
    said = capsys.readouterr().out
    assert "thinking…" in said, "the member's wait is part of the story"
    assert str(out.resolve()) in said
    assert str((out / "preview.png").resolve()) in said
    assert_preview_shows_the_embed(out / "preview.png", embed["color"])


def assert_preview_shows_the_embed(path: Path, colour: int) -> None:
    """The picture is Discord's dark chat with the embed's colour bar down the card's left."""
    with Image.open(path) as preview:
        assert preview.format == "PNG"
        rgb = preview.convert("RGB")
    assert rgb.width >= 500 and 400 <= rgb.height <= 4000
    assert rgb.getpixel((2, 2)) == tuple(bytes.fromhex(BACKGROUND[1:]))
    bar = (colour >> 16, (colour >> 8) & 0xFF, colour & 0xFF)
    x = GUTTER * SCALE + 1  # the bar is the first 4 px of the card, right of the avatar
    painted = sum(rgb.getpixel((x, y)) == bar for y in range(rgb.height))
    assert painted >= 300 * SCALE, "a card tall enough for its fields and the two images"


def test_a_second_run_replaces_the_first(tmp_path: Path) -> None:
    out = tmp_path / "demo-output"
    assert demo.main(["a cat", "--out", str(out), "--count", "3", "--api-latency", "0"]) == 0
    assert demo.main(["a dog", "--out", str(out), "--api-latency", "0"]) == 0
    assert len(list(out.glob("imagine-*"))) == 1
    assert json.loads((out / "message.json").read_text("utf-8"))["embeds"][0]["description"] == (
        "a dog"
    )


def test_a_refused_request_is_shown_and_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert demo.main(["   ", "--out", str(tmp_path), "--api-latency", "0"]) == 1
    assert "the prompt is empty" in capsys.readouterr().out
    with Image.open(tmp_path / "preview.png") as preview:
        assert preview.format == "PNG", "the refusal is drawn too, as the member saw it"
