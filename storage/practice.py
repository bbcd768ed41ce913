"""Practice repositories: each user's practice state, instructors' diagnosis cases, the answers students
gave to those cases (counts, never names) and daily reminders."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

from pymongo.errors import DuplicateKeyError

from content.practice import EXPLANATION_LIMIT, Case, PracticeState
from content.reminders import Reminder
from inference.labels import LABELS
from storage.mongo import Database, from_ms, to_ms, translate_errors

PRACTICE = "practice_states"
CASES = "practice_cases"
CASE_ANSWERS = "practice_case_answers"
REMINDERS = "practice_reminders"


# --------------------------------------------------------------------------- practice state


def state_to_doc(state: PracticeState) -> dict:
    """PracticeState.to_dict() with every instant as integer milliseconds."""
    d = state.to_dict()
    for item in d["schedule"]:
        item["due"] = to_ms(item["due"])
        item["last_seen"] = to_ms(item["last_seen"]) if item.get("last_seen") else 0
    return d


def state_from_doc(d: dict | None) -> PracticeState:
    if not d:
        return PracticeState()
    d = dict(d)
    schedule = []
    for item in d.get("schedule") or []:
        item = dict(item)
        if isinstance(item.get("due"), (int, float)):
            item["due"] = from_ms(item["due"])
        if isinstance(item.get("last_seen"), (int, float)):
            item["last_seen"] = from_ms(item["last_seen"]) if item["last_seen"] else None
        schedule.append(item)
    d["schedule"] = schedule
    return PracticeState.from_dict(d)


@translate_errors
class PracticeStore:
    """One document per account: ``{_id: user_id, state: {...}, pending: item id or ""}``."""

    def __init__(self, db: Database) -> None:
        self._states = db[PRACTICE]

    async def _ensure(self, user_id: str) -> dict:
        doc = await self._states.find_one({"_id": user_id})
        if doc is None:
            doc = {"_id": user_id, "state": state_to_doc(PracticeState()), "pending": "", "pending_message": 0}
            try:
                await self._states.insert_one(doc)
            except DuplicateKeyError:
                doc = await self._states.find_one({"_id": user_id})
        return doc

    async def load(self, user_id: str) -> PracticeState:
        doc = await self._states.find_one({"_id": user_id})
        return state_from_doc(doc["state"]) if doc else PracticeState()

    async def save(self, user_id: str, state: PracticeState) -> None:
        await self._ensure(user_id)
        await self._states.update_one({"_id": user_id}, {"$set": {"state": state_to_doc(state)}})

    async def set_pending(self, user_id: str, item_id: str, message_id: int = 0) -> None:
        """The question this user is expected to answer next ("" for none)."""
        await self._ensure(user_id)
        await self._states.update_one({"_id": user_id},
                                      {"$set": {"pending": item_id, "pending_message": int(message_id)}})

    async def pending(self, user_id: str) -> tuple[str, int]:
        doc = await self._states.find_one({"_id": user_id})
        if not doc:
            return "", 0
        return doc.get("pending") or "", int(doc.get("pending_message") or 0)

    async def take_pending(self, user_id: str, item_id: str) -> bool:
        """Clear the pending question if it is ``item_id``; False if it was not pending (already
        answered, or replaced by a newer question), so one question scores once."""
        result = await self._states.update_one(
            {"_id": user_id, "pending": item_id}, {"$set": {"pending": "", "pending_message": 0}}
        )
        return result.modified_count == 1


# --------------------------------------------------------------------------- cases


def _case(doc: dict) -> Case:
    return Case(
        id=doc["_id"],
        author_id=doc["author_id"],
        file_id=doc["file_id"],
        image_sha256=doc["image_sha256"],
        label=doc["label"],
        explanation=doc["explanation"],
        created_at=from_ms(doc["created_at"]),
    )


@translate_errors
class CaseStore:
    """Diagnosis practice cases added by instructors, and the anonymous answers they got."""

    def __init__(self, db: Database) -> None:
        self._cases = db[CASES]
        self._answers = db[CASE_ANSWERS]

    async def ensure_indexes(self) -> None:
        await self._cases.create_index([("author_id", 1), ("created_at", 1)])
        await self._cases.create_index([("state", 1)])
        await self._answers.create_index([("case_id", 1), ("label", 1)])

    async def add(
        self, author_id: str, file_id: str, image_sha256: str, label: str, explanation: str, now: datetime
    ) -> Case:
        if label not in LABELS:
            raise ValueError(f"unknown label {label!r}")
        explanation = explanation.strip()
        if not explanation or len(explanation) > EXPLANATION_LIMIT:
            raise ValueError("explanation must be 1..%d characters" % EXPLANATION_LIMIT)
        doc = {
            "_id": secrets.token_hex(4),
            "author_id": author_id,
            "file_id": file_id,
            "image_sha256": image_sha256,
            "label": label,
            "explanation": explanation,
            "created_at": to_ms(now),
            "state": "active",
        }
        await self._cases.insert_one(doc)
        return _case(doc)

    async def get(self, case_id: str) -> Case | None:
        doc = await self._cases.find_one({"_id": case_id, "state": "active"})
        return _case(doc) if doc else None

    async def active(self) -> list[Case]:
        return [_case(d) async for d in self._cases.find({"state": "active"}).sort("created_at", 1)]

    async def by_author(self, author_id: str) -> list[Case]:
        cursor = self._cases.find({"author_id": author_id, "state": "active"}).sort("created_at", 1)
        return [_case(d) async for d in cursor]

    async def remove(self, case_id: str, author_id: str) -> bool:
        """Remove one of the author's cases (and its answer counts); False if not theirs or gone."""
        result = await self._cases.delete_one({"_id": case_id, "author_id": author_id})
        if result.deleted_count:
            await self._answers.delete_many({"case_id": case_id})
        return bool(result.deleted_count)

    async def record_answer(self, case_id: str, label: str, correct: bool, now: datetime) -> None:
        """One answer, anonymous: the case, the class chosen, right or not, when."""
        await self._answers.insert_one({"case_id": case_id, "label": label, "correct": bool(correct), "at": to_ms(now)})

    async def answer_counts(self, case_id: str) -> dict[str, int]:
        """How many answers chose each class (every class present, zeros included)."""
        return {label: await self._answers.count_documents({"case_id": case_id, "label": label}) for label in LABELS}


# --------------------------------------------------------------------------- reminders


def _reminder(doc: dict) -> Reminder:
    return Reminder(doc["_id"], int(doc["telegram_id"]), int(doc["chat_id"]), int(doc["hour"]), int(doc["minute"]),
                    doc.get("tz") or "UTC", set_at=int(doc.get("set_at") or 0),
                    last_sent_day=int(doc.get("last_sent_day") or 0))


@translate_errors
class ReminderStore:
    """One daily reminder per account, at HH:MM in the user's time zone.

    Each occurrence is sent at most once, whichever bot process (leader before or after a takeover) or job
    tries: `claim` takes it with one conditional update before anything is sent (`handlers.jobs`)."""

    def __init__(self, db: Database) -> None:
        self._reminders = db[REMINDERS]

    async def set(self, user_id: str, telegram_id: int, chat_id: int, hour: int, minute: int,
                  tz: str = "UTC", *, now: datetime | None = None) -> Reminder:
        """A new time: `now` (when it was chosen) keeps an occurrence already past from being caught up."""
        now = now or datetime.now(timezone.utc)
        fields = {"telegram_id": int(telegram_id), "chat_id": int(chat_id), "hour": int(hour), "minute": int(minute),
                  "tz": tz, "set_at": to_ms(now), "last_sent_day": 0}
        if await self._reminders.find_one({"_id": user_id}) is None:
            try:
                await self._reminders.insert_one({"_id": user_id, **fields})
                return _reminder({"_id": user_id, **fields})
            except DuplicateKeyError:
                pass
        await self._reminders.update_one({"_id": user_id}, {"$set": fields})
        return _reminder({"_id": user_id, **fields})

    async def get(self, user_id: str) -> Reminder | None:
        doc = await self._reminders.find_one({"_id": user_id})
        return _reminder(doc) if doc else None

    async def remove(self, user_id: str) -> bool:
        return bool((await self._reminders.delete_one({"_id": user_id})).deleted_count)

    async def all(self) -> list[Reminder]:
        return [_reminder(d) async for d in self._reminders.find({})]

    async def claim(self, user_id: str, occurrence: int) -> bool:
        """Take the right to send this occurrence (`Reminder.occurrence_key`): True for exactly one caller."""
        taken = await self._reminders.update_one({"_id": user_id, "last_sent_day": {"$ne": int(occurrence)}},
                                                 {"$set": {"last_sent_day": int(occurrence)}})
        return bool(taken.matched_count)
