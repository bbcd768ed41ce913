"""What the account use-cases share: the collections, the clock, the mailer and the JWT secret, the
document -> record mappers, ending sessions and the hourly mail limit.

Persistence rules are in `storage.mongo` (instants are epoch-ms integers, no queries on null, no upserts
but the lock's). Nothing here imports telegram; errors are typed (`accounts.errors`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from storage import accounts as collections
from storage.mongo import Database, from_ms, to_ms

from .clock import Clock
from .errors import MailNotSent
from .limits import MAIL_WINDOW, MAILS_PER_HOUR
from .mailer import Mailer
from .models import Role, Session, User
from .validation import normalise_email

log = logging.getLogger(__name__)

JWT_ALGORITHM = "HS256"


def user_from_doc(doc: dict[str, Any]) -> User:
    return User(
        id=doc["_id"],
        username=doc["username"],
        email=doc["email"],
        role=Role(doc["role"]),
        is_active=bool(doc.get("is_active")),
        is_instructor=bool(doc.get("is_instructor")),
        created_at=from_ms(doc["created_at"]),
        telegram_id=doc.get("telegram_id"),
    )


def session_from_doc(doc: dict[str, Any]) -> Session:
    return Session(
        id=doc["_id"],
        user_id=doc["user_id"],
        telegram_id=doc["telegram_id"],
        chat_id=doc["chat_id"],
        username=doc["username"],
        role=Role(doc["role"]),
        is_instructor=bool(doc.get("is_instructor")),
        token=doc["token"],
        created_at=from_ms(doc["created_at"]),
        expires_at=from_ms(doc["expires_at"]),
        ended_at=from_ms(doc.get("ended_at")),
        end_reason=doc.get("end_reason"),
    )


class AccountsBase:
    """`deep_link(payload)` builds `https://t.me/<bot>?start=<payload>`; it may be replaced later
    (`service.deep_link = ...`) once the bot username is known."""

    def __init__(
        self,
        db: Database,
        mailer: Mailer,
        clock: Clock,
        jwt_secret: str,
        deep_link: Callable[[str], str],
    ) -> None:
        if not jwt_secret:
            raise ValueError("jwt_secret is required")
        self.db = db
        self.mailer = mailer
        self.clock = clock
        self._secret = jwt_secret
        self.deep_link = deep_link
        self._users = db[collections.USERS]
        self._tokens = db[collections.ACTIVATION_TOKENS]
        self._codes = db[collections.RESET_CODES]
        self._sessions = db[collections.SESSIONS]
        self._failures = db[collections.LOGIN_FAILURES]
        self._locks = db[collections.LOGIN_LOCKS]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(db={self.db.name!r})"

    def _now(self) -> datetime:
        return self.clock.now()

    async def _send(self, to: str, mail: tuple[str, str, str]) -> None:
        subject, text, html = mail
        try:
            await self.mailer.send(to, subject, text, html)
        except MailNotSent:
            raise
        except Exception as exc:  # a Mailer that does not follow the protocol
            log.warning("mailer failed: %s", type(exc).__name__)
            raise MailNotSent(type(exc).__name__) from exc

    async def _user_by_email(self, email: str | None) -> dict[str, Any] | None:
        value = normalise_email(email or "")
        if not value:
            return None
        return await self._users.find_one({"email_normalised": value})

    async def _end_session(self, session_id: str, reason: str, extra: dict[str, Any] | None = None) -> Session | None:
        """End one open session; None if it was already ended (so each end is reported once)."""
        query: dict[str, Any] = {"_id": session_id, "state": "open"}
        if extra:
            query.update(extra)
        doc = await self._sessions.find_one_and_update(
            query,
            {"$set": {"state": "ended", "ended_at": to_ms(self._now()), "end_reason": reason}},
            return_document=ReturnDocument.AFTER,
        )
        return session_from_doc(doc) if doc else None

    async def _end_sessions(self, query: dict[str, Any], reason: str) -> list[Session]:
        ended: list[Session] = []
        async for doc in self._sessions.find({**query, "state": "open"}).sort("created_at", 1):
            session = await self._end_session(doc["_id"], reason)
            if session is not None:
                ended.append(session)
        return ended

    async def _mail_allowed_at(self, collection: AsyncCollection, user_id: str) -> datetime | None:
        """None if another mail of this kind (one token/code document each) may go to this user now,
        else when it may. Counts the documents created within the last hour."""
        since = to_ms(self._now() - MAIL_WINDOW)
        recent = [
            d["created_at"]
            async for d in collection.find({"user_id": user_id, "created_at": {"$gt": since}})
            .sort("created_at", DESCENDING)
            .limit(MAILS_PER_HOUR)
        ]
        if len(recent) < MAILS_PER_HOUR:
            return None
        return from_ms(min(recent)) + MAIL_WINDOW
