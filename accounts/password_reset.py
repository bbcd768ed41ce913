"""Password reset: a reset *request* per /forgot, a 6-digit code by mail (single use, a few attempts), then
the new password; every open session of the account ends and the user is mailed that the password changed.

A request belongs to the Telegram user who made it (its id is what the chat keeps, never the code): only
that chat can use it, a stranger's wrong guesses burn only the stranger's own requests, and a new /forgot
voids only the asker's previous request. A request is made for *any* address — one without an account (or
over its mail limits) gets a code nobody is sent — and every later step runs the same queries for both,
so neither the answers nor their timing tell whether an address has an account.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from typing import Any

from pymongo import ReturnDocument

from storage.mongo import to_ms

from .base import AccountsBase
from .emails import password_changed_email, reset_code_email
from .errors import ResetCodeExpired, ResetCodeInvalid
from .limits import MAIL_WINDOW, MAILS_PER_HOUR, RESET_CODE_MAX_ATTEMPTS, RESET_CODE_TTL, STRANGER_RESET_MAILS_PER_HOUR
from .models import Session
from .tokens import hash_reset_code, new_reset_code

log = logging.getLogger(__name__)


class PasswordReset(AccountsBase):
    def _code_hash(self, code_id: str, code: str) -> str:
        return hash_reset_code(code, key=self._secret, salt=code_id)

    async def _may_mail_code(self, user: dict[str, Any], telegram_id: int) -> bool:
        """MAILS_PER_HOUR codes to one account per asker, and STRANGER_RESET_MAILS_PER_HOUR from all askers
        but the account's own Telegram user together."""
        since = to_ms(self._now() - MAIL_WINDOW)
        recent = {"user_id": user["_id"], "mailed": 1, "created_at": {"$gt": since}}
        if await self._codes.count_documents({**recent, "telegram_id": telegram_id}) >= MAILS_PER_HOUR:
            return False
        if telegram_id == user.get("telegram_id"):
            return True
        strangers = await self._codes.count_documents({**recent, "owner": 0})
        return strangers < STRANGER_RESET_MAILS_PER_HOUR

    async def start_password_reset(self, email: str, *, telegram_id: int) -> str:
        """Make a reset request for this address and Telegram user and return its id (for the next steps).

        If the address has an account (and its mail limits allow), a code valid for RESET_CODE_TTL is
        mailed; otherwise nothing is, and the request's code is one nobody knows. The caller cannot tell
        which. The asker's previous requests are void."""
        doc = await self._user_by_email(email)
        now = to_ms(self._now())
        await self._codes.update_many(
            {"telegram_id": telegram_id, "state": "active"},
            {"$set": {"state": "voided", "voided_at": now, "void_reason": "superseded"}},
        )
        mail = doc is not None and await self._may_mail_code(doc, telegram_id)
        code = new_reset_code()
        code_id = uuid.uuid4().hex
        await self._codes.insert_one(
            {
                "_id": code_id,
                "user_id": doc["_id"] if doc is not None else "",
                "telegram_id": telegram_id,
                "owner": int(doc is not None and telegram_id == doc.get("telegram_id")),
                "mailed": int(mail),
                "code_hash": self._code_hash(code_id, code),
                "created_at": now,
                "expires_at": now + int(RESET_CODE_TTL.total_seconds() * 1000),
                "attempts": 0,
                "verified": 0,
                "state": "active",
                "used_at": None,
                "voided_at": None,
                "void_reason": None,
            }
        )
        if mail:
            await self._send(doc["email"], reset_code_email(doc["username"], code))
        elif doc is not None:
            log.warning("reset code for account %s not mailed: mail limit reached", doc["_id"])
        return code_id

    async def _request(self, request_id: str) -> dict[str, Any]:
        doc = await self._codes.find_one({"_id": str(request_id or "")})
        if doc is None:
            raise ResetCodeExpired("none")
        if doc.get("state") == "used":
            raise ResetCodeExpired("used")
        if doc.get("state") != "active":
            raise ResetCodeExpired("voided")
        if doc["expires_at"] <= to_ms(self._now()):
            raise ResetCodeExpired("expired")
        return doc

    async def verify_reset_code(self, request_id: str, code: str) -> None:
        """Check the code of a request and mark the request verified (the new password may follow).

        Raises ResetCodeInvalid(attempts_left) — attempts_left 0 on the last allowed wrong code, which voids
        the request — ResetCodeExpired(reason), or RateLimited (too many wrong codes from this Telegram user
        or from everyone). Every guess is counted before it is compared (conditional $inc), so parallel
        guesses get no more attempts than RESET_CODE_MAX_ATTEMPTS."""
        doc = await self._request(request_id)
        rules = self.rules
        user_key = f"code-fail:tg:{doc['telegram_id']}"
        await self._take(user_key, rules.code_failures_per_user)
        try:
            await self._take("code-fail:all", rules.code_failures_global)
        except Exception:
            await self._refund(user_key, rules.code_failures_per_user)
            raise
        counted = await self._codes.find_one_and_update(
            {"_id": doc["_id"], "state": "active", "attempts": {"$lt": RESET_CODE_MAX_ATTEMPTS}},
            {"$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if counted is None:  # voided meanwhile, or every attempt taken by guesses being checked
            raise ResetCodeExpired("voided")
        if hmac.compare_digest(self._code_hash(doc["_id"], (code or "").strip()), doc["code_hash"]):
            await self._codes.update_one({"_id": doc["_id"]}, {"$set": {"verified": 1}, "$inc": {"attempts": -1}})
            await self._refund(user_key, rules.code_failures_per_user)
            await self._refund("code-fail:all", rules.code_failures_global)
            return
        attempts = int(counted["attempts"])
        if attempts >= RESET_CODE_MAX_ATTEMPTS:
            await self._codes.update_one(
                {"_id": doc["_id"], "state": "active"},
                {"$set": {"state": "voided", "voided_at": to_ms(self._now()), "void_reason": "attempts"}},
            )
            raise ResetCodeInvalid(0)
        raise ResetCodeInvalid(RESET_CODE_MAX_ATTEMPTS - attempts)

    async def reset_password(self, request_id: str, new_password_hash: str) -> list[Session]:
        """Use a verified request (once, within its time): store the new password, lift any login lock, end
        all of the user's open sessions (reason "reset") and mail the user; returns the sessions ended.
        Raises ResetCodeExpired (not verified, used, voided, expired)."""
        doc = await self._request(request_id)
        now = to_ms(self._now())
        consumed = await self._codes.find_one_and_update(
            {"_id": doc["_id"], "state": "active", "verified": 1},
            {"$set": {"state": "used", "used_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if consumed is None or not consumed.get("user_id"):
            raise ResetCodeExpired("used" if consumed is None else "none")
        user = await self._users.find_one_and_update(
            {"_id": consumed["user_id"]},
            {"$set": {"password_hash": new_password_hash, "password_changed_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if user is None:
            raise ResetCodeExpired("none")
        await self._guards.delete_many({"_id": user["_id"]})
        ended = await self._end_sessions({"user_id": user["_id"]}, "reset")
        await self._send(user["email"], password_changed_email(user["username"]))
        log.info("password of account %s reset; %d session(s) ended", user["_id"], len(ended))
        return ended
