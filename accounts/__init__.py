"""Accounts domain: users, passwords, tokens, sessions, mail. Never imports telegram."""

from .clock import Clock, ManualClock, SystemClock
from .errors import (
    AccountError,
    AccountLocked,
    EmailTaken,
    MailNotSent,
    NotActivated,
    ResetCodeExpired,
    ResetCodeInvalid,
    StorageUnavailable,
    TokenInvalid,
    UnknownEmail,
    WrongPassword,
)
from .models import Role, Session, User
from .service import AccountService
from .validation import ValidationError

__all__ = [
    "AccountError",
    "AccountLocked",
    "AccountService",
    "Clock",
    "EmailTaken",
    "MailNotSent",
    "ManualClock",
    "NotActivated",
    "ResetCodeExpired",
    "ResetCodeInvalid",
    "Role",
    "Session",
    "StorageUnavailable",
    "SystemClock",
    "TokenInvalid",
    "UnknownEmail",
    "User",
    "ValidationError",
    "WrongPassword",
]
