"""Domain records. All datetimes are timezone-aware UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

__all__ = ["Role", "User", "Session"]


class Role(str, Enum):
    STUDENT = "medical_student"
    PROFESSIONAL = "healthcare_professional"

    def __str__(self) -> str:  # so f-strings give the stored value
        return self.value


@dataclass(frozen=True)
class User:
    id: str
    username: str
    email: str
    role: Role
    is_active: bool
    is_instructor: bool
    created_at: datetime
    telegram_id: int | None = None


@dataclass(frozen=True)
class Session:
    id: str
    user_id: str
    telegram_id: int
    chat_id: int
    username: str
    role: Role
    is_instructor: bool
    token: str  # the JWT
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None  # "logout" | "replaced" | "expired" | "reset"

    @property
    def can_learn(self) -> bool:
        """Lessons and practice are for medical students, and for instructors whatever their role."""
        return self.role == Role.STUDENT or self.is_instructor
