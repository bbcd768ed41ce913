"""The MongoDB lease that picks the one active bot process (bot/lease.py), on the real nx-27017 server."""

from __future__ import annotations

import asyncio
import uuid

import pytest_asyncio

from bot.lease import Lease, LeaderElection
from storage.mongo import connect


@pytest_asyncio.fixture
async def db(nx_server):
    client = connect(f"{nx_server.rstrip('/')}/lease_{uuid.uuid4().hex[:12]}")
    yield client.get_default_database()
    await client.close()


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


async def test_one_holder_at_a_time_until_it_expires_or_is_released(db):
    clock = Clock()
    a, b = (Lease(db, name, ttl=10, wall_clock=clock) for name in ("a", "b"))
    assert await a.acquire() and not await b.acquire()
    clock.t += 9
    assert await a.acquire()  # renewed: ten more seconds
    clock.t += 9
    assert not await b.acquire()
    clock.t += 2  # a's renewal has expired
    assert await b.acquire() and not await a.acquire()
    assert (await a.current())["holder"] == "b"
    await a.release()  # not a's to release
    assert (await b.current())["holder"] == "b"
    await b.release()
    assert await a.current() is None and await a.acquire()


async def test_taking_the_lease_is_atomic_among_many_contenders(db):
    for _ in range(3):
        contenders = [Lease(db, f"bot{i}", ttl=10) for i in range(12)]
        won = await asyncio.gather(*(c.acquire() for c in contenders))
        assert sum(won) == 1
        holder = (await contenders[0].current())["holder"]
        assert contenders[won.index(True)].holder == holder
        await contenders[won.index(True)].release()


async def test_a_standby_takes_over_when_the_leader_stops_renewing_and_the_leader_steps_down_first(db):
    events: list[tuple[str, str]] = []

    def election(name: str) -> LeaderElection:
        async def elected():
            events.append(("elected", name))

        async def lost():
            events.append(("lost", name))

        return LeaderElection(Lease(db, name, ttl=1.0), on_elected=elected, on_lost=lost)

    first, second = election("first"), election("second")
    assert await first.try_once() and not await second.try_once()
    first.start()
    second.start()
    await asyncio.sleep(1.5)  # the leader renews: the standby never gets it
    assert events == [("elected", "first")] and first.is_leader and not second.is_leader
    first._task.cancel()  # the leader's process freezes: no more renewals
    await asyncio.sleep(1.6)
    assert ("elected", "second") in events and second.is_leader
    await first.try_once()  # the frozen leader wakes up: it finds another holder and steps down
    assert not first.is_leader and events[-1] == ("lost", "first")
    await second.stop()  # a clean stop gives the lease up at once
    assert await Lease(db, "x").current() is None
    await first.stop()


async def test_halting_ends_the_loop_even_when_a_cancellation_comes_back_as_an_error(db, monkeypatch):
    # a cancellation that reaches the driver mid-call can come back as its error; the loop catches errors
    # to try again at the next tick, and without re-raising the cancellation `halt` (the bot's stop) hung
    from pymongo.errors import AutoReconnect

    async def nothing():
        return None

    election = LeaderElection(Lease(db, "frozen", ttl=1.0), on_elected=nothing, on_lost=nothing)
    election.renew_every = election.try_every = 0.01
    entered = asyncio.Event()

    async def try_once():
        entered.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise RuntimeError("leadership change failed: " + repr(AutoReconnect("cancelled"))) from None
        return False

    monkeypatch.setattr(election, "try_once", try_once)
    election.start()
    await asyncio.wait_for(entered.wait(), 5)
    task = election._task
    task.cancel()  # what `halt` does first
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done and task.cancelled()
    await election.halt()
