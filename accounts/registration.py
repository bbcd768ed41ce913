"""Registration: an inactive account, its emailed activation link (single use), activation, resending."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from storage.mongo import to_ms

from .base import AccountsBase, user_from_doc
from .emails import activation_email
from .errors import EmailTaken, MailThrottled, RateLimited, TokenInvalid
from .limits import ACTIVATION_TTL
from .models import Role, User
from .tokens import hash_token, new_activation_token
from .validation import normalise_email

log = logging.getLogger(__name__)

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Registration(AccountsBase):
    async def _issue_activation(self, user: dict[str, Any]) -> None:
        """Kill every open link of this user, store a new one (hash only) and mail it."""
        now = to_ms(self._now())
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

    async def email_taken(self, email: str) -> bool:
        """True if an account uses this address (for the register conversation's email step)."""
        return await self._user_by_email(email) is not None

    async def registration_allowed(self, telegram_id: int) -> None:
        """Raises RateLimited if this Telegram user has created all the accounts its limit allows (checked
        before /register asks anything; `register` counts)."""
        now = self._now()
        decision = await self.buckets.peek(f"register:tg:{telegram_id}", self.rules.registrations_per_user, now)
        if not decision.allowed:
            raise RateLimited(now + decision.retry_after)

    async def register(
        self, username: str, email: str, password_hash: str, role: Role, telegram_id: int
    ) -> User:
        """Create an inactive account and queue the mail with its activation link (the outbox sends it,
        retrying while SMTP is down).

        Raises EmailTaken; RateLimited after `rules.registrations_per_user` accounts from one Telegram user."""
        email = normalise_email(email)
        role = Role(role)
        now = to_ms(self._now())
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
        key = f"register:tg:{telegram_id}"
        await self._take(key, self.rules.registrations_per_user)
        try:
            await self._users.insert_one(doc)
        except DuplicateKeyError as exc:
            await self._refund(key, self.rules.registrations_per_user)
            raise EmailTaken() from exc
        log.info("account %s registered", doc["_id"])
        await self._issue_activation(doc)
        return user_from_doc(doc)

    async def activate(self, token: str) -> User:
        """Use an activation link. Raises TokenInvalid("unknown" | "expired" | "used")."""
        token = (token or "").strip()
        if not _TOKEN_RE.match(token):
            raise TokenInvalid("unknown")
        token_hash = hash_token(token)
        now = to_ms(self._now())
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
        return user_from_doc(user)

    async def resend_activation(self, *, email: str | None = None, telegram_id: int | None = None) -> User | None:
        """Mail a fresh link (older links die). By email, else by the Telegram user who registered (the most
        recent inactive account). None if no inactive account matches. Raises MailThrottled after
        MAILS_PER_HOUR links within the hour (the current link then stays valid). The chat counts the
        request first (`take_mail_request`) and, for an address, answers alike whatever this returns."""
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
        return user_from_doc(doc)
