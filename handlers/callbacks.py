"""Every inline button's callback data, typed: one small dataclass per kind with `pack()` and `parse()`.

The wire format is `<prefix>:<field>:<field>…` (at most 64 bytes, Telegram's limit); the last field takes
the rest, so it may hold colons. `parse` returns None for data that is not of its kind or is malformed;
a handler registered with `pattern=Kind.matches` only ever sees well-formed data of its kind, and a
button no handler takes (malformed, or from a message older than a change) is answered by
`handlers.general.stale_button`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Self

from accounts.models import Role
from inference.labels import LABELS


@dataclass(frozen=True)
class CallbackData:
    PREFIX: ClassVar[str]

    def pack(self) -> str:
        return ":".join([self.PREFIX, *(str(getattr(self, f.name)) for f in dataclasses.fields(self))])

    @classmethod
    def parse(cls, data: object) -> Self | None:
        if not isinstance(data, str):
            return None
        fields = dataclasses.fields(cls)
        if not fields:
            return cls() if data == cls.PREFIX else None
        if not data.startswith(cls.PREFIX + ":"):
            return None
        parts = data[len(cls.PREFIX) + 1:].split(":", len(fields) - 1)
        if len(parts) != len(fields) or not all(parts):
            return None
        values = []
        for f, part in zip(fields, parts):
            if f.type == "int":
                if not part.isdigit():
                    return None
                values.append(int(part))
            else:
                values.append(part)
        parsed = cls(*values)
        return parsed if parsed.valid() else None

    @classmethod
    def matches(cls, data: object) -> bool:
        """For `CallbackQueryHandler(pattern=...)`."""
        return cls.parse(data) is not None

    def valid(self) -> bool:
        """Further checks of the fields' values (a known role, action, label)."""
        return True


@dataclass(frozen=True)
class ChooseRole(CallbackData):
    PREFIX: ClassVar[str] = "role"
    role: str

    def valid(self) -> bool:
        return self.role in {r.value for r in Role}


@dataclass(frozen=True)
class PreviewAction(CallbackData):
    """Confirm or Cancel under an ECG preview."""

    PREFIX: ClassVar[str] = "ecg"
    action: str  # "confirm" | "cancel"
    preview_id: str

    def valid(self) -> bool:
        return self.action in ("confirm", "cancel")


@dataclass(frozen=True)
class ExportDigitized(CallbackData):
    PREFIX: ClassVar[str] = "ecg:export"
    analysis_id: str


@dataclass(frozen=True)
class OpenLesson(CallbackData):
    """A lesson's first page (the lesson list, "Explain this diagnosis", a quiz's "Open the lesson")."""

    PREFIX: ClassVar[str] = "learn:open"
    slug: str


@dataclass(frozen=True)
class LessonPage(CallbackData):
    PREFIX: ClassVar[str] = "learn:page"
    page: int  # 0-based
    slug: str


@dataclass(frozen=True)
class LessonList(CallbackData):
    PREFIX: ClassVar[str] = "learn:list"


@dataclass(frozen=True)
class QuizAnswer(CallbackData):
    PREFIX: ClassVar[str] = "quiz:a"
    option: int
    item: str  # a practice item id ("drill:…" / "case:…")


@dataclass(frozen=True)
class NextQuestion(CallbackData):
    PREFIX: ClassVar[str] = "quiz:next"


@dataclass(frozen=True)
class CaseLabel(CallbackData):
    """The correct class of a new practice case (/addcase)."""

    PREFIX: ClassVar[str] = "addcase:label"
    label: str

    def valid(self) -> bool:
        return self.label in LABELS


@dataclass(frozen=True)
class RemoveCase(CallbackData):
    PREFIX: ClassVar[str] = "mycases:rm"
    case_id: str
