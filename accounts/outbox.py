"""Mail that is never lost: an outbox collection in MongoDB.

The use-cases `enqueue` a message (one document, state "queued"); a sender (`run`, started by the bot)
claims due messages one at a time, sends each with the `Mailer` and marks it "sent", or counts the
attempt and tries again later with back-off (`BACKOFF`, doubling up to `BACKOFF_MAX`), until
`MAX_ATTEMPTS` make it "failed". Everything is in the database, so SMTP being down, a restart or both
lose nothing; a claim is a conditional update, so two senders (replicas) never send one message twice.
A message is sent at most once unless the process dies between the SMTP server's "OK" and marking it
sent (then it goes again once the claim's lease has passed: at least once, never lost).

Sent and failed messages are deleted after `KEEP` (they hold links and codes).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

from pymongo import ReturnDocument

from storage import accounts as collections
from storage.mongo import Database, StorageUnavailable, raise_if_cancelled, to_ms, translate_errors

from .clock import Clock
from .errors import MailNotSent
from .mailer import Mailer

log = logging.getLogger(__name__)

BACKOFF = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 30  # about a day of tries at the longest back-off
LEASE = timedelta(minutes=5)  # a claimed message is retried after this if its sender died
KEEP = timedelta(days=7)
POLL_SECONDS = 5.0  # the sender also wakes at once when something is queued


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF_MAX, BACKOFF * (2 ** max(0, attempts - 1)))


@translate_errors
class MailOutbox:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._mails = db[collections.MAIL_OUTBOX]
        self.clock = clock
        self._wake = asyncio.Event()

    async def enqueue(self, to: str, subject: str, text: str, html: str) -> str:
        now = to_ms(self.clock.now())
        mail_id = uuid.uuid4().hex
        await self._mails.insert_one(
            {
                "_id": mail_id, "to": to, "subject": subject, "text": text, "html": html,
                "state": "queued", "attempts": 0, "next_try_at": now, "created_at": now,
                "sent_at": 0, "last_error": "",
            }
        )
        self._wake.set()
        return mail_id

    async def _claim(self, query: dict) -> dict | None:
        now_dt = self.clock.now()
        now = to_ms(now_dt)
        return await self._mails.find_one_and_update(
            {**query, "state": "queued", "next_try_at": {"$lte": now}},
            {"$set": {"next_try_at": to_ms(now_dt + LEASE)}, "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )

    async def _deliver(self, doc: dict, mailer: Mailer) -> bool:
        try:
            await mailer.send(doc["to"], doc["subject"], doc["text"], doc["html"])
        except Exception as exc:  # MailNotSent, or a mailer outside the protocol
            attempts = int(doc["attempts"])
            reason = type(exc.__cause__ or exc).__name__ if isinstance(exc, MailNotSent) else type(exc).__name__
            now_dt = self.clock.now()
            final = attempts >= MAX_ATTEMPTS
            await self._mails.update_one(
                {"_id": doc["_id"]},
                {"$set": {"state": "failed" if final else "queued", "last_error": reason,
                          "next_try_at": to_ms(now_dt + backoff(attempts)), "failed_at": to_ms(now_dt)}},
            )
            log.warning("mail %s not sent (attempt %d, %s)%s", doc["_id"], attempts, reason,
                        ": given up" if final else "; queued again")
            return False
        await self._mails.update_one(
            {"_id": doc["_id"]}, {"$set": {"state": "sent", "sent_at": to_ms(self.clock.now())}}
        )
        log.info("mail %s sent", doc["_id"])
        return True

    async def deliver(self, mail_id: str, mailer: Mailer) -> bool:
        """Try one queued message now (if due); True if it was sent."""
        doc = await self._claim({"_id": mail_id})
        return doc is not None and await self._deliver(doc, mailer)

    async def deliver_due(self, mailer: Mailer) -> int:
        """Send every message that is due, oldest first; returns how many were sent."""
        sent = 0
        while (doc := await self._claim({})) is not None:
            sent += await self._deliver(doc, mailer)
        return sent

    async def prune(self) -> int:
        """Delete sent and failed messages older than KEEP."""
        before = to_ms(self.clock.now() - KEEP)
        result = await self._mails.delete_many(
            {"state": {"$in": ["sent", "failed"]}, "created_at": {"$lt": before}}
        )
        return result.deleted_count

    async def counts(self) -> dict[str, int]:
        return {state: await self._mails.count_documents({"state": state}) for state in ("queued", "sent", "failed")}

    async def run(self, mailer: Mailer, poll_seconds: float = POLL_SECONDS) -> None:
        """The sender: deliver what is due, then wait for new mail or the next poll; forever (cancel it)."""
        await self._safely(self.prune)
        while True:
            self._wake.clear()
            await self._safely(lambda: self.deliver_due(mailer))
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that comes
            # as the event is set (new mail at shutdown), and this loop then never ended
            try:
                async with asyncio.timeout(poll_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _safely(self, step) -> None:
        try:
            await step()
        except StorageUnavailable:
            log.warning("mail outbox: database unavailable; trying again later")
        except Exception:
            log.exception("mail outbox: unexpected error; trying again later")
        raise_if_cancelled()  # a cancellation that came back as the driver's or the SMTP client's error
