"""The side-by-side benchmark and its bare reference bot still run (tiny N; no speed asserted).

Benchmarks are not tests: nothing here checks a number, only that both bots answer every
member with an image and the report has its rows, so the benchmark cannot rot unnoticed.
"""

from __future__ import annotations

import math

from bench import side_by_side


async def test_both_bots_deliver_every_image_and_the_report_has_the_ratios() -> None:
    options = side_by_side.Options(burst=3, overhead_jobs=1, api_latency=0.0, rounds=1)

    pairs = await side_by_side.scenario(options)

    [(bare, ours)] = pairs
    for turn in (bare, ours):
        assert turn.delivered == 3, turn
        assert turn.missed == 0, turn
        assert not math.isnan(turn.cpu_per_image) and turn.peak_rss_mb > 0, turn
    table = side_by_side.report(pairs)
    assert "| acknowledgement p99 |" in table and "| CPU per delivered image |" in table
