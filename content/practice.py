"""Practice logic: scoring, streaks, most-missed topics and a Leitner spaced-repetition
schedule. Pure and storage-agnostic: the state is a dataclass that converts to and
from a plain dict (:meth:`PracticeState.to_dict` / :meth:`PracticeState.from_dict`)
for MongoDB. No I/O, no clock: callers pass ``now`` (timezone-aware UTC; naive
datetimes are taken as UTC, as pymongo returns them).

Items are identified by strings: ``"drill:<drill id>"`` for generated measurement drills
and ``"case:<case id>"`` for instructor diagnosis cases.

Schedule (Leitner boxes 1..5):

* a **wrong** answer puts the item in box 1 and makes it due again after
  :data:`WRONG_AGAIN_AFTER_QUESTIONS` more questions or :data:`BOX_INTERVALS` [1]
  (10 minutes), whichever comes first;
* a **right** answer moves the item one box up, due after the (longer) interval of its
  new box: 1 day, 3 days, 7 days, 21 days.

:func:`pick_next` asks due items first (wrong ones before right ones), then items never
seen, then the least recently seen.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

MIN_BOX, MAX_BOX = 1, 5
BOX_INTERVALS: dict[int, timedelta] = {
    1: timedelta(minutes=10),
    2: timedelta(days=1),
    3: timedelta(days=3),
    4: timedelta(days=7),
    5: timedelta(days=21),
}
WRONG_AGAIN_AFTER_QUESTIONS = 2
POINTS_CORRECT = 10
STREAK_BONUS = 2  # per consecutive right answer after the first...
STREAK_BONUS_CAP = 10  # ...up to this many extra points

DRILL_PREFIX = "drill:"
CASE_PREFIX = "case:"
EXPLANATION_LIMIT = 700  # characters of a case's explanation; the feedback message must stay well under 4096


@dataclass(frozen=True)
class Case:
    """A diagnosis practice case added by an instructor. The image stays on Telegram (its file_id); only
    its SHA-256 is kept. `label` is one of `inference.labels.LABELS`."""

    id: str
    author_id: str
    file_id: str
    image_sha256: str
    label: str
    explanation: str
    created_at: datetime


def drill_item(drill_id: str) -> str:
    return DRILL_PREFIX + drill_id


def case_item(case_id: str) -> str:
    return CASE_PREFIX + str(case_id)


def parse_item(item_id: str) -> tuple[str, str]:
    """("drill" | "case", id) for an item id; ValueError otherwise."""
    for kind, prefix in (("drill", DRILL_PREFIX), ("case", CASE_PREFIX)):
        if item_id.startswith(prefix) and len(item_id) > len(prefix):
            return kind, item_id[len(prefix):]
    raise ValueError(f"not a practice item id: {item_id!r}")


def _utc(dt: datetime) -> datetime:
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt)
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


@dataclass
class ItemSchedule:
    box: int
    due: datetime
    topic: str = ""
    seen: int = 0
    last_seen: datetime | None = None
    last_correct: bool = False
    due_after: int | None = None  # due once state.answered reaches this (wrong items)

    def is_due(self, now: datetime, answered: int) -> bool:
        if _utc(now) >= _utc(self.due):
            return True
        return self.due_after is not None and answered >= self.due_after

    def to_dict(self) -> dict:
        return {
            "box": self.box,
            "due": _utc(self.due),
            "topic": self.topic,
            "seen": self.seen,
            "last_seen": _utc(self.last_seen) if self.last_seen else None,
            "last_correct": self.last_correct,
            "due_after": self.due_after,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ItemSchedule":
        return cls(
            box=int(d.get("box", MIN_BOX)),
            due=_utc(d["due"]),
            topic=d.get("topic", ""),
            seen=int(d.get("seen", 0)),
            last_seen=_utc(d["last_seen"]) if d.get("last_seen") else None,
            last_correct=bool(d.get("last_correct", False)),
            due_after=d.get("due_after"),
        )


@dataclass
class PracticeState:
    score: int = 0
    answered: int = 0
    correct: int = 0
    streak: int = 0
    best_streak: int = 0
    misses: dict[str, int] = field(default_factory=dict)  # topic -> wrong answers
    answered_by_topic: dict[str, int] = field(default_factory=dict)  # topic -> answers
    schedule: dict[str, ItemSchedule] = field(default_factory=dict)  # item id -> schedule

    @property
    def accuracy(self) -> float:
        return self.correct / self.answered if self.answered else 0.0

    def to_dict(self) -> dict:
        """Plain dict for storage. The schedule is a list of {"item": id, ...} so that
        item ids never become document keys."""
        return {
            "score": self.score,
            "answered": self.answered,
            "correct": self.correct,
            "streak": self.streak,
            "best_streak": self.best_streak,
            "misses": [{"topic": t, "count": c} for t, c in sorted(self.misses.items())],
            "answered_by_topic": [{"topic": t, "count": c} for t, c in sorted(self.answered_by_topic.items())],
            "schedule": [{"item": k} | v.to_dict() for k, v in sorted(self.schedule.items())],
        }

    @classmethod
    def from_dict(cls, d: dict | None) -> "PracticeState":
        if not d:
            return cls()

        def counts(v) -> dict[str, int]:
            if isinstance(v, dict):
                return {str(k): int(c) for k, c in v.items()}
            return {str(x["topic"]): int(x["count"]) for x in (v or [])}

        sched_raw = d.get("schedule") or []
        if isinstance(sched_raw, dict):
            sched = {k: ItemSchedule.from_dict(v) for k, v in sched_raw.items()}
        else:
            sched = {x["item"]: ItemSchedule.from_dict(x) for x in sched_raw}
        return cls(
            score=int(d.get("score", 0)),
            answered=int(d.get("answered", 0)),
            correct=int(d.get("correct", 0)),
            streak=int(d.get("streak", 0)),
            best_streak=int(d.get("best_streak", 0)),
            misses=counts(d.get("misses")),
            answered_by_topic=counts(d.get("answered_by_topic")),
            schedule=sched,
        )


def points_for(streak_after: int) -> int:
    """Points for a right answer that brings the streak to ``streak_after``."""
    return POINTS_CORRECT + min(STREAK_BONUS * max(streak_after - 1, 0), STREAK_BONUS_CAP)


def record_answer(state: PracticeState, item_id: str, topic: str, correct: bool, now: datetime) -> PracticeState:
    """Return a new state with this answer recorded (the input state is not modified)."""
    now = _utc(now)
    s = copy.deepcopy(state)
    s.answered += 1
    s.answered_by_topic[topic] = s.answered_by_topic.get(topic, 0) + 1
    item = s.schedule.get(item_id)
    if correct:
        s.correct += 1
        s.streak += 1
        s.best_streak = max(s.best_streak, s.streak)
        s.score += points_for(s.streak)
        box = min((item.box if item else MIN_BOX) + 1, MAX_BOX)
        due_after = None
    else:
        s.streak = 0
        s.misses[topic] = s.misses.get(topic, 0) + 1
        box = MIN_BOX
        due_after = s.answered + WRONG_AGAIN_AFTER_QUESTIONS
    s.schedule[item_id] = ItemSchedule(
        box=box,
        due=now + BOX_INTERVALS[box],
        topic=topic,
        seen=(item.seen if item else 0) + 1,
        last_seen=now,
        last_correct=bool(correct),
        due_after=due_after,
    )
    return s


def due_items(state: PracticeState, now: datetime) -> list[str]:
    """Items due now, wrong ones first, each group by due time."""
    now = _utc(now)
    due = [(k, v) for k, v in state.schedule.items() if v.is_due(now, state.answered)]
    due.sort(key=lambda kv: (kv[1].last_correct, _utc(kv[1].due), kv[0]))
    return [k for k, _ in due]


def pick_next(
    state: PracticeState, candidate_ids: list[str], now: datetime, rng: random.Random | None = None
) -> str | None:
    """Choose the next item among ``candidate_ids``: due items (wrong before right),
    then a new item (random), then the least recently seen. None if no candidates."""
    rng = rng or random.Random()
    now = _utc(now)
    cands = list(dict.fromkeys(candidate_ids))
    if not cands:
        return None
    due_order = {k: i for i, k in enumerate(due_items(state, now))}
    due = [c for c in cands if c in due_order]
    if due:
        return min(due, key=lambda c: due_order[c])
    new = [c for c in cands if c not in state.schedule]
    if new:
        return rng.choice(new)
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    return min(
        cands,
        key=lambda c: (_utc(state.schedule[c].last_seen) if state.schedule[c].last_seen else epoch,
                       state.schedule[c].box, c),
    )


def top_missed_topics(state: PracticeState, n: int = 3) -> list[tuple[str, int]]:
    """The ``n`` topics with the most wrong answers: [(topic, misses)], most first."""
    items = [(t, c) for t, c in state.misses.items() if c > 0]
    items.sort(key=lambda tc: (-tc[1], tc[0]))
    return items[:n]


def practice_candidates(
    state: PracticeState,
    case_item_ids: list[str],
    rng: random.Random,
    fresh_drills: int = 1,
    drill_kinds: tuple[str, ...] | None = None,
) -> list[str]:
    """Candidate items for :func:`pick_next`: every instructor case offered, every drill
    this user has already seen (so wrong ones come back when due) and ``fresh_drills``
    new drill ids (drills are endless, so "new" is always available)."""
    from content.drills import new_drill_id

    seen_drills = [k for k in state.schedule if k.startswith(DRILL_PREFIX)]
    fresh = [
        drill_item(new_drill_id(rng, rng.choice(drill_kinds) if drill_kinds else None))
        for _ in range(fresh_drills)
    ]
    return list(dict.fromkeys(list(case_item_ids) + seen_drills + fresh))
