"""The account collections and their indexes (the use-cases that read and write them: `accounts/`)."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING

from storage.mongo import Database, translated

USERS = "users"
ACTIVATION_TOKENS = "activation_tokens"
RESET_CODES = "reset_codes"
SESSIONS = "sessions"
LOGIN_FAILURES = "login_failures"
LOGIN_LOCKS = "login_locks"
LOGIN_GUARDS = "login_guards"  # per account: failures in the window and the lock, counted atomically
MAIL_OUTBOX = "mail_outbox"


@translated
async def ensure_indexes(db: Database) -> None:
    """Idempotent; called once at start-up."""
    await db[USERS].create_index([("email_normalised", ASCENDING)], unique=True, name="uniq_email_normalised")
    await db[USERS].create_index([("telegram_id", ASCENDING)], name="telegram_id")
    await db[ACTIVATION_TOKENS].create_index([("user_id", ASCENDING), ("state", ASCENDING)], name="user_state")
    await db[RESET_CODES].create_index([("user_id", ASCENDING), ("created_at", DESCENDING)], name="user_created")
    await db[SESSIONS].create_index([("telegram_id", ASCENDING), ("state", ASCENDING)], name="telegram_state")
    await db[SESSIONS].create_index([("user_id", ASCENDING), ("state", ASCENDING)], name="user_state")
    await db[SESSIONS].create_index([("state", ASCENDING), ("expires_at", ASCENDING)], name="state_expiry")
    await db[LOGIN_FAILURES].create_index([("user_id", ASCENDING), ("at", ASCENDING)], name="user_at")
    await db[RESET_CODES].create_index([("telegram_id", ASCENDING), ("state", ASCENDING)], name="requester_state")
    await db[MAIL_OUTBOX].create_index([("state", ASCENDING), ("next_try_at", ASCENDING)], name="state_next_try")
