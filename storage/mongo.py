"""What every repository shares: the client, time and hash helpers, and one translation of database
errors into the domain's `StorageUnavailable`.

Only operations that behave the same on a real MongoDB and on `nx-27017` are used:
insert_one, find_one, find (+sort), find_one_and_update (no upsert), update_one/update_many with
$set/$inc (no upsert-with-$setOnInsert), delete_one/delete_many, count_documents, create_index.

Portability rules found by testing nx-27017 0.8.1:
- Instants are stored as integer epoch **milliseconds** (`to_ms` / `from_ms`), never as BSON dates:
  nx-27017 keeps a datetime written by insert, but one written by `$set` comes back as a *string* (and
  `$lt` against it fails).
- Booleans written by `$set` come back as 0/1 there; read them through `bool()`.
- Queries on null are unreliable there: `count_documents({"f": None})` counts only documents *missing* `f`
  (not explicit nulls) while `find({"f": None})` returns both, and `{"f": {"$ne": None}}` returns documents
  that lack `f`. So no query filters on null/None: records carry an explicit string `state`
  ("open"/"ended", "active"/"used"/"revoked"/"voided") and the *_at fields are informational only.
- Strings that look like ISO dates are compared as dates in queries there: `{"f": {"$ne": "2020-01-01"}}`
  does not match a document with `f: ""`. Keys compared in filters are integers or plain words.
- Index names passed to create_index are ignored (nx names them `idx_<collection>_<field>`).
- A unique index violation raises `pymongo.errors.DuplicateKeyError` (code 11000) on both, for inserts
  and for updates; no upserts: a record is read first, then inserted or updated.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import logging
from datetime import datetime, timezone
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure

log = logging.getLogger(__name__)

Database = AsyncDatabase  # for annotations

C = TypeVar("C", bound=type)


class StorageUnavailable(Exception):
    """The database cannot be reached (the chat says so and the user retries the same step)."""

    code = "storage_unavailable"


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


def to_ms(dt: datetime) -> int:
    """A timezone-aware instant as integer epoch milliseconds (see the portability rules above)."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return int(round(dt.timestamp() * 1000))


def from_ms(ms: int | None) -> datetime | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc)


def sha256_hex(data: bytes) -> str:
    """The hash kept instead of an image (history, practice cases)."""
    return hashlib.sha256(data).hexdigest()


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that a call swallowed: one that reached the driver (or an SMTP client) mid-call
    can come back as its error, which a background loop catches and logs; the task is still being cancelled
    (`Task.cancelling()`), and without this the loop went on and whoever awaited it (the bot's stop) hung."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def translate_errors(cls: C) -> C:
    """Class decorator for a repository or use-case class: each public coroutine method (inherited ones
    too) turns 'database unreachable' (ServerSelectionTimeoutError, AutoReconnect, ...) into
    `StorageUnavailable`, so nothing above the storage layer needs to know pymongo's errors."""
    for name, member in inspect.getmembers(cls, inspect.iscoroutinefunction):
        if not name.startswith("_"):
            setattr(cls, name, translated(member))
    return cls


def translated(method):
    """`translate_errors` for one coroutine function."""

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except ConnectionFailure as exc:
            log.error("database unavailable in %s: %s", method.__qualname__, type(exc).__name__)
            raise StorageUnavailable(type(exc).__name__) from exc

    return wrapper
