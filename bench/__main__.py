"""``python -m bench``: imagine-bot side by side with a bare bot, results as markdown tables.

The numbers in docs/benchmarks.md come from this command on the project's 2-core
machine. ``--all`` adds the older benchmarks, which can also be run alone
(``python -m bench.quota_bench``, ``python -m bench.load_bench``) with their own options
(``--help`` lists them).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench import load_bench, quota_bench, side_by_side

EPILOG = """\
benchmarks, run in this order (each also alone, with its own --help):
  side    python -m bench.side_by_side imagine-bot next to a bare discord.py bot, as ratios:
                                       acknowledgements, CPU per image, overhead, memory
  quota   python -m bench.quota_bench  (with --all) quota accounting throughput (SQLite)
  load    python -m bench.load_bench   (with --all) the bot under load: acknowledgements
                                       in a burst, overhead, scheduler efficiency, memory

exit status: 0 when every benchmark ran, 2 on bad arguments.
Results are markdown tables on stdout; docs/benchmarks.md explains how to read them."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the imagine-bot benchmarks (the side by side; --all for every one).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    side_by_side.add_arguments(parser)
    parser.add_argument(
        "--all", action="store_true", help="also run the quota and load benchmarks (~5 min more)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    print("## Side by side with a bare bot\n")
    print(side_by_side.run(side_by_side.options_from(args), args.load))
    if args.all:
        print("\n## Quota accounting (SQLite)\n")
        quota_bench.main([])
        print("\n## The bot under load\n")
        load_bench.main([])


if __name__ == "__main__":
    main()
