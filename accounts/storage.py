"""MongoDB access (PyMongo's native asyncio client) kept deliberately small.

Only operations that behave the same on a real MongoDB and on `nx-27017` are used:
insert_one, find_one, find (+sort), find_one_and_update (no upsert), update_one/update_many with
$set/$inc (no upsert-with-$setOnInsert), delete_many, count_documents, create_index.

Portability rules found by testing nx-27017 0.8.1:
- Instants are stored as integer epoch **milliseconds**, never as BSON dates: nx-27017 keeps a datetime
  written by insert, but one written by `$set` comes back as a *string* (and `$lt` against it fails).
- Booleans written by `$set` come back as 0/1 there; read them through `bool()`.
- Queries on null are unreliable there: `count_documents({"f": None})` counts only documents *missing* `f`
  (not explicit nulls) while `find({"f": None})` returns both, and `{"f": {"$ne": None}}` returns documents
  that lack `f`. So no query here filters on null/None: every record carries an explicit string `state`
  ("open"/"ended", "active"/"used"/"revoked"/"voided") and the *_at fields are informational only.
- Index names passed to create_index are ignored (nx names them `idx_<collection>_<field>`).
- A unique index violation raises `pymongo.errors.DuplicateKeyError` (code 11000) on both, for inserts
  and for updates.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

__all__ = [
    "DEFAULT_DATABASE",
    "Database",
    "connect",
    "get_database",
    "ensure_indexes",
    "to_ms",
    "from_ms",
    "USERS",
    "ACTIVATION_TOKENS",
    "RESET_CODES",
    "SESSIONS",
    "LOGIN_FAILURES",
    "LOGIN_LOCKS",
]

DEFAULT_DATABASE = "ecg_analyzer"

Database = AsyncDatabase  # type alias for annotations

USERS = "users"
ACTIVATION_TOKENS = "activation_tokens"
RESET_CODES = "reset_codes"
SESSIONS = "sessions"
LOGIN_FAILURES = "login_failures"
LOGIN_LOCKS = "login_locks"


def connect(uri: str, *, server_selection_timeout_ms: int = 3000, **kwargs: Any) -> AsyncMongoClient:
    """An AsyncMongoClient with short timeouts so a database outage surfaces quickly.

    Connecting is lazy: nothing is contacted until the first operation.
    """
    options: dict[str, Any] = {
        "serverSelectionTimeoutMS": server_selection_timeout_ms,
        "connectTimeoutMS": server_selection_timeout_ms,
        "tz_aware": True,
        "appname": "ecg-analyzer-bot",
    }
    options.update(kwargs)
    return AsyncMongoClient(uri, **options)


def get_database(client: AsyncMongoClient, name: str = DEFAULT_DATABASE) -> AsyncDatabase:
    return client[name]


async def ensure_indexes(db: AsyncDatabase) -> None:
    """Idempotent; call once at start-up."""
    from .errors import StorageUnavailable
    from pymongo.errors import ConnectionFailure

    try:
        await db[USERS].create_index([("email_normalised", ASCENDING)], unique=True, name="uniq_email_normalised")
        await db[USERS].create_index([("telegram_id", ASCENDING)], name="telegram_id")
        await db[ACTIVATION_TOKENS].create_index([("user_id", ASCENDING), ("state", ASCENDING)], name="user_state")
        await db[RESET_CODES].create_index([("user_id", ASCENDING), ("created_at", DESCENDING)], name="user_created")
        await db[SESSIONS].create_index([("telegram_id", ASCENDING), ("state", ASCENDING)], name="telegram_state")
        await db[SESSIONS].create_index([("user_id", ASCENDING), ("state", ASCENDING)], name="user_state")
        await db[SESSIONS].create_index([("state", ASCENDING), ("expires_at", ASCENDING)], name="state_expiry")
        await db[LOGIN_FAILURES].create_index([("user_id", ASCENDING), ("at", ASCENDING)], name="user_at")
    except ConnectionFailure as exc:
        raise StorageUnavailable(str(exc)) from exc


def to_ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return int(round(dt.timestamp() * 1000))


def from_ms(ms: int | None) -> datetime | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc)
