"""Practice repositories against a real nx-27017 (the quirks: $set datetimes, booleans, no upsert)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

try:
    from tests._accounts_fixtures import cheap_argon2, db, nx_uri  # noqa: F401
except ImportError:
    from _accounts_fixtures import cheap_argon2, db, nx_uri  # noqa: F401

from content.practice import PracticeState, due_items, record_answer
from content.reminders import parse_hhmm
from storage.practice import CaseStore, PracticeStore, ReminderStore, state_from_doc, state_to_doc

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


def test_state_round_trips_through_a_plain_document():
    s = record_answer(PracticeState(), "drill:rate-1", "rate", False, T0)
    s = record_answer(s, "drill:qrs_width-2", "qrs_width", True, T0 + timedelta(minutes=1))
    doc = state_to_doc(s)
    assert all(isinstance(x["due"], int) and isinstance(x["last_seen"], int) for x in doc["schedule"])
    assert state_from_doc(doc) == s


async def test_practice_state_survives_repeated_saves(db):
    store = PracticeStore(db)
    assert await store.load("u1") == PracticeState()
    s = record_answer(PracticeState(), "drill:rate-1", "rate", False, T0)
    await store.save("u1", s)
    s = record_answer(s, "drill:regularity-5", "regularity", True, T0 + timedelta(minutes=2))
    await store.save("u1", s)  # the second write is a $set: instants must stay integers
    loaded = await store.load("u1")
    assert loaded == s
    assert loaded.schedule["drill:regularity-5"].last_correct is True
    assert due_items(loaded, T0 + timedelta(minutes=11)) == ["drill:rate-1"]
    assert await store.load("u2") == PracticeState()


async def test_pending_question_is_taken_once(db):
    store = PracticeStore(db)
    await store.set_pending("u1", "drill:rate-1", 42)
    assert await store.pending("u1") == ("drill:rate-1", 42)
    assert not await store.take_pending("u1", "drill:rate-2")
    assert await store.take_pending("u1", "drill:rate-1")
    assert not await store.take_pending("u1", "drill:rate-1")
    assert await store.pending("u1") == ("", 0)


async def test_cases_by_author_removal_and_anonymous_counts(db):
    cases = CaseStore(db)
    await cases.ensure_indexes()
    a = await cases.add("teacher", "file-a", "ab" * 32, "normal", "Sinus rhythm, normal axis.", T0)
    b = await cases.add("teacher", "file-b", "cd" * 32, "myocardial_infarction", "ST elevation V1-V4.", T0 + timedelta(1))
    await cases.add("other", "file-c", "ef" * 32, "history_of_mi", "Q waves in III, aVF.", T0)
    assert [c.id for c in await cases.by_author("teacher")] == [a.id, b.id]
    assert len(await cases.active()) == 3
    await cases.record_answer(a.id, "normal", True, T0)
    await cases.record_answer(a.id, "normal", True, T0)
    await cases.record_answer(a.id, "abnormal_heartbeat", False, T0)
    counts = await cases.answer_counts(a.id)
    assert counts == {"myocardial_infarction": 0, "abnormal_heartbeat": 1, "history_of_mi": 0, "normal": 2}
    async for doc in db["practice_case_answers"].find({}):
        assert set(doc) == {"_id", "case_id", "label", "correct", "at"}  # no user
    assert not await cases.remove(a.id, "other")  # not theirs
    assert await cases.remove(a.id, "teacher")
    assert await cases.get(a.id) is None
    assert sum((await cases.answer_counts(a.id)).values()) == 0
    assert [c.id for c in await cases.by_author("teacher")] == [b.id]


async def test_reminders_set_replace_remove(db):
    store = ReminderStore(db)
    await store.set("u1", 11, 11, 7, 30)
    await store.set("u1", 11, 11, 8, 5)
    await store.set("u2", 22, 22, 21, 0)
    r = await store.get("u1")
    assert (r.hhmm, r.chat_id) == ("08:05", 11)
    assert sorted(x.user_id for x in await store.all()) == ["u1", "u2"]
    assert await store.remove("u1") and not await store.remove("u1")
    assert [x.user_id for x in await store.all()] == ["u2"]


def test_parse_hhmm():
    assert parse_hhmm("07:30") == (7, 30) and parse_hhmm("7:05") == (7, 5) and parse_hhmm("23:59") == (23, 59)
    for bad in ("24:00", "7:5", "12:60", "noon", "", "1230"):
        assert parse_hhmm(bad) is None
