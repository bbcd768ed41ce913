"""`AccountService`: the one object the bot and the operator commands use for accounts.

Its use-cases live in `registration`, `sessions` (login and sessions) and `password_reset`; the operator's
lookups are here. Every public method turns an unreachable database into `StorageUnavailable`.
"""

from __future__ import annotations

from pymongo import ReturnDocument

from storage.mongo import translate_errors

from .base import user_from_doc
from .errors import UnknownEmail
from .models import User
from .password_reset import PasswordReset
from .registration import Registration
from .sessions import Sessions
from .validation import normalise_email

__all__ = ["AccountService"]


@translate_errors
class AccountService(Registration, Sessions, PasswordReset):
    """All account operations (see the three use-case modules)."""

    async def grant_instructor(self, email: str, value: bool = True) -> User:
        """Set or clear the instructor flag (also on open sessions). Raises UnknownEmail."""
        doc = await self._users.find_one_and_update(
            {"email_normalised": normalise_email(email or "")},
            {"$set": {"is_instructor": bool(value)}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise UnknownEmail()
        await self._sessions.update_many(
            {"user_id": doc["_id"], "state": "open"}, {"$set": {"is_instructor": bool(value)}}
        )
        return user_from_doc(doc)

    async def get_user(self, user_id: str) -> User | None:
        doc = await self._users.find_one({"_id": user_id})
        return user_from_doc(doc) if doc else None

    async def get_user_by_email(self, email: str) -> User | None:
        doc = await self._user_by_email(email)
        return user_from_doc(doc) if doc else None
