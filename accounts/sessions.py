"""Login and sessions: the password check with its lockout, a JWT session per Telegram user (24 hours),
logout, expiry, and what the chat needs to tell users whose session ended."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

import jwt
from pymongo import DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from storage.mongo import from_ms, to_ms

from .base import JWT_ALGORITHM, AccountsBase, session_from_doc
from .emails import password_changed_email
from .errors import AccountLocked, NotActivated, UnknownEmail, WrongPassword
from .limits import LOCK_DURATION, LOGIN_FAILURE_WINDOW, LOGIN_MAX_FAILURES, SESSION_TTL
from .models import Role, Session
from .passwords import verify_password

log = logging.getLogger(__name__)


class Sessions(AccountsBase):
    async def login(self, email: str, password: str, *, telegram_id: int, chat_id: int) -> Session:
        """Raises UnknownEmail, AccountLocked, WrongPassword(attempts_left), NotActivated, RateLimited.

        The LOGIN_MAX_FAILURES-th wrong password within LOGIN_FAILURE_WINDOW raises AccountLocked (not
        WrongPassword); while locked even the right password is refused. A success clears the failure
        count and replaces any open session of this Telegram user (end_reason "replaced").

        Every guess is counted before it is checked — against this Telegram user's and everyone's
        failed-login buckets and the account's window — and given back when it was right, so parallel
        chats get no more guesses than the limits hold."""
        user_key = f"login-fail:tg:{telegram_id}"
        rules = self.rules
        await self._take(user_key, rules.login_failures_per_user)
        try:
            await self._take("login-fail:all", rules.login_failures_global)
        except Exception:
            await self._refund(user_key, rules.login_failures_per_user)
            raise
        doc = await self._user_by_email(email)
        if doc is None:
            raise UnknownEmail()  # counted: guessing addresses is guessing too
        try:
            failures = await self._reserve_guess(doc["_id"])
        except AccountLocked:
            await self._refund(user_key, rules.login_failures_per_user)
            await self._refund("login-fail:all", rules.login_failures_global)
            raise
        ok = await asyncio.to_thread(verify_password, doc.get("password_hash") or "", password or "")
        if not ok:
            await self._count_failure(doc["_id"], failures)
        await self._guards.update_one(
            {"_id": doc["_id"]}, {"$set": {"failures": 0, "window_start": to_ms(self._now())}}
        )
        await self._refund(user_key, rules.login_failures_per_user)
        await self._refund("login-fail:all", rules.login_failures_global)
        if not doc.get("is_active"):
            raise NotActivated()
        return await self._open_session(doc, telegram_id=telegram_id, chat_id=chat_id)

    async def _reserve_guess(self, user_id: str) -> int:
        """Count one guess against the account before it is checked (atomic: a conditional $inc); returns
        the failures counted in the window, this one included. Raises AccountLocked while locked, or
        when the window's guesses are all taken by guesses still being checked."""
        now_dt = self._now()
        now = to_ms(now_dt)
        try:
            await self._guards.insert_one({"_id": user_id, "failures": 0, "window_start": now, "locked_until": 0})
        except DuplicateKeyError:
            pass
        window = int(LOGIN_FAILURE_WINDOW.total_seconds() * 1000)
        await self._guards.update_one(  # a window that has passed starts again (once: the filter moves)
            {"_id": user_id, "window_start": {"$lte": now - window}, "locked_until": {"$lte": now}},
            {"$set": {"failures": 0, "window_start": now}},
        )
        guard = await self._guards.find_one_and_update(
            {"_id": user_id, "locked_until": {"$lte": now}, "failures": {"$lt": LOGIN_MAX_FAILURES}},
            {"$inc": {"failures": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if guard is None:
            current = await self._guards.find_one({"_id": user_id}) or {}
            until = int(current.get("locked_until") or 0)
            raise AccountLocked(from_ms(until) if until > now else now_dt + LOCK_DURATION)
        return int(guard["failures"])

    async def _count_failure(self, user_id: str, failures: int) -> None:
        """The guess was wrong: it stays counted; the last one allowed locks the account."""
        if failures < LOGIN_MAX_FAILURES:
            raise WrongPassword(LOGIN_MAX_FAILURES - failures)
        now_dt = self._now()
        until = now_dt + LOCK_DURATION
        await self._guards.update_one(
            {"_id": user_id},
            {"$set": {"locked_until": to_ms(until), "failures": 0, "window_start": to_ms(until)}},
        )
        log.info("account %s locked after %d failed logins", user_id, failures)
        raise AccountLocked(until)

    async def check_password(self, session: Session, password: str) -> None:
        """The current password of a logged-in user (before changing it). Counted like a login: raises
        WrongPassword(attempts_left), AccountLocked, RateLimited."""
        user_key = f"login-fail:tg:{session.telegram_id}"
        await self._take(user_key, self.rules.login_failures_per_user)
        doc = await self._users.find_one({"_id": session.user_id}) or {}
        try:
            failures = await self._reserve_guess(session.user_id)
        except AccountLocked:
            await self._refund(user_key, self.rules.login_failures_per_user)
            raise
        ok = await asyncio.to_thread(verify_password, doc.get("password_hash") or "", password or "")
        if not ok:
            await self._count_failure(session.user_id, failures)
        await self._guards.update_one({"_id": session.user_id}, {"$set": {"failures": 0}})
        await self._refund(user_key, self.rules.login_failures_per_user)

    async def change_password(self, session: Session, new_password_hash: str) -> list[Session]:
        """Store a new password (the current one was checked by `check_password`), end every other session
        of the account (reason "changed") and mail the user that it changed; returns the sessions ended."""
        now = to_ms(self._now())
        doc = await self._users.find_one_and_update(
            {"_id": session.user_id},
            {"$set": {"password_hash": new_password_hash, "password_changed_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return []
        ended = await self._end_sessions({"user_id": session.user_id, "_id": {"$ne": session.id}}, "changed")
        await self._send(doc["email"], password_changed_email(doc["username"]))
        log.info("password of account %s changed; %d other session(s) ended", session.user_id, len(ended))
        return ended

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

    async def claim_notice(self, session_id: str) -> bool:
        """Take the right to tell this session's user that it ended: one conditional update, True for exactly
        one caller (a job, a restart's or a new leader's announcement), so the notice goes out at most once.
        (`notified` is a boolean written by insert and 0/1 once nx-27017's `$set` wrote it: both match.)"""
        taken = await self._sessions.update_one({"_id": session_id, "notified": {"$in": [False, 0]}},
                                                {"$set": {"notified": True}})
        return bool(taken.matched_count)

    async def release_notice(self, session_id: str) -> None:
        """A claimed notice could not be sent (Telegram failed for now): the next start tries again."""
        await self._sessions.update_one({"_id": session_id}, {"$set": {"notified": False}})

    async def unnotified_ended_sessions(self) -> list[Session]:
        """Sessions ended by expiry, reset or a password change whose user was not told yet (mark_notified not called)."""
        docs = self._sessions.find({"state": "ended"}).sort("ended_at", 1)
        return [
            session_from_doc(d) async for d in docs
            if not d.get("notified") and d.get("end_reason") in ("expired", "reset", "changed")
        ]
