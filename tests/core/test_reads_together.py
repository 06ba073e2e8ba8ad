"""Reads of a server's policy that arrive together share one read, never a stale one.

In a burst every member's request reads the same server's policy before its
acknowledgement (and once more for the moderation log). Those that ask before a read has
begun share it; whoever asks after it began gets a read of its own, so nobody is
answered with settings older than their request.
"""

from __future__ import annotations

import asyncio

import pytest

from bot.store import Store
from bot.store.common import Began, ReadsTogether, StoreCommon
from tests.core.conftest import GUILD, MOD


class Reads:
    """A read the test starts and finishes by hand; counts how many were started."""

    def __init__(self) -> None:
        self.started = 0
        self.begin: list[Began] = []
        self.finish: list[asyncio.Future[str]] = []

    async def start(self, began: Began) -> str:
        self.started += 1
        self.begin.append(began)
        self.finish.append(asyncio.get_running_loop().create_future())
        return await self.finish[-1]


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_callers_before_the_read_begins_share_it() -> None:
    together: ReadsTogether[int, str] = ReadsTogether()
    reads = Reads()
    callers = [asyncio.ensure_future(together.read(1, reads.start)) for _ in range(5)]
    await settle()
    assert reads.started == 1
    reads.begin[0]()
    reads.finish[0].set_result("policy")
    assert await asyncio.gather(*callers) == ["policy"] * 5


async def test_a_caller_after_the_read_began_gets_its_own() -> None:
    together: ReadsTogether[int, str] = ReadsTogether()
    reads = Reads()
    first = asyncio.ensure_future(together.read(1, reads.start))
    await settle()
    reads.begin[0]()  # the first read's statement is running: a write may have just landed
    second = asyncio.ensure_future(together.read(1, reads.start))
    other_key = asyncio.ensure_future(together.read(2, reads.start))
    await settle()
    assert reads.started == 3
    reads.finish[0].set_result("before the write")
    reads.finish[1].set_result("after the write")
    reads.finish[2].set_result("another server")
    assert await first == "before the write"
    assert await second == "after the write"
    assert await other_key == "another server"


async def test_a_caller_that_gives_up_leaves_the_read_to_the_others() -> None:
    together: ReadsTogether[int, str] = ReadsTogether()
    reads = Reads()
    impatient = asyncio.ensure_future(together.read(1, reads.start))
    patient = asyncio.ensure_future(together.read(1, reads.start))
    await settle()
    impatient.cancel()
    await settle()
    reads.begin[0]()
    reads.finish[0].set_result("policy")
    assert await patient == "policy"
    assert impatient.cancelled()


async def test_a_failed_read_fails_its_callers_and_the_next_caller_reads_again() -> None:
    together: ReadsTogether[int, str] = ReadsTogether()
    reads = Reads()
    callers = [asyncio.ensure_future(together.read(1, reads.start)) for _ in range(2)]
    await settle()
    reads.finish[0].set_exception(ConnectionError("database gone"))
    for caller in callers:
        with pytest.raises(ConnectionError):
            await caller
    again = asyncio.ensure_future(together.read(1, reads.start))
    await settle()
    assert reads.started == 2
    reads.finish[1].set_result("policy")
    assert await again == "policy"


async def test_a_burst_of_policy_reads_shares_reads_and_sees_every_earlier_write(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(store, StoreCommon)
    assert await store.block_word(GUILD, "gore", actor_id=MOD)
    real = store._read_guild_policy
    statements = 0

    async def counted(guild_id: int, began: Began) -> object:
        nonlocal statements
        statements += 1
        return await real(guild_id, began)

    monkeypatch.setattr(store, "_read_guild_policy", counted)
    policies = await asyncio.gather(*(store.guild_policy(GUILD) for _ in range(50)))
    assert all(policy.blocked_words == ("gore",) for policy in policies)
    assert statements < 50, "requests arriving together share a read"
    assert await store.block_word(GUILD, "blood", actor_id=MOD)
    assert (await store.guild_policy(GUILD)).blocked_words == ("blood", "gore")
