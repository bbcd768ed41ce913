"""Password reset: a 6-digit code by mail (single use, a few attempts), then the new password; every
open session of the account ends."""

from __future__ import annotations

import hmac
import logging
import uuid
from typing import Any

from pymongo import DESCENDING, ReturnDocument

from storage.mongo import to_ms

from .base import AccountsBase
from .emails import reset_code_email
from .errors import MailNotSent, ResetCodeExpired, ResetCodeInvalid
from .limits import MAILS_PER_HOUR, RESET_CODE_MAX_ATTEMPTS, RESET_CODE_TTL
from .models import Session
from .tokens import hash_reset_code, new_reset_code

log = logging.getLogger(__name__)


class PasswordReset(AccountsBase):
    def _code_hash(self, code_id: str, code: str) -> str:
        return hash_reset_code(code, key=self._secret, salt=code_id)

    async def start_password_reset(self, email: str) -> None:
        """Mail a code (RESET_CODE_TTL, single use) if the account exists; asking again voids the previous
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
        now = to_ms(self._now())
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
        now = to_ms(self._now())
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

    async def verify_reset_code(self, email: str, code: str) -> None:
        """Check a code without using it up. Raises ResetCodeInvalid(attempts_left) — attempts_left 0 on the
        last allowed wrong code, which voids it — or ResetCodeExpired(reason)."""
        await self._check_code(email, code)

    async def reset_password(self, email: str, code: str, new_password_hash: str) -> list[Session]:
        """Check and consume the code, store the new password, lift any login lock, and end all of the
        user's open sessions (reason "reset"); returns the sessions ended."""
        user, doc = await self._check_code(email, code)
        now = to_ms(self._now())
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
