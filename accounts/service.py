"""Account use-cases: register, activate, log in/out, sessions, password reset.

Persistence rules are in `accounts.storage` (instants are epoch-ms integers). Nothing here imports
telegram; errors are typed (`accounts.errors`) and the handlers turn them into chat texts.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import re
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, TypeVar

import jwt
from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from . import storage as st
from .clock import Clock
from .emails import activation_email, reset_code_email
from .errors import (
    AccountLocked,
    EmailTaken,
    MailNotSent,
    MailThrottled,
    NotActivated,
    ResetCodeExpired,
    ResetCodeInvalid,
    StorageUnavailable,
    TokenInvalid,
    UnknownEmail,
    WrongPassword,
)
from .mailer import Mailer
from .models import Role, Session, User
from .passwords import verify_password
from .tokens import hash_reset_code, hash_token, new_activation_token, new_reset_code
from .validation import normalise_email

__all__ = [
    "AccountService",
    "ACTIVATION_TTL",
    "SESSION_TTL",
    "RESET_CODE_TTL",
    "RESET_CODE_MAX_ATTEMPTS",
    "LOGIN_MAX_FAILURES",
    "LOGIN_FAILURE_WINDOW",
    "LOCK_DURATION",
    "MAILS_PER_HOUR",
    "JWT_ALGORITHM",
]

log = logging.getLogger(__name__)

ACTIVATION_TTL = timedelta(hours=24)
SESSION_TTL = timedelta(hours=24)
RESET_CODE_TTL = timedelta(minutes=15)
RESET_CODE_MAX_ATTEMPTS = 5
LOGIN_MAX_FAILURES = 5
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)
JWT_ALGORITHM = "HS256"
# Activation links and reset codes mailed to one account per rolling hour, each kind counted apart:
# enough for a user who mistyped or lost a mail, not enough to turn the bot into a mail cannon
# against someone else's address.
MAILS_PER_HOUR = 5
MAIL_WINDOW = timedelta(hours=1)

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

T = TypeVar("T")


def _guard(func: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Turn 'database unreachable' (ServerSelectionTimeoutError, AutoReconnect, …) into StorageUnavailable."""

    @functools.wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return await func(*args, **kwargs)
        except ConnectionFailure as exc:
            log.error("database unavailable in %s: %s", func.__name__, type(exc).__name__)
            raise StorageUnavailable(type(exc).__name__) from exc

    return wrapper


def _user(doc: dict[str, Any]) -> User:
    return User(
        id=doc["_id"],
        username=doc["username"],
        email=doc["email"],
        role=Role(doc["role"]),
        is_active=bool(doc.get("is_active")),
        is_instructor=bool(doc.get("is_instructor")),
        created_at=st.from_ms(doc["created_at"]),
        telegram_id=doc.get("telegram_id"),
    )


def _session(doc: dict[str, Any]) -> Session:
    return Session(
        id=doc["_id"],
        user_id=doc["user_id"],
        telegram_id=doc["telegram_id"],
        chat_id=doc["chat_id"],
        username=doc["username"],
        role=Role(doc["role"]),
        is_instructor=bool(doc.get("is_instructor")),
        token=doc["token"],
        created_at=st.from_ms(doc["created_at"]),
        expires_at=st.from_ms(doc["expires_at"]),
        ended_at=st.from_ms(doc.get("ended_at")),
        end_reason=doc.get("end_reason"),
    )


class AccountService:
    """All account operations. `deep_link(payload)` builds `https://t.me/<bot>?start=<payload>`; it may be
    replaced later (`service.deep_link = ...`) once the bot username is known."""

    def __init__(
        self,
        db: AsyncDatabase,
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
        self._users = db[st.USERS]
        self._tokens = db[st.ACTIVATION_TOKENS]
        self._codes = db[st.RESET_CODES]
        self._sessions = db[st.SESSIONS]
        self._failures = db[st.LOGIN_FAILURES]
        self._locks = db[st.LOGIN_LOCKS]

    def __repr__(self) -> str:
        return f"AccountService(db={self.db.name!r})"

    # ------------------------------------------------------------------ helpers
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

    async def _issue_activation(self, user: dict[str, Any]) -> None:
        """Kill every open link of this user, store a new one (hash only) and mail it."""
        now = st.to_ms(self._now())
        await self._tokens.update_many(
            {"user_id": user["_id"], "state": "active"}, {"$set": {"state": "revoked", "revoked_at": now}}
        )
        token = new_activation_token()
        await self._tokens.insert_one(
            {
                "_id": hash_token(token),
                "user_id": user["_id"],
                "created_at": now,
                "expires_at": now + int(ACTIVATION_TTL.total_seconds() * 1000),
                "state": "active",
                "used_at": None,
                "revoked_at": None,
            }
        )
        await self._send(user["email"], activation_email(user["username"], self.deep_link(token)))

    async def _end_session(self, session_id: str, reason: str, extra: dict[str, Any] | None = None) -> Session | None:
        """End one open session; None if it was already ended (so each end is reported once)."""
        query: dict[str, Any] = {"_id": session_id, "state": "open"}
        if extra:
            query.update(extra)
        doc = await self._sessions.find_one_and_update(
            query,
            {"$set": {"state": "ended", "ended_at": st.to_ms(self._now()), "end_reason": reason}},
            return_document=ReturnDocument.AFTER,
        )
        return _session(doc) if doc else None

    async def _end_sessions(self, query: dict[str, Any], reason: str) -> list[Session]:
        ended: list[Session] = []
        async for doc in self._sessions.find({**query, "state": "open"}).sort("created_at", 1):
            session = await self._end_session(doc["_id"], reason)
            if session is not None:
                ended.append(session)
        return ended

    async def _mail_allowed_at(self, collection: Any, user_id: str) -> datetime | None:
        """None if another mail of this kind (one token/code document each) may go to this user now,
        else when it may. Counts the documents created within the last hour."""
        since = st.to_ms(self._now() - MAIL_WINDOW)
        recent = [
            d["created_at"]
            async for d in collection.find({"user_id": user_id, "created_at": {"$gt": since}})
            .sort("created_at", DESCENDING)
            .limit(MAILS_PER_HOUR)
        ]
        if len(recent) < MAILS_PER_HOUR:
            return None
        return st.from_ms(min(recent)) + MAIL_WINDOW

    def _code_hash(self, code_id: str, code: str) -> str:
        return hash_reset_code(code, key=self._secret, salt=code_id)

    # ------------------------------------------------------------------ registration
    @_guard
    async def email_taken(self, email: str) -> bool:
        """True if an account uses this address (for the register conversation's email step)."""
        return await self._user_by_email(email) is not None

    @_guard
    async def register(
        self, username: str, email: str, password_hash: str, role: Role, telegram_id: int
    ) -> User:
        """Create an inactive account and mail its activation link.

        Raises EmailTaken; MailNotSent if the mail could not go out (the account and its link stay, so
        `resend_activation` works later)."""
        email = normalise_email(email)
        role = Role(role)
        now = st.to_ms(self._now())
        doc = {
            "_id": uuid.uuid4().hex,
            "username": username,
            "email": email,
            "email_normalised": email,
            "password_hash": password_hash,
            "role": role.value,
            "is_active": False,
            "is_instructor": False,
            "created_at": now,
            "activated_at": None,
            "password_changed_at": now,
            "telegram_id": telegram_id,
        }
        if await self._users.find_one({"email_normalised": email}) is not None:
            raise EmailTaken()
        try:
            await self._users.insert_one(doc)
        except DuplicateKeyError as exc:
            raise EmailTaken() from exc
        log.info("account %s registered", doc["_id"])
        await self._issue_activation(doc)
        return _user(doc)

    @_guard
    async def activate(self, token: str) -> User:
        """Use an activation link. Raises TokenInvalid("unknown" | "expired" | "used")."""
        token = (token or "").strip()
        if not _TOKEN_RE.match(token):
            raise TokenInvalid("unknown")
        token_hash = hash_token(token)
        now = st.to_ms(self._now())
        doc = await self._tokens.find_one_and_update(
            {"_id": token_hash, "state": "active", "expires_at": {"$gt": now}},
            {"$set": {"state": "used", "used_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            found = await self._tokens.find_one({"_id": token_hash})
            if found is None:
                raise TokenInvalid("unknown")
            if found.get("state") == "used":
                raise TokenInvalid("used")
            raise TokenInvalid("expired")  # out of time, or superseded by a newer link
        user = await self._users.find_one_and_update(
            {"_id": doc["user_id"]},
            {"$set": {"is_active": True, "activated_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if user is None:  # account deleted meanwhile
            raise TokenInvalid("unknown")
        await self._tokens.update_many(
            {"user_id": doc["user_id"], "state": "active"}, {"$set": {"state": "revoked", "revoked_at": now}}
        )
        log.info("account %s activated", user["_id"])
        return _user(user)

    @_guard
    async def resend_activation(self, *, email: str | None = None, telegram_id: int | None = None) -> User | None:
        """Mail a fresh link (older links die). By email, else by the Telegram user who registered (the most
        recent inactive account). None if no inactive account matches. Raises MailNotSent, or MailThrottled
        after MAILS_PER_HOUR links within the hour (the current link then stays valid)."""
        doc: dict[str, Any] | None = None
        if email:
            doc = await self._user_by_email(email)
        elif telegram_id is not None:
            async for candidate in (
                self._users.find({"telegram_id": telegram_id}).sort("created_at", DESCENDING)
            ):
                if not candidate.get("is_active"):
                    doc = candidate
                    break
        if doc is None or doc.get("is_active"):
            return None
        retry_at = await self._mail_allowed_at(self._tokens, doc["_id"])
        if retry_at is not None:
            raise MailThrottled(retry_at)
        await self._issue_activation(doc)
        return _user(doc)

    # ------------------------------------------------------------------ login / sessions
    @_guard
    async def login(self, email: str, password: str, *, telegram_id: int, chat_id: int) -> Session:
        """Raises UnknownEmail, AccountLocked, WrongPassword(attempts_left), NotActivated.

        The fifth wrong password within 15 minutes raises AccountLocked (not WrongPassword); while locked
        even the right password is refused. A success clears the failure count and replaces any open
        session of this Telegram user (end_reason "replaced")."""
        doc = await self._user_by_email(email)
        if doc is None:
            raise UnknownEmail()
        user_id = doc["_id"]
        now_dt = self._now()
        now = st.to_ms(now_dt)
        lock = await self._locks.find_one({"_id": user_id})
        if lock and lock.get("locked_until") and lock["locked_until"] > now:
            raise AccountLocked(st.from_ms(lock["locked_until"]))
        ok = await asyncio.to_thread(verify_password, doc.get("password_hash") or "", password or "")
        if not ok:
            await self._failures.insert_one({"_id": uuid.uuid4().hex, "user_id": user_id, "at": now})
            window_start = now - int(LOGIN_FAILURE_WINDOW.total_seconds() * 1000)
            failures = await self._failures.count_documents({"user_id": user_id, "at": {"$gt": window_start}})
            if failures >= LOGIN_MAX_FAILURES:
                until = now_dt + LOCK_DURATION
                await self._locks.update_one(
                    {"_id": user_id}, {"$set": {"locked_until": st.to_ms(until), "locked_at": now}}, upsert=True
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
            "created_at": st.to_ms(created),
            "expires_at": st.to_ms(expires),
            "state": "open",
            "ended_at": None,
            "end_reason": None,
            "notified": False,
        }
        await self._sessions.insert_one(doc)
        log.info("session %s opened for account %s", sid, user["_id"])
        return _session(doc)

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

    @_guard
    async def current_session(self, telegram_id: int) -> Session | None:
        """The open, unexpired session of this Telegram user with a valid JWT, else None.

        An expired-but-not-yet-ended session gives None and is left for expire_due_sessions (which reports it)."""
        async for doc in self._sessions.find({"telegram_id": telegram_id, "state": "open"}).sort(
            "created_at", DESCENDING
        ):
            session = _session(doc)
            if session.expires_at > self._now() and self._token_valid(session):
                return session
            return None
        return None

    @_guard
    async def logout(self, telegram_id: int) -> Session | None:
        """End this Telegram user's open session(s); returns the most recent one ended, or None."""
        ended = await self._end_sessions({"telegram_id": telegram_id}, "logout")
        return ended[-1] if ended else None

    @_guard
    async def expire_due_sessions(self) -> list[Session]:
        """End (reason "expired") every open session with expires_at <= now and return those this call ended."""
        now = st.to_ms(self._now())
        ended: list[Session] = []
        async for doc in self._sessions.find({"state": "open", "expires_at": {"$lte": now}}).sort("expires_at", 1):
            session = await self._end_session(doc["_id"], "expired", {"expires_at": {"$lte": now}})
            if session is not None:
                ended.append(session)
        return ended

    @_guard
    async def expire_session(self, session_id: str) -> Session | None:
        """End one session if it is open and due (for a per-session job); None otherwise."""
        return await self._end_session(session_id, "expired", {"expires_at": {"$lte": st.to_ms(self._now())}})

    @_guard
    async def open_sessions(self) -> list[Session]:
        """Every session not ended yet (due or not), soonest expiry first."""
        return [_session(d) async for d in self._sessions.find({"state": "open"}).sort("expires_at", 1)]

    @_guard
    async def get_session(self, session_id: str) -> Session | None:
        doc = await self._sessions.find_one({"_id": session_id})
        return _session(doc) if doc else None

    @_guard
    async def mark_notified(self, session_id: str) -> None:
        """Record that the user was told their session ended."""
        await self._sessions.update_one({"_id": session_id}, {"$set": {"notified": True}})

    @_guard
    async def unnotified_ended_sessions(self) -> list[Session]:
        """Sessions ended by expiry or reset whose user was not told yet (mark_notified not called)."""
        docs = self._sessions.find({"state": "ended"}).sort("ended_at", 1)
        return [
            _session(d) async for d in docs if not d.get("notified") and d.get("end_reason") in ("expired", "reset")
        ]

    # ------------------------------------------------------------------ password reset
    @_guard
    async def start_password_reset(self, email: str) -> None:
        """Mail a 6-digit code (15 min, single use) if the account exists; asking again voids the previous
        code. Returns None either way and never raises MailNotSent: the answer must not reveal whether the
        address has an account (a failed mail is logged without personal data; /forgot again retries).
        After MAILS_PER_HOUR codes within the hour nothing is sent and the current code stays valid — for
        the same reason that is not told either."""
        doc = await self._user_by_email(email)
        if doc is None:
            log.info("password reset asked for an address without an account")
            return None
        if await self._mail_allowed_at(self._codes, doc["_id"]) is not None:
            log.warning("reset code for account %s not sent: %d codes within the hour", doc["_id"], MAILS_PER_HOUR)
            return None
        now = st.to_ms(self._now())
        await self._codes.update_many(
            {"user_id": doc["_id"], "state": "active"},
            {"$set": {"state": "voided", "voided_at": now, "void_reason": "superseded"}},
        )
        code = new_reset_code()
        code_id = uuid.uuid4().hex
        await self._codes.insert_one(
            {
                "_id": code_id,
                "user_id": doc["_id"],
                "code_hash": self._code_hash(code_id, code),
                "created_at": now,
                "expires_at": now + int(RESET_CODE_TTL.total_seconds() * 1000),
                "attempts": 0,
                "state": "active",
                "used_at": None,
                "voided_at": None,
                "void_reason": None,
            }
        )
        try:
            await self._send(doc["email"], reset_code_email(doc["username"], code))
        except MailNotSent:
            log.warning("reset code mail for account %s could not be sent", doc["_id"])
        return None

    async def _check_code(self, email: str, code: str) -> tuple[dict[str, Any], dict[str, Any]]:
        user = await self._user_by_email(email)
        if user is None:
            raise ResetCodeExpired("none")
        doc = await self._codes.find_one({"user_id": user["_id"], "state": "active"})  # at most one
        if doc is None:  # explain with the most recent one
            docs = [d async for d in self._codes.find({"user_id": user["_id"]}).sort("created_at", DESCENDING).limit(1)]
            if not docs:
                raise ResetCodeExpired("none")
            doc = docs[0]
        now = st.to_ms(self._now())
        if doc.get("state") == "used":
            raise ResetCodeExpired("used")
        if doc.get("state") != "active":
            raise ResetCodeExpired("voided")
        if doc["expires_at"] <= now:
            raise ResetCodeExpired("expired")
        if not hmac.compare_digest(self._code_hash(doc["_id"], (code or "").strip()), doc["code_hash"]):
            updated = await self._codes.find_one_and_update(
                {"_id": doc["_id"], "state": "active"},
                {"$inc": {"attempts": 1}},
                return_document=ReturnDocument.AFTER,
            )
            if updated is None:
                raise ResetCodeExpired("voided")
            attempts = int(updated.get("attempts", 0))
            if attempts >= RESET_CODE_MAX_ATTEMPTS:
                await self._codes.update_one(
                    {"_id": doc["_id"], "state": "active"},
                    {"$set": {"state": "voided", "voided_at": now, "void_reason": "attempts"}},
                )
                raise ResetCodeInvalid(0)
            raise ResetCodeInvalid(RESET_CODE_MAX_ATTEMPTS - attempts)
        return user, doc

    @_guard
    async def verify_reset_code(self, email: str, code: str) -> None:
        """Check a code without using it up. Raises ResetCodeInvalid(attempts_left) — attempts_left 0 on the
        fifth wrong code, which voids it — or ResetCodeExpired(reason)."""
        await self._check_code(email, code)

    @_guard
    async def reset_password(self, email: str, code: str, new_password_hash: str) -> list[Session]:
        """Check and consume the code, store the new password, lift any login lock, and end all of the
        user's open sessions (reason "reset"); returns the sessions ended."""
        user, doc = await self._check_code(email, code)
        now = st.to_ms(self._now())
        consumed = await self._codes.find_one_and_update(
            {"_id": doc["_id"], "state": "active"},
            {"$set": {"state": "used", "used_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if consumed is None:
            raise ResetCodeExpired("used")
        await self._users.update_one(
            {"_id": user["_id"]}, {"$set": {"password_hash": new_password_hash, "password_changed_at": now}}
        )
        await self._failures.delete_many({"user_id": user["_id"]})
        await self._locks.delete_many({"_id": user["_id"]})
        ended = await self._end_sessions({"user_id": user["_id"]}, "reset")
        log.info("password of account %s reset; %d session(s) ended", user["_id"], len(ended))
        return ended

    # ------------------------------------------------------------------ admin / lookup
    @_guard
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
        return _user(doc)

    @_guard
    async def get_user(self, user_id: str) -> User | None:
        doc = await self._users.find_one({"_id": user_id})
        return _user(doc) if doc else None

    @_guard
    async def get_user_by_email(self, email: str) -> User | None:
        doc = await self._user_by_email(email)
        return _user(doc) if doc else None
