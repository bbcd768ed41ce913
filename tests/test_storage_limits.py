"""Token buckets in MongoDB (storage.limits) against a real nx-27017: refill, burst, the first refusal,
state across a new client (a restart), and atomic takes from many coroutines and clients at once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

try:
    from tests._accounts_fixtures import db, nx_uri  # noqa: F401
except ImportError:
    from _accounts_fixtures import db, nx_uri  # noqa: F401

from storage.limits import Rate, TokenBuckets
from storage.mongo import connect

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
FIVE_A_MINUTE = Rate.per(5, timedelta(minutes=1))


def test_rate_per():
    assert FIVE_A_MINUTE.capacity == 5 and abs(FIVE_A_MINUTE.per_second - 5 / 60) < 1e-12
    assert Rate.per(60, timedelta(minutes=1), burst=10) == Rate(10, 1.0)


async def test_burst_then_refusal_then_refill(db):
    buckets = TokenBuckets(db)
    await buckets.ensure_indexes()
    decisions = [await buckets.take("k", FIVE_A_MINUTE, T0) for _ in range(7)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False, False]
    assert [d.first_denial for d in decisions] == [False] * 5 + [True, False]  # "slow down" said once
    assert decisions[5].retry_after == timedelta(seconds=12)
    assert not (await buckets.take("k", FIVE_A_MINUTE, T0 + timedelta(seconds=11))).allowed
    again = await buckets.take("k", FIVE_A_MINUTE, T0 + timedelta(seconds=12))
    assert again.allowed and again.remaining < 1e-6
    # refused again after an allowed one: a new first refusal
    assert (await buckets.take("k", FIVE_A_MINUTE, T0 + timedelta(seconds=12))).first_denial
    # other keys are other buckets
    assert (await buckets.take("other", FIVE_A_MINUTE, T0)).allowed


async def test_peek_refund_reset_prune(db):
    buckets = TokenBuckets(db)
    for _ in range(5):
        await buckets.take("k", FIVE_A_MINUTE, T0)
    peeked = await buckets.peek("k", FIVE_A_MINUTE, T0)
    assert not peeked.allowed and peeked.retry_after == timedelta(seconds=12)
    assert not (await buckets.peek("k", FIVE_A_MINUTE, T0)).allowed  # peeking spends nothing...
    await buckets.refund("k", FIVE_A_MINUTE, T0)
    assert (await buckets.take("k", FIVE_A_MINUTE, T0)).allowed  # ...a refund gives one back
    await buckets.reset("k")
    assert (await buckets.peek("k", FIVE_A_MINUTE, T0)).remaining == 5
    await buckets.take("old", FIVE_A_MINUTE, T0)
    await buckets.take("new", FIVE_A_MINUTE, T0 + timedelta(hours=2))
    assert await buckets.prune(T0 + timedelta(hours=2), idle=timedelta(hours=1)) == 1
    assert await db["rate_limits"].count_documents({}) == 1


async def test_the_bucket_outlives_the_client(db, nx_uri):
    await TokenBuckets(db).take("k", Rate(2, 0.001), T0)
    await TokenBuckets(db).take("k", Rate(2, 0.001), T0)
    client = connect(nx_uri)  # a restarted bot (or another replica): a new client, the same database
    try:
        other = TokenBuckets(client[db.name])
        assert not (await other.take("k", Rate(2, 0.001), T0)).allowed
    finally:
        await client.close()


async def test_parallel_takes_never_exceed_the_capacity(db, nx_uri):
    """Ten chats guessing at once through two clients: exactly `capacity` guesses get a token."""
    rate = Rate(capacity=4, per_second=0.0)
    client = connect(nx_uri)
    try:
        stores = [TokenBuckets(db), TokenBuckets(client[db.name])]
        decisions = await asyncio.gather(*(stores[i % 2].take("guess", rate, T0) for i in range(10)))
    finally:
        await client.close()
    assert sum(d.allowed for d in decisions) == 4
    assert sum(d.first_denial for d in decisions) == 1
