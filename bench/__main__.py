"""``python -m bench``: every benchmark, one after the other, results as markdown tables.

The numbers in docs/benchmarks.md come from this command on the project's 2-core
machine. Each benchmark can also be run alone (``python -m bench.quota_bench``,
``python -m bench.load_bench``) with its own options (``--help`` lists them).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench import load_bench, quota_bench

EPILOG = """\
benchmarks, run in this order (each also alone, with its own --help):
  quota   python -m bench.quota_bench  quota accounting throughput (SQLite)
  load    python -m bench.load_bench   the bot under load: acknowledgements in a burst,
                                       overhead, scheduler efficiency, memory

exit status: 0 when every benchmark ran, 2 on bad arguments.
Results are markdown tables on stdout; docs/benchmarks.md explains how to read them."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run every imagine-bot benchmark with its default options.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    parse_args(sys.argv[1:] if argv is None else argv)
    print("## Quota accounting (SQLite)\n")
    quota_bench.main([])
    print("\n## The bot under load\n")
    load_bench.main([])


if __name__ == "__main__":
    main()
