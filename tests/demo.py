"""See the whole /imagine flow on a machine with no Discord token and no API key.

    python -m tests.demo "a red fox in the snow, watercolour" --out demo-output

starts the local Discord and image-API emulators and the real bot against them (the
same harness the end-to-end tests use), plays a member typing ``/imagine`` in
#general, and writes what that member would see into the folder: ``message.json``
(the message as Discord holds it, with image links pointing at the files beside it),
the images, and ``preview.png``: that message drawn as Discord's dark theme shows it.
Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.siraya import MAX_COUNT, MIN_COUNT, SIZE_PRESETS
from cogs.common.flow import FIRST_PROGRESS_AFTER
from tests.demo_preview import render_preview
from tests.e2e.harness import Harness, start_harness
from tests.emulators.discord import ClientRejected, InteractionRecord, Message

MEMBER_NAME = "alex"
RESULT_TIMEOUT = 60.0
PREVIEW = "preview.png"
OUR_FILES = ("message.json", PREVIEW, "imagine-*.png", "imagine-*.jpg", "imagine-*.webp")
PROGRESS_MARKS = ("🎨", "⏳")  # how the bot's "still working" lines begin


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced, for the summary and for tests."""

    message: Message
    files: list[Path]
    private: bool
    ack_seconds: float
    total_seconds: float
    progress_lines: list[str]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.demo",
        description="Run /imagine against local emulators and save what the member sees.",
    )
    parser.add_argument("prompt", help="what to draw, as a member would type it")
    parser.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder")
    parser.add_argument(
        "--count", type=int, choices=range(MIN_COUNT, MAX_COUNT + 1), default=1, metavar="N"
    )
    parser.add_argument("--size", choices=sorted(SIZE_PRESETS), default=None)
    parser.add_argument("--seed", type=int, default=None, help="reuse a seed to get the same image")
    parser.add_argument(
        "--api-latency",
        type=float,
        default=1.0,
        help="seconds the pretend image API takes, so the progress line shows (default 1)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show the bot's log")
    return parser.parse_args(argv)


def imagine_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"prompt": args.prompt}
    if args.count != 1:
        options["count"] = args.count
    if args.size:
        options["size"] = args.size
    if args.seed is not None:
        options["seed"] = args.seed
    return options


async def play(harness: Harness, options: dict[str, Any]) -> tuple[InteractionRecord, Message]:
    """A member types /imagine in #general and waits, like a person would, for the answer."""
    member = harness.guild.add_member(MEMBER_NAME)
    it = await harness.discord.run_slash_command(member, harness.general, "imagine", **options)
    await it.acknowledged(timeout=10)
    message = await it.wait_for_original(is_final, timeout=RESULT_TIMEOUT)
    return it, message


def is_final(message: Message) -> bool:
    """The images, or a sentence that is not a progress line (a refusal or a failure)."""
    return bool(message.attachments) or not message.content.startswith(PROGRESS_MARKS)


async def run_demo(args: argparse.Namespace) -> DemoResult:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="imagine-demo-") as data_dir:
        harness = await start_harness(Path(data_dir))
        try:
            harness.api.latency = args.api_latency
            # What a member sees: the bot's own delay before the first progress edit.
            harness.running_bot.flow.progress_after = FIRST_PROGRESS_AFTER
            it, message = await play(harness, imagine_options(args))
            files = save(message, args.out)
        finally:
            await harness.close()
    files.append(await asyncio.to_thread(write_preview, args.out))
    return DemoResult(
        message=message,
        files=files,
        private=message.ephemeral,
        ack_seconds=it.ack_latency or 0.0,
        total_seconds=time.perf_counter() - started,
        progress_lines=[v.content for v in message.history if v.content],
    )


def save(message: Message, out: Path) -> list[Path]:
    """``message.json`` plus the images, links rewritten to the files beside it."""
    out.mkdir(parents=True, exist_ok=True)
    for pattern in OUR_FILES:  # a previous run's images would be confusing
        for stale in out.glob(pattern):
            stale.unlink()
    local = {a.url: a.filename for a in message.attachments}
    payload = _relink(message.payload(), local)
    files = []
    for attachment in message.attachments:
        path = out / attachment.filename
        path.write_bytes(attachment.data)
        files.append(path)
    json_path = out / "message.json"
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return [json_path, *files]


def write_preview(out: Path) -> Path:
    """Draw the saved ``message.json`` from the files alone, so the picture shows what they say."""
    message = json.loads((out / "message.json").read_text("utf-8"))
    images = {a["filename"]: (out / a["filename"]).read_bytes() for a in message["attachments"]}
    path = out / PREVIEW
    path.write_bytes(render_preview(message, images))
    return path


def _relink(value: Any, local: dict[str, str]) -> Any:
    """Emulator URLs die with the demo; point them at the saved files instead."""
    if isinstance(value, dict):
        return {k: _relink(v, local) for k, v in value.items()}
    if isinstance(value, list):
        return [_relink(v, local) for v in value]
    if isinstance(value, str) and value in local:
        return local[value]
    return value


def summary(result: DemoResult, out: Path) -> str:
    message = result.message
    lines = [f"{MEMBER_NAME} typed /imagine in #general."]
    after = f"{result.ack_seconds * 1000:.0f} ms"
    if result.private:
        lines.append(f"  answered privately after {after}: {message.content}")
        lines.append(f"Saved {len(result.files)} file(s) in {out.resolve()}/.")
        lines.append(f"See it as the member does: {(out / PREVIEW).resolve()}")
        return "\n".join(lines)
    lines.append(f'  acknowledged after {after} ("Imagine is thinking…")')
    lines += [f"  then: {text}" for text in result.progress_lines]
    if message.attachments:
        images = ", ".join(
            f"{a.filename} ({a.width}×{a.height}, {a.size // 1024} KiB)"
            for a in message.attachments
        )
        lines.append(f"  then the result: {images}")
        fields = {f["name"]: f["value"] for f in message.embeds[0].get("fields", [])}
        settings = " · ".join(f"{k} {v}" for k, v in fields.items())
        lines.append(f"  {settings}")
        rows = message.payload().get("components") or []
        buttons = [" · ".join(str(b.get("label")) for b in row["components"]) for row in rows]
        lines += [f"  buttons: {row}" for row in buttons]
    else:
        lines.append(f"  then: {message.content}")
    lines.append(
        f"Saved {len(result.files)} file(s) in {out.resolve()}/ "
        f"in {result.total_seconds:.1f} s, emulators and bot start-up included."
    )
    lines.append(f"See it as the member does: {(out / PREVIEW).resolve()}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        result = asyncio.run(run_demo(args))
    except ClientRejected as rejected:
        print(f"Discord would not send that command: {rejected}", file=sys.stderr)
        return 2
    print(summary(result, args.out))
    return 0 if result.message.attachments else 1


if __name__ == "__main__":
    sys.exit(main())
