"""Which process takes over which job: lapsed leases, and predecessors known to be dead."""

from __future__ import annotations

from datetime import timedelta

from bot.jobs.leases import LeaseKeeper
from bot.store.base import Store
from tests.core.conftest import NOON, member, params


def keeper(
    store: Store, *, host: str = "host-a", pid: int = 100, alive: bool = True
) -> LeaseKeeper:
    return LeaseKeeper(store, host=host, pid=pid, clock=lambda: NOON, pid_alive=lambda _: alive)


async def test_a_live_peers_jobs_are_left_alone_until_its_lease_lapses(store: Store) -> None:
    peer = keeper(store, host="host-b")
    held = await store.reserve(
        member(), params(), bot_default_limit=9, now=NOON, lease=peer.new_lease()
    )
    me = keeper(store)
    assert await me.claim_abandoned(await store.in_flight()) == []

    later = LeaseKeeper(
        store, host="host-a", pid=100, pid_namespace="1", clock=lambda: NOON + timedelta(minutes=2)
    )
    taken = await later.claim_abandoned(await store.in_flight())
    assert [r.id for r in taken] == [held.generation_id]
    (record,) = await store.in_flight()
    assert record.owner == later.owner


async def test_a_dead_predecessor_on_this_host_is_taken_over_at_once(store: Store) -> None:
    crashed = keeper(store, pid=200)
    await store.reserve(
        member(), params(), bot_default_limit=9, now=NOON, lease=crashed.new_lease()
    )
    restarted = keeper(store, pid=300, alive=False)  # pid 200 no longer exists
    assert len(await restarted.claim_abandoned(await store.in_flight())) == 1


async def test_a_restarted_container_reusing_the_pid_is_not_fooled(store: Store) -> None:
    before = keeper(store, pid=1)
    await store.reserve(member(), params(), bot_default_limit=9, now=NOON, lease=before.new_lease())
    after = keeper(store, pid=1, alive=True)  # pid 1 is alive: it is us, a new incarnation
    assert after.owner != before.owner
    assert len(await after.claim_abandoned(await store.in_flight())) == 1


async def test_a_live_process_on_this_host_keeps_its_jobs(store: Store) -> None:
    neighbour = keeper(store, pid=200)
    await store.reserve(
        member(), params(), bot_default_limit=9, now=NOON, lease=neighbour.new_lease()
    )
    me = keeper(store, pid=300, alive=True)
    assert await me.claim_abandoned(await store.in_flight()) == []


async def test_jobs_from_before_leases_existed_are_claimed(store: Store) -> None:
    await store.reserve(member(), params(), bot_default_limit=9, now=NOON)
    assert len(await keeper(store).claim_abandoned(await store.in_flight())) == 1


async def test_a_graceful_stop_hands_jobs_back_at_once(store: Store) -> None:
    leaving = keeper(store, host="host-b")
    await store.reserve(
        member(), params(), bot_default_limit=9, now=NOON, lease=leaving.new_lease()
    )
    await leaving.stop()
    assert len(await keeper(store).claim_abandoned(await store.in_flight())) == 1
