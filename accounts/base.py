"""What the account use-cases share: the collections, the clock, the mail outbox and the JWT secret, the
document -> record mappers, ending sessions, the hourly mail limit and the token buckets of the
per-Telegram-user and global limits.

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

from storage.limits import Rate, TokenBuckets

from .clock import Clock
from .errors import RateLimited
from .limits import JWT_SECRET_MIN_LENGTH, MAIL_WINDOW, MAILS_PER_HOUR, RateRules
from .mailer import Mailer
from .outbox import MailOutbox
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
    (`service.deep_link = ...`) once the bot username is known.

    Mail is queued in the outbox (`accounts.outbox`) and sent by its sender with `mailer`; with
    `send_at_once` each message is also tried once right away (operator commands and tests that read
    the mail at once); a failed try stays queued either way."""

    def __init__(
        self,
        db: Database,
        mailer: Mailer | None,
        clock: Clock,
        jwt_secret: str,
        deep_link: Callable[[str], str],
        *,
        rules: RateRules | None = None,
        send_at_once: bool = False,
    ) -> None:
        if not jwt_secret or len(jwt_secret) < JWT_SECRET_MIN_LENGTH:
            raise ValueError(f"the JWT secret must be at least {JWT_SECRET_MIN_LENGTH} characters")
        self.db = db
        self.mailer = mailer
        self.clock = clock
        self.outbox = MailOutbox(db, clock)
        self.buckets = TokenBuckets(db)
        self.rules = rules or RateRules()
        self.send_at_once = send_at_once
        self._secret = jwt_secret
        self.deep_link = deep_link
        self._users = db[collections.USERS]
        self._tokens = db[collections.ACTIVATION_TOKENS]
        self._codes = db[collections.RESET_CODES]
        self._sessions = db[collections.SESSIONS]
        self._failures = db[collections.LOGIN_FAILURES]
        self._locks = db[collections.LOGIN_LOCKS]
        self._guards = db[collections.LOGIN_GUARDS]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(db={self.db.name!r})"

    def _now(self) -> datetime:
        return self.clock.now()

    async def _send(self, to: str, mail: tuple[str, str, str]) -> None:
        """Queue a mail in the outbox (never lost, sent by the outbox's sender)."""
        subject, text, html = mail
        mail_id = await self.outbox.enqueue(to, subject, text, html)
        if self.send_at_once and self.mailer is not None:
            await self.outbox.deliver(mail_id, self.mailer)

    async def deliver_mail(self) -> int:
        """Send every queued mail that is due now (the sender does this on its own; for tests and tools)."""
        return await self.outbox.deliver_due(self.mailer) if self.mailer is not None else 0

    async def _take(self, key: str, rate: Rate) -> None:
        """Spend one token of a bucket or raise RateLimited."""
        now = self._now()
        decision = await self.buckets.take(key, rate, now)
        if not decision.allowed:
            raise RateLimited(now + decision.retry_after)

    async def _refund(self, key: str, rate: Rate) -> None:
        await self.buckets.refund(key, rate, self._now())

    async def take_mail_request(self, telegram_id: int) -> None:
        """Count one /forgot or /resend of this Telegram user, whatever the address (the answer then
        reveals nothing about it). Raises RateLimited."""
        await self._take(f"mail:tg:{telegram_id}", self.rules.mail_requests_per_user)

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
