"""SHARD_COUNT / SHARD_IDS: a process connects exactly the shards it was given, through the
configured API base (not gateway.discord.gg), and still answers members on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.harness import start_harness

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_a_process_runs_the_shards_it_is_given_and_serves_their_servers(
    tmp_path: Path,
) -> None:
    harness = await start_harness(tmp_path, {"SHARD_COUNT": "2", "SHARD_IDS": "0,1"})
    try:
        connections = await harness.discord.wait_for_gateway(2, timeout=20)
        assert sorted(c.shard for c in connections if c.shard) == [(0, 2), (1, 2)]
        member = harness.member("sharded")
        it = await harness.discord.run_slash_command(
            member, harness.general, "imagine", prompt="a sharded fox"
        )
        await it.wait_for_original(lambda m: bool(m.attachments), timeout=20)
    finally:
        await harness.close()
