"""Token buckets kept in MongoDB: rate limits that hold across restarts and replicas.

One document a bucket (collection `rate_limits`), keyed by a string the caller chooses, e.g.
`"msg:tg:123456"` (messages of one Telegram user) or `"login-fail:acct:<id>"`. A bucket holds up to
`Rate.capacity` tokens and refills continuously at `Rate.per_second`; every `take` spends `cost` tokens
if it can and says whether it did.

    buckets = TokenBuckets(db)
    await buckets.ensure_indexes()
    MESSAGES = Rate.per(20, timedelta(minutes=1), burst=10)   # 20 a minute, at most 10 at once
    decision = await buckets.take("msg:tg:42", MESSAGES, clock.now())
    if not decision.allowed:
        if decision.first_denial:          # say "slow down" once, not for every refused message
            ...
        decision.retry_after               # timedelta until one token is back

    await buckets.peek(key, rate, now)     # the same Decision, nothing spent
    await buckets.refund(key, rate, now)   # give a token back (e.g. a login that succeeded)
    await buckets.reset(key)               # forget the bucket (full again)
    await buckets.prune(now, idle)         # drop buckets untouched for `idle` (full by then anyway)

`take` is atomic across coroutines, processes and replicas: the document is changed by a conditional
update on its version (`v`), retried when someone else changed it in between — so ten parallel chats
trying a guess each get exactly as many tokens as there are, never more ("check then count" cannot race).
Only portable operations are used (see `storage.mongo`): no upserts; a missing bucket is inserted, a
duplicate-key error means another writer created it first and the take is retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from storage.mongo import Database, to_ms, translate_errors

COLLECTION = "rate_limits"
MAX_ATTEMPTS = 20  # conditional-update retries under contention before giving up (never seen past a few)


@dataclass(frozen=True)
class Rate:
    """A bucket's shape: `capacity` tokens at most (the burst), refilled at `per_second`."""

    capacity: float
    per_second: float

    @classmethod
    def per(cls, count: float, period: timedelta, *, burst: float | None = None) -> "Rate":
        """`count` tokens every `period` (steady rate), with `burst` at once (default: `count`)."""
        return cls(capacity=float(burst if burst is not None else count), per_second=count / period.total_seconds())


@dataclass(frozen=True)
class Decision:
    allowed: bool
    remaining: float  # tokens left after this decision
    retry_after: timedelta  # until `cost` tokens are there again (zero when allowed)
    first_denial: bool = False  # refused, and the previous decision on this bucket was not a refusal


class BucketContention(Exception):
    """The bucket kept changing under us (MAX_ATTEMPTS conditional updates lost)."""


@translate_errors
class TokenBuckets:
    def __init__(self, db: Database, collection: str = COLLECTION) -> None:
        self._collection = db[collection]

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("updated_ms", 1)])

    async def take(self, key: str, rate: Rate, now: datetime, cost: float = 1.0) -> Decision:
        """Spend `cost` tokens if the bucket has them; atomic (see the module docstring)."""
        return await self._apply(key, rate, now, cost, spend=True)

    async def peek(self, key: str, rate: Rate, now: datetime, cost: float = 1.0) -> Decision:
        """What `take` would decide, without spending or recording anything."""
        doc = await self._collection.find_one({"_id": key})
        tokens = _refilled(doc, rate, to_ms(now))
        return _decision(tokens, tokens >= cost, rate, cost, first_denial=False)

    async def refund(self, key: str, rate: Rate, now: datetime, amount: float = 1.0) -> None:
        """Give tokens back (never past the capacity)."""
        await self._apply(key, rate, now, -amount, spend=True)

    async def reset(self, key: str) -> None:
        await self._collection.delete_one({"_id": key})

    async def prune(self, now: datetime, idle: timedelta) -> int:
        """Delete buckets untouched for `idle` (choose it longer than any rate's refill time)."""
        result = await self._collection.delete_many({"updated_ms": {"$lt": to_ms(now - idle)}})
        return result.deleted_count

    # ----------------------------------------------------------------------------------------------
    async def _apply(self, key: str, rate: Rate, now: datetime, cost: float, *, spend: bool) -> Decision:
        now_ms = to_ms(now)
        for _ in range(MAX_ATTEMPTS):
            doc = await self._collection.find_one({"_id": key})
            tokens = _refilled(doc, rate, now_ms)
            allowed = tokens >= cost or cost <= 0
            new_tokens = min(rate.capacity, tokens - cost) if allowed else tokens
            denied_before = bool(doc and doc.get("denied"))
            fields = {"tokens": float(new_tokens), "updated_ms": max(now_ms, int(doc["updated_ms"]) if doc else 0),
                      "denied": 0 if allowed else 1}
            if doc is None:
                try:
                    await self._collection.insert_one({"_id": key, "v": 1, **fields})
                except DuplicateKeyError:
                    continue  # created meanwhile by someone else: decide again on theirs
            else:
                updated = await self._collection.find_one_and_update(
                    {"_id": key, "v": doc["v"]},
                    {"$set": fields, "$inc": {"v": 1}},
                    return_document=ReturnDocument.AFTER,
                )
                if updated is None:
                    continue  # lost the race: read again
            return _decision(new_tokens, allowed, rate, cost, first_denial=not allowed and not denied_before)
        raise BucketContention(key)


def _refilled(doc: dict | None, rate: Rate, now_ms: int) -> float:
    if doc is None:
        return rate.capacity
    elapsed = max(0, now_ms - int(doc["updated_ms"])) / 1000
    return min(rate.capacity, float(doc["tokens"]) + elapsed * rate.per_second)


def _decision(tokens: float, allowed: bool, rate: Rate, cost: float, *, first_denial: bool) -> Decision:
    missing = 0.0 if allowed else max(0.0, cost - tokens)
    wait = missing / rate.per_second if rate.per_second > 0 else float("inf")
    retry_after = timedelta(seconds=wait) if wait != float("inf") else timedelta.max
    return Decision(allowed, max(0.0, tokens), retry_after, first_denial)
