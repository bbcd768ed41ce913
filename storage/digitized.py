"""The digitized signals of recent analyses, kept for `TTL` so the chat can export them on demand.

One document per analysis: a random id, the owner's account id, the time, the signals as
`inference.export.to_npz_bytes` (float16, about 20-40 kB) and the measurements as JSON text. Only the
owner can fetch an entry; entries older than `TTL` are dropped whenever a new one is written, and are
never returned.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.mongo import Database, to_ms, translate_errors

COLLECTION = "digitized"
TTL = timedelta(hours=24)


@dataclass(frozen=True)
class StoredDigitized:
    analysis_id: str
    created_at_ms: int
    npz: bytes  # inference.export.to_npz_bytes
    measurements: dict | None  # Measurements.to_dict(), or None


@translate_errors
class DigitizedStore:
    def __init__(self, db: Database) -> None:
        self._collection = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("analysis_id", 1), ("user_id", 1)])
        await self._collection.create_index([("created_at", 1)])

    async def add(self, user_id: str, npz: bytes, measurements: dict | None, now: datetime) -> str:
        """Keep one analysis' signals; returns its new random id (URL-safe, fits callback data)."""
        await self._collection.delete_many({"created_at": {"$lt": to_ms(now - TTL)}})
        analysis_id = secrets.token_urlsafe(9)
        await self._collection.insert_one(
            {
                "analysis_id": analysis_id,
                "user_id": user_id,
                "created_at": to_ms(now),
                "npz": bytes(npz),
                "measurements": json.dumps(measurements) if measurements is not None else "",
            }
        )
        return analysis_id

    async def get(self, analysis_id: str, user_id: str, now: datetime) -> StoredDigitized | None:
        """The owner's entry, or None when unknown, someone else's or older than TTL."""
        doc = await self._collection.find_one(
            {"analysis_id": analysis_id, "user_id": user_id, "created_at": {"$gte": to_ms(now - TTL)}}
        )
        if doc is None:
            return None
        return StoredDigitized(
            analysis_id=doc["analysis_id"],
            created_at_ms=int(doc["created_at"]),
            npz=bytes(doc["npz"]),
            measurements=json.loads(doc["measurements"]) if doc.get("measurements") else None,
        )

    async def clear(self, user_id: str) -> int:
        result = await self._collection.delete_many({"user_id": user_id})
        return result.deleted_count
