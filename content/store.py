"""MongoDB repositories for practice: each user's practice state, instructors' diagnosis cases,
the answers students gave to those cases (counts, never names) and daily reminders.

No Telegram here. Written for the nx-27017 quirks noted in accounts/storage.py: instants are
integer epoch milliseconds, booleans are read back through ``bool()``, no query filters on null,
and no upserts: a record is read first, then inserted or updated.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from pymongo.errors import DuplicateKeyError

from content.practice import PracticeState

PRACTICE = "practice_states"
CASES = "practice_cases"
CASE_ANSWERS = "practice_case_answers"
REMINDERS = "practice_reminders"

CASE_LABELS: tuple[str, ...] = ("myocardial_infarction", "abnormal_heartbeat", "history_of_mi", "normal")
EXPLANATION_LIMIT = 700  # characters; the feedback message must stay well under 4096
REMINDER_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(round(dt.timestamp() * 1000))


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc)


def image_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- practice state


def state_to_doc(state: PracticeState) -> dict:
    """PracticeState.to_dict() with every instant as integer milliseconds."""
    d = state.to_dict()
    for item in d["schedule"]:
        item["due"] = _ms(item["due"])
        item["last_seen"] = _ms(item["last_seen"]) if item.get("last_seen") else 0
    return d


def state_from_doc(d: dict | None) -> PracticeState:
    if not d:
        return PracticeState()
    d = dict(d)
    schedule = []
    for item in d.get("schedule") or []:
        item = dict(item)
        if isinstance(item.get("due"), (int, float)):
            item["due"] = _dt(item["due"])
        if isinstance(item.get("last_seen"), (int, float)):
            item["last_seen"] = _dt(item["last_seen"]) if item["last_seen"] else None
        schedule.append(item)
    d["schedule"] = schedule
    return PracticeState.from_dict(d)


class PracticeStore:
    """One document per account: ``{_id: user_id, state: {...}, pending: item id or ""}``."""

    def __init__(self, db: Any) -> None:
        self._c = db[PRACTICE]

    async def _ensure(self, user_id: str) -> dict:
        doc = await self._c.find_one({"_id": user_id})
        if doc is None:
            doc = {"_id": user_id, "state": state_to_doc(PracticeState()), "pending": "", "pending_message": 0}
            try:
                await self._c.insert_one(doc)
            except DuplicateKeyError:
                doc = await self._c.find_one({"_id": user_id})
        return doc

    async def load(self, user_id: str) -> PracticeState:
        doc = await self._c.find_one({"_id": user_id})
        return state_from_doc(doc["state"]) if doc else PracticeState()

    async def save(self, user_id: str, state: PracticeState) -> None:
        await self._ensure(user_id)
        await self._c.update_one({"_id": user_id}, {"$set": {"state": state_to_doc(state)}})

    async def set_pending(self, user_id: str, item_id: str, message_id: int = 0) -> None:
        """The question this user is expected to answer next ("" for none)."""
        await self._ensure(user_id)
        await self._c.update_one({"_id": user_id}, {"$set": {"pending": item_id, "pending_message": int(message_id)}})

    async def pending(self, user_id: str) -> tuple[str, int]:
        doc = await self._c.find_one({"_id": user_id})
        if not doc:
            return "", 0
        return doc.get("pending") or "", int(doc.get("pending_message") or 0)

    async def take_pending(self, user_id: str, item_id: str) -> bool:
        """Clear the pending question if it is ``item_id``; False if it was not pending (already
        answered, or replaced by a newer question), so one question scores once."""
        result = await self._c.update_one(
            {"_id": user_id, "pending": item_id}, {"$set": {"pending": "", "pending_message": 0}}
        )
        return result.modified_count == 1


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    id: str
    author_id: str
    file_id: str
    image_sha256: str
    label: str
    explanation: str
    created_at: datetime


def _case(doc: dict) -> Case:
    return Case(
        id=doc["_id"],
        author_id=doc["author_id"],
        file_id=doc["file_id"],
        image_sha256=doc["image_sha256"],
        label=doc["label"],
        explanation=doc["explanation"],
        created_at=_dt(doc["created_at"]),
    )


class CaseStore:
    """Diagnosis practice cases added by instructors. The image stays on Telegram (its file_id);
    only its SHA-256 is kept here."""

    def __init__(self, db: Any) -> None:
        self._c = db[CASES]
        self._a = db[CASE_ANSWERS]

    async def ensure_indexes(self) -> None:
        await self._c.create_index([("author_id", 1), ("created_at", 1)])
        await self._c.create_index([("state", 1)])
        await self._a.create_index([("case_id", 1), ("label", 1)])

    async def add(
        self, author_id: str, file_id: str, image_sha256: str, label: str, explanation: str, now: datetime
    ) -> Case:
        if label not in CASE_LABELS:
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
            "created_at": _ms(now),
            "state": "active",
        }
        await self._c.insert_one(doc)
        return _case(doc)

    async def get(self, case_id: str) -> Case | None:
        doc = await self._c.find_one({"_id": case_id, "state": "active"})
        return _case(doc) if doc else None

    async def active(self) -> list[Case]:
        return [_case(d) async for d in self._c.find({"state": "active"}).sort("created_at", 1)]

    async def by_author(self, author_id: str) -> list[Case]:
        cursor = self._c.find({"author_id": author_id, "state": "active"}).sort("created_at", 1)
        return [_case(d) async for d in cursor]

    async def remove(self, case_id: str, author_id: str) -> bool:
        """Remove one of the author's cases (and its answer counts); False if not theirs or gone."""
        result = await self._c.delete_one({"_id": case_id, "author_id": author_id})
        if result.deleted_count:
            await self._a.delete_many({"case_id": case_id})
        return bool(result.deleted_count)

    async def record_answer(self, case_id: str, label: str, correct: bool, now: datetime) -> None:
        """One answer, anonymous: the case, the class chosen, right or not, when."""
        await self._a.insert_one({"case_id": case_id, "label": label, "correct": bool(correct), "at": _ms(now)})

    async def answer_counts(self, case_id: str) -> dict[str, int]:
        """How many answers chose each class (every class present, zeros included)."""
        return {label: await self._a.count_documents({"case_id": case_id, "label": label}) for label in CASE_LABELS}


# --------------------------------------------------------------------------- reminders


@dataclass(frozen=True)
class Reminder:
    user_id: str
    telegram_id: int
    chat_id: int
    hour: int
    minute: int
    tz: str = "UTC"  # an IANA time-zone name; the job follows its daylight-saving changes

    @property
    def hhmm(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        try:
            return zoneinfo.ZoneInfo(self.tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # a zone a later tzdata dropped: keep reminding
            return zoneinfo.ZoneInfo("UTC")


def parse_hhmm(text: str) -> tuple[int, int] | None:
    """'7:30' or '07:30' -> (7, 30); None if not a valid 24-hour time."""
    m = REMINDER_RE.match((text or "").strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


@lru_cache(maxsize=1)
def _zones_by_key() -> dict[str, str]:
    """Lower-cased zone name -> name, plus each unambiguous last part ("berlin" -> "Europe/Berlin")."""
    names = {n for n in zoneinfo.available_timezones() if not n.startswith(("posix/", "right/"))} | {"UTC"}
    keys = {n.lower(): n for n in names}
    by_city: dict[str, set[str]] = {}
    for n in names:
        if "/" in n and n.split("/")[0] not in ("Etc", "SystemV", "US", "Canada", "Brazil", "Mexico", "Chile"):
            by_city.setdefault(n.rsplit("/", 1)[1].lower(), set()).add(n)
    for city, found in by_city.items():
        if len(found) == 1 and city not in keys:
            keys[city] = found.pop()
    return keys


def parse_timezone(text: str) -> str | None:
    """'Europe/Berlin', 'europe/berlin', 'Berlin', 'New_York' or 'new york' -> the IANA name; None if unknown."""
    key = (text or "").strip().replace(" ", "_").lower()
    return _zones_by_key().get(key) if key else None


def _reminder(doc: dict) -> Reminder:
    return Reminder(doc["_id"], int(doc["telegram_id"]), int(doc["chat_id"]), int(doc["hour"]), int(doc["minute"]),
                    doc.get("tz") or "UTC")


class ReminderStore:
    """One daily reminder per account, at HH:MM in the user's time zone."""

    def __init__(self, db: Any) -> None:
        self._c = db[REMINDERS]

    async def set(self, user_id: str, telegram_id: int, chat_id: int, hour: int, minute: int,
                  tz: str = "UTC") -> Reminder:
        fields = {"telegram_id": int(telegram_id), "chat_id": int(chat_id), "hour": int(hour), "minute": int(minute),
                  "tz": tz}
        if await self._c.find_one({"_id": user_id}) is None:
            try:
                await self._c.insert_one({"_id": user_id, **fields})
                return _reminder({"_id": user_id, **fields})
            except DuplicateKeyError:
                pass
        await self._c.update_one({"_id": user_id}, {"$set": fields})
        return _reminder({"_id": user_id, **fields})

    async def get(self, user_id: str) -> Reminder | None:
        doc = await self._c.find_one({"_id": user_id})
        return _reminder(doc) if doc else None

    async def remove(self, user_id: str) -> bool:
        return bool((await self._c.delete_one({"_id": user_id})).deleted_count)

    async def all(self) -> list[Reminder]:
        return [_reminder(d) async for d in self._c.find({})]
