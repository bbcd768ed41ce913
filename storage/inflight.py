"""Analyses in flight: recorded when the user confirms, removed once the answer is delivered, so a bot
killed mid-analysis can tell the user at start-up and offer Confirm again (the preview's file ids kept).
Nothing of the image but Telegram's file ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.mongo import Database, from_ms, to_ms, translate_errors

COLLECTION = "analyses_in_flight"


@dataclass(frozen=True)
class InFlight:
    id: str  # the preview's id
    user_id: str  # the account
    telegram_id: int
    chat_id: int
    file_id: str  # what is analysed (the photo, or the original file)
    preview_file_id: str  # the photo the preview showed
    kind: str  # "photo" | "document"
    started_at: datetime


@translate_errors
class InFlightAnalyses:
    def __init__(self, db: Database) -> None:
        self._collection = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("started_at", 1)])

    async def start(self, record: InFlight) -> None:
        await self._collection.insert_one(
            {
                "_id": record.id,
                "user_id": record.user_id,
                "telegram_id": record.telegram_id,
                "chat_id": record.chat_id,
                "file_id": record.file_id,
                "preview_file_id": record.preview_file_id,
                "kind": record.kind,
                "started_at": to_ms(record.started_at),
            }
        )

    async def finish(self, record_id: str) -> None:
        await self._collection.delete_one({"_id": record_id})

    async def all(self) -> list[InFlight]:
        return [
            InFlight(
                id=doc["_id"],
                user_id=doc["user_id"],
                telegram_id=int(doc["telegram_id"]),
                chat_id=int(doc["chat_id"]),
                file_id=doc["file_id"],
                preview_file_id=doc["preview_file_id"],
                kind=doc["kind"],
                started_at=from_ms(doc["started_at"]),
            )
            async for doc in self._collection.find({}).sort("started_at", 1)
        ]
