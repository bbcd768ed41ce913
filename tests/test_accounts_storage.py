"""Storage layer against a real nx-27017: indexes, duplicate keys, the operations the service relies on."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from storage import accounts as collections
from storage.mongo import StorageUnavailable, connect, from_ms, to_ms

try:
    from tests._accounts_fixtures import cheap_argon2, db, nx_uri  # noqa: F401
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from _accounts_fixtures import cheap_argon2, db, nx_uri  # noqa: F401


async def test_unique_index_on_normalised_email(db):
    indexes = [ix async for ix in await db[collections.USERS].list_indexes()]
    assert any(list(ix["key"]) == ["email_normalised"] and ix.get("unique") for ix in indexes)
    await db[collections.USERS].insert_one({"_id": "1", "email_normalised": "a@example.com"})
    with pytest.raises(DuplicateKeyError):
        await db[collections.USERS].insert_one({"_id": "2", "email_normalised": "a@example.com"})
    await db[collections.USERS].insert_one({"_id": "3", "email_normalised": "b@example.com"})
    with pytest.raises(DuplicateKeyError):  # also on update
        await db[collections.USERS].update_one({"_id": "3"}, {"$set": {"email_normalised": "a@example.com"}})
    assert await db[collections.USERS].count_documents({}) == 2


async def test_ensure_indexes_is_idempotent(db):
    await collections.ensure_indexes(db)
    await collections.ensure_indexes(db)


async def test_databases_are_isolated(nx_uri):
    client = connect(nx_uri)
    try:
        a, b = client["iso_a"], client["iso_b"]
        await a.things.insert_one({"_id": 1})
        assert await b.things.count_documents({}) == 0
    finally:
        await client.close()


def test_ms_round_trip():
    dt = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=timezone.utc)
    assert from_ms(to_ms(dt)) == dt
    assert from_ms(None) is None
    with pytest.raises(ValueError):
        to_ms(datetime(2026, 1, 1))


async def test_operations_used_by_the_service(db):
    """The small set of operations the service uses (ms integers, string states, never null queries)."""
    coll = db["probe"]
    await coll.insert_one({"_id": "s1", "exp": 1_000, "state": "open", "n": 0})
    await coll.insert_one({"_id": "s2", "exp": 2_000, "state": "open", "n": 0})
    await coll.insert_one({"_id": "s3", "exp": 3_000, "state": "open", "n": 0})
    due = [d["_id"] async for d in coll.find({"state": "open", "exp": {"$lte": 2_000}}).sort("exp", 1)]
    assert due == ["s1", "s2"]
    assert await coll.count_documents({"state": "open"}) == 3
    assert await coll.count_documents({"exp": {"$gt": 1_000}}) == 2
    doc = await coll.find_one_and_update(
        {"_id": "s1", "state": "open"}, {"$set": {"state": "ended", "ended_at": 5}, "$inc": {"n": 1}},
        return_document=ReturnDocument.AFTER,
    )
    assert doc["state"] == "ended" and doc["ended_at"] == 5 and doc["n"] == 1
    again = await coll.find_one_and_update(
        {"_id": "s1", "state": "open"}, {"$set": {"state": "ended"}}, return_document=ReturnDocument.AFTER
    )
    assert again is None  # a conditional update happens once
    assert await coll.count_documents({"state": "ended"}) == 1
    newest = [d["_id"] async for d in coll.find({}).sort("exp", -1).limit(1)]
    assert newest == ["s3"]
    res = await coll.update_many({"state": "open"}, {"$set": {"state": "ended"}})
    assert res.modified_count == 2
    # upsert with $set only (no $setOnInsert: nx-27017 ignores it in find_one_and_update)
    await coll.update_one({"_id": "lock"}, {"$set": {"until": 9}}, upsert=True)
    assert (await coll.find_one({"_id": "lock"}))["until"] == 9
    assert (await coll.delete_many({"_id": {"$in": ["s1", "s2"]}})).deleted_count == 2


async def test_booleans_written_by_set_read_back_truthy(db):
    coll = db["flags"]
    await coll.insert_one({"_id": 1, "on": False})
    await coll.update_one({"_id": 1}, {"$set": {"on": True}})
    doc = await coll.find_one({"_id": 1})
    assert bool(doc["on"]) is True  # nx-27017 returns 1 here, MongoDB True: read through bool()
    assert await coll.count_documents({"on": True}) == 1


async def test_unreachable_server_raises_storage_unavailable():
    client = connect("mongodb://127.0.0.1:1/", server_selection_timeout_ms=200)
    try:
        with pytest.raises(StorageUnavailable):
            await collections.ensure_indexes(client["x"])
    finally:
        await client.close()
