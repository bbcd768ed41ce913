"""Login and sessions: the password check with its lockout, a JWT session per Telegram user (24 hours),
logout, expiry, and what the chat needs to tell users whose session ended."""

from __future__ import annotations

import asyncio
import logging
import secrets
import uuid
from typing import Any

import jwt
from pymongo import DESCENDING

from storage.mongo import from_ms, to_ms

from .base import JWT_ALGORITHM, AccountsBase, session_from_doc
from .errors import AccountLocked, NotActivated, UnknownEmail, WrongPassword
from .limits import LOCK_DURATION, LOGIN_FAILURE_WINDOW, LOGIN_MAX_FAILURES, SESSION_TTL
from .models import Role, Session
from .passwords import verify_password

log = logging.getLogger(__name__)


class Sessions(AccountsBase):
    async def login(self, email: str, password: str, *, telegram_id: int, chat_id: int) -> Session:
        """Raises UnknownEmail, AccountLocked, WrongPassword(attempts_left), NotActivated.

        The LOGIN_MAX_FAILURES-th wrong password within LOGIN_FAILURE_WINDOW raises AccountLocked (not
        WrongPassword); while locked even the right password is refused. A success clears the failure
        count and replaces any open session of this Telegram user (end_reason "replaced")."""
        doc = await self._user_by_email(email)
        if doc is None:
            raise UnknownEmail()
        user_id = doc["_id"]
        now_dt = self._now()
        now = to_ms(now_dt)
        lock = await self._locks.find_one({"_id": user_id})
        if lock and lock.get("locked_until") and lock["locked_until"] > now:
            raise AccountLocked(from_ms(lock["locked_until"]))
        ok = await asyncio.to_thread(verify_password, doc.get("password_hash") or "", password or "")
        if not ok:
            await self._failures.insert_one({"_id": uuid.uuid4().hex, "user_id": user_id, "at": now})
            window_start = now - int(LOGIN_FAILURE_WINDOW.total_seconds() * 1000)
            failures = await self._failures.count_documents({"user_id": user_id, "at": {"$gt": window_start}})
            if failures >= LOGIN_MAX_FAILURES:
                until = now_dt + LOCK_DURATION
                await self._locks.update_one(
                    {"_id": user_id}, {"$set": {"locked_until": to_ms(until), "locked_at": now}}, upsert=True
                )
                await self._failures.delete_many({"user_id": user_id})
                log.info("account %s locked after %d failed logins", user_id, failures)
                raise AccountLocked(until)
            raise WrongPassword(LOGIN_MAX_FAILURES - failures)
        await self._failures.delete_many({"user_id": user_id})
        if not doc.get("is_active"):
            raise NotActivated()
        return await self._open_session(doc, telegram_id=telegram_id, chat_id=chat_id)

    async def _open_session(self, user: dict[str, Any], *, telegram_id: int, chat_id: int) -> Session:
        created = self._now().replace(microsecond=0)  # JWT times are whole seconds
        expires = created + SESSION_TTL
        sid = secrets.token_urlsafe(16)
        role = Role(user["role"])
        token = jwt.encode(
            {
                "sub": user["_id"],
                "role": role.value,
                "sid": sid,
                "iat": int(created.timestamp()),
                "exp": int(expires.timestamp()),
            },
            self._secret,
            algorithm=JWT_ALGORITHM,
        )
        await self._end_sessions({"telegram_id": telegram_id}, "replaced")
        doc = {
            "_id": sid,
            "user_id": user["_id"],
            "telegram_id": telegram_id,
            "chat_id": chat_id,
            "username": user["username"],
            "role": role.value,
            "is_instructor": bool(user.get("is_instructor")),
            "token": token,
            "created_at": to_ms(created),
            "expires_at": to_ms(expires),
            "state": "open",
            "ended_at": None,
            "end_reason": None,
            "notified": False,
        }
        await self._sessions.insert_one(doc)
        log.info("session %s opened for account %s", sid, user["_id"])
        return session_from_doc(doc)

    def _token_valid(self, session: Session) -> bool:
        try:
            claims = jwt.decode(
                session.token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                options={
                    "verify_exp": False,  # checked below against the injected clock
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["sub", "sid", "exp", "iat"],
                },
            )
        except jwt.InvalidTokenError:
            return False
        if claims.get("sid") != session.id or claims.get("sub") != session.user_id:
            return False
        return self._now().timestamp() < float(claims["exp"])

    async def current_session(self, telegram_id: int) -> Session | None:
        """The open, unexpired session of this Telegram user with a valid JWT, else None.

        An expired-but-not-yet-ended session gives None and is left for expire_due_sessions (which reports it)."""
        async for doc in self._sessions.find({"telegram_id": telegram_id, "state": "open"}).sort(
            "created_at", DESCENDING
        ):
            session = session_from_doc(doc)
            if session.expires_at > self._now() and self._token_valid(session):
                return session
            return None
        return None

    async def logout(self, telegram_id: int) -> Session | None:
        """End this Telegram user's open session(s); returns the most recent one ended, or None."""
        ended = await self._end_sessions({"telegram_id": telegram_id}, "logout")
        return ended[-1] if ended else None

    async def expire_due_sessions(self) -> list[Session]:
        """End (reason "expired") every open session with expires_at <= now and return those this call ended."""
        now = to_ms(self._now())
        ended: list[Session] = []
        async for doc in self._sessions.find({"state": "open", "expires_at": {"$lte": now}}).sort("expires_at", 1):
            session = await self._end_session(doc["_id"], "expired", {"expires_at": {"$lte": now}})
            if session is not None:
                ended.append(session)
        return ended

    async def expire_session(self, session_id: str) -> Session | None:
        """End one session if it is open and due (for a per-session job); None otherwise."""
        return await self._end_session(session_id, "expired", {"expires_at": {"$lte": to_ms(self._now())}})

    async def open_sessions(self) -> list[Session]:
        """Every session not ended yet (due or not), soonest expiry first."""
        return [session_from_doc(d) async for d in self._sessions.find({"state": "open"}).sort("expires_at", 1)]

    async def get_session(self, session_id: str) -> Session | None:
        doc = await self._sessions.find_one({"_id": session_id})
        return session_from_doc(doc) if doc else None

    async def mark_notified(self, session_id: str) -> None:
        """Record that the user was told their session ended."""
        await self._sessions.update_one({"_id": session_id}, {"$set": {"notified": True}})

    async def unnotified_ended_sessions(self) -> list[Session]:
        """Sessions ended by expiry or reset whose user was not told yet (mark_notified not called)."""
        docs = self._sessions.find({"state": "ended"}).sort("ended_at", 1)
        return [
            session_from_doc(d) async for d in docs
            if not d.get("notified") and d.get("end_reason") in ("expired", "reset")
        ]
