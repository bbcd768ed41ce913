"""Each user's past analyses: results and the image's hash, never the image itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.mongo import Database, from_ms, to_ms, translate_errors

COLLECTION = "analyses"
RECENT = 10  # analyses /history shows


@dataclass(frozen=True)
class AnalysisRecord:
    created_at: datetime
    is_ecg: bool
    label: str | None
    display_name: str | None
    confidence: float | None
    uncertain: bool
    image_sha256: str


@translate_errors
class AnalysisHistory:
    def __init__(self, db: Database) -> None:
        self._collection = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self._collection.create_index([("user_id", 1), ("created_at", -1)])

    async def add(self, user_id: str, record: AnalysisRecord) -> None:
        await self._collection.insert_one(
            {
                "user_id": user_id,
                "created_at": to_ms(record.created_at),
                "is_ecg": record.is_ecg,
                "label": record.label or "",
                "display_name": record.display_name or "",
                "confidence": float(record.confidence) if record.confidence is not None else -1.0,
                "uncertain": record.uncertain,
                "image_sha256": record.image_sha256,
            }
        )

    async def recent(self, user_id: str, limit: int = RECENT) -> list[AnalysisRecord]:
        cursor = self._collection.find({"user_id": user_id}).sort("created_at", -1).limit(limit)
        return [
            AnalysisRecord(
                created_at=from_ms(doc["created_at"]),
                is_ecg=bool(doc["is_ecg"]),
                label=doc["label"] or None,
                display_name=doc["display_name"] or None,
                confidence=doc["confidence"] if doc["confidence"] >= 0 else None,
                uncertain=bool(doc["uncertain"]),
                image_sha256=doc["image_sha256"],
            )
            async for doc in cursor
        ]

    async def clear(self, user_id: str) -> int:
        result = await self._collection.delete_many({"user_id": user_id})
        return result.deleted_count
