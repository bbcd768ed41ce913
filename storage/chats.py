"""Chats that blocked the bot: marked once when Telegram says so (Forbidden), skipped by start-up and
scheduled notifications instead of being retried at every restart, unmarked when the user writes again.

The marks are mirrored in memory (`load` at start-up), so asking costs no database round trip."""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError

from storage.mongo import Database, to_ms, translate_errors

COLLECTION = "blocked_chats"


@translate_errors
class BlockedChats:
    def __init__(self, db: Database) -> None:
        self._collection = db[COLLECTION]
        self._blocked: set[int] = set()

    async def load(self) -> None:
        self._blocked = {int(doc["_id"]) async for doc in self._collection.find({})}

    def is_blocked(self, chat_id: int) -> bool:
        return chat_id in self._blocked

    async def mark(self, chat_id: int, now: datetime) -> None:
        if chat_id in self._blocked:
            return
        self._blocked.add(chat_id)
        try:
            await self._collection.insert_one({"_id": chat_id, "blocked_at": to_ms(now)})
        except DuplicateKeyError:  # marked by another replica meanwhile
            pass

    async def unmark(self, chat_id: int) -> None:
        """The user wrote again (so they unblocked the bot); a no-op for a chat that was never marked."""
        if chat_id in self._blocked:
            self._blocked.discard(chat_id)
            await self._collection.delete_one({"_id": chat_id})
