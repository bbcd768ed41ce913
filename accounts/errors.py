"""Typed domain errors. Handlers map them to chat texts (handlers/texts.py); no texts here. An unreachable
database is `storage.mongo.StorageUnavailable`, the same for every repository."""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "AccountError",
    "EmailTaken",
    "TokenInvalid",
    "UnknownEmail",
    "WrongPassword",
    "NotActivated",
    "AccountLocked",
    "ResetCodeInvalid",
    "ResetCodeExpired",
    "MailNotSent",
    "MailThrottled",
    "RateLimited",
]


class AccountError(Exception):
    code = "account_error"


class EmailTaken(AccountError):
    code = "email_taken"


class TokenInvalid(AccountError):
    """Activation link unusable. reason: "unknown" | "expired" (also: superseded by /resend) | "used"."""

    code = "token_invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownEmail(AccountError):
    """Login with an email that has no account ("data invalid")."""

    code = "unknown_email"


class WrongPassword(AccountError):
    """"invalid password"; attempts_left before the account locks (>= 1)."""

    code = "wrong_password"

    def __init__(self, attempts_left: int) -> None:
        super().__init__(attempts_left)
        self.attempts_left = attempts_left


class NotActivated(AccountError):
    """"plz confirm your email"."""

    code = "not_activated"


class AccountLocked(AccountError):
    code = "account_locked"

    def __init__(self, until: datetime) -> None:
        super().__init__(until)
        self.until = until


class ResetCodeInvalid(AccountError):
    """Wrong code. attempts_left == 0 means this was the fifth wrong code and the code is now void."""

    code = "reset_code_invalid"

    def __init__(self, attempts_left: int) -> None:
        super().__init__(attempts_left)
        self.attempts_left = attempts_left


class ResetCodeExpired(AccountError):
    """No usable code. reason: "expired" | "used" | "voided" | "none"."""

    code = "reset_code_expired"

    def __init__(self, reason: str = "none") -> None:
        super().__init__(reason)
        self.reason = reason


class MailNotSent(AccountError):
    """Mail could not be delivered after retries; whatever was created stays created."""

    code = "mail_not_sent"


class MailThrottled(AccountError):
    """Too many mails of one kind to one account within the hour; nothing was changed or sent.
    retry_at: when the next one may go."""

    code = "mail_throttled"

    def __init__(self, retry_at: datetime) -> None:
        super().__init__(retry_at)
        self.retry_at = retry_at


class RateLimited(AccountError):
    """Too many attempts of one kind from one Telegram user (or from everyone at once); nothing was done.
    retry_at: when the next one may go. Answering it reveals nothing about any address: the limits
    count the requester's attempts, whatever the address."""

    code = "rate_limited"

    def __init__(self, retry_at: datetime) -> None:
        super().__init__(retry_at)
        self.retry_at = retry_at
