"""Where each bot's CPU went in a ``--profile`` run, as the tables in docs/benchmarks.md.

::

    python -m bench.side_by_side --load 0 --rounds 1 --profile /tmp/profile
    python -m bench.profile_report /tmp/profile

For each bot's burst: every thread's share of the process's CPU (``*.threads.tsv``, from
/proc: exact, C code included), then the event loop thread's py-spy samples (taken only
while it held the GIL) sorted into the places the issue names. A sample counts for the
first place whose marker is in its stack, in the order below, so "the deferral" excludes
the TCP connection it opened, and "posting the result" excludes the result buttons.
"""

from __future__ import annotations

import argparse
import collections
import sys
from collections.abc import Sequence
from pathlib import Path

_BARE_COMMAND = "imagine (bench/bare_bot.py"
"""The bare bot's whole command; its deferral and edit are matched first."""

PLACES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("new TCP connections (aiohttp connector)", ("TCPConnector._create_connection",)),
    ("the result buttons (a discord.py View per job)", ("result_view",)),
    ("the deferral (InteractionResponse.defer)", ("InteractionResponse.defer",)),
    ("before the deferral: preferences, rules, reservation", ("request_for", ".submit (")),
    ("posting the result (edit: embed, attachment, its answer)", ("_post_result", "edit_original")),
    ("progress line", ("_show_progress",)),
    ("API call and download (SirayaClient, the bare bot's own)", ("SirayaClient", _BARE_COMMAND)),
    ("database hand-offs (aiosqlite, group commit)", ("aiosqlite", "_GroupCommit", "SqliteStore")),
    ("moderation log", ("ModerationLog",)),
    ("settling, delivery claim (GenerationService)", ("GenerationService",)),
    ("gateway: receiving and parsing events", ("poll_event", "received_message")),
    ("app command dispatch (discord.py)", ("CommandTree",)),
    ("event loop itself and the rest", ("",)),
)


def thread_table(tsv: Path) -> list[str]:
    rows = [line.split("\t") for line in tsv.read_text().splitlines()[1:] if line.strip()]
    by_name: dict[str, float] = collections.defaultdict(float)
    for _, name, seconds, _ in rows:
        by_name[name.split(" (")[0] if not name.startswith("imaging") else "imaging pool"] += float(
            seconds
        )
    total = sum(by_name.values()) or 1.0
    return [
        f"| {name} | {seconds:.2f} s | {seconds / total:.0%} |"
        for name, seconds in sorted(by_name.items(), key=lambda item: -item[1])
        if seconds > 0
    ]


def place_table(stacks: Path) -> list[str]:
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack.startswith("thread (") or "MainThread" not in stack.split(";", 1)[0]:
            continue
        total += int(number)
        for place, markers in PLACES:
            if any(marker in stack for marker in markers):
                counts[place] += int(number)
                break
    return [
        f"| {place} | {counts[place] / total:.1%} |"
        for place, _ in PLACES
        if counts[place] and total
    ] + [f"| (samples) | {total} |"]


def report(folder: Path) -> str:
    sections = []
    for stacks in sorted(folder.glob("*.txt")):
        bot = stacks.stem
        lines = [f"### {bot}", ""]
        tsv = stacks.with_suffix(".threads.tsv")
        if tsv.exists():
            lines += ["| thread | CPU over the burst | share |", "| --- | ---: | ---: |"]
            lines += [*thread_table(tsv), ""]
        lines += ["| event loop thread, holding the GIL | share |", "| --- | ---: |"]
        lines += place_table(stacks)
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Tables from a side-by-side --profile folder")
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    print(report(args.folder))


if __name__ == "__main__":
    main()
