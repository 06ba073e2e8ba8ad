"""``python -m bench``: every benchmark, one after the other, results as markdown tables.

The numbers in docs/benchmarks.md come from this command on the project's 2-core
machine. Each benchmark can also be run alone (``python -m bench.quota_bench``,
``python -m bench.load_bench``) with its own options.
"""

from __future__ import annotations

from bench import load_bench, quota_bench


def main() -> None:
    print("## Quota accounting (SQLite)\n")
    quota_bench.main([])
    print("\n## The bot under load\n")
    load_bench.main([])


if __name__ == "__main__":
    main()
