"""Validation of what users type. Errors carry a `code`; the chat texts live in handlers/texts.py.

Codes: username_required, username_too_short, username_too_long, email_required, email_invalid,
password_required, password_weak, confirm_required, confirm_mismatch.
"""

from __future__ import annotations

import re

__all__ = [
    "ValidationError",
    "CODES",
    "USERNAME_MIN",
    "USERNAME_MAX",
    "EMAIL_MIN",
    "PASSWORD_MIN",
    "validate_username",
    "validate_email",
    "normalise_email",
    "validate_password",
    "validate_confirm_present",
    "validate_confirm_matches",
]

CODES = frozenset(
    {
        "username_required",
        "username_too_short",
        "username_too_long",
        "email_required",
        "email_invalid",
        "password_required",
        "password_weak",
        "confirm_required",
        "confirm_mismatch",
    }
)

USERNAME_MIN = 3
USERNAME_MAX = 20
EMAIL_MIN = 8
EMAIL_MAX = 254
PASSWORD_MIN = 8


class ValidationError(Exception):
    def __init__(self, code: str) -> None:
        if code not in CODES:
            raise ValueError(f"unknown validation code {code!r}")
        super().__init__(code)
        self.code = code


def validate_username(s: str | None) -> str:
    """Trimmed username of 3..20 characters."""
    value = (s or "").strip()
    if not value:
        raise ValidationError("username_required")
    if len(value) < USERNAME_MIN:
        raise ValidationError("username_too_short")
    if len(value) > USERNAME_MAX:
        raise ValidationError("username_too_long")
    return value


# Pragmatic address check: dot-atom local part, a domain of at least two labels, alphabetic TLD.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_RE = re.compile(rf"^{_LOCAL}@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$")


def normalise_email(s: str) -> str:
    """The form stored and looked up: trimmed and lower-cased."""
    return s.strip().lower()


def validate_email(s: str | None) -> str:
    """A valid address of at least 8 characters, returned normalised (trimmed, lower-cased)."""
    value = normalise_email(s or "")
    if not value:
        raise ValidationError("email_required")
    if len(value) < EMAIL_MIN or len(value) > EMAIL_MAX or len(value.split("@", 1)[0]) > 64:
        raise ValidationError("email_invalid")
    if not _EMAIL_RE.match(value):
        raise ValidationError("email_invalid")
    return value


def _is_special(c: str) -> bool:
    return not c.isalnum() and not c.isspace()


def validate_password(s: str | None) -> str:
    """At least 8 characters with an uppercase and a lowercase letter, a digit and a special character.

    Returned unchanged (passwords are never trimmed).
    """
    if s is None or s == "":
        raise ValidationError("password_required")
    if (
        len(s) < PASSWORD_MIN
        or not any(c.isupper() for c in s)
        or not any(c.islower() for c in s)
        or not any(c.isdigit() for c in s)
        or not any(_is_special(c) for c in s)
    ):
        raise ValidationError("password_weak")
    return s


def validate_confirm_present(s: str | None) -> str:
    if s is None or s == "":
        raise ValidationError("confirm_required")
    return s


def validate_confirm_matches(confirm: str | None, password_hash: str) -> str:
    """Confirmation checked against the already-hashed password (plain passwords are never kept).

    Raises confirm_required or confirm_mismatch.
    """
    from .passwords import verify_password

    value = validate_confirm_present(confirm)
    if not verify_password(password_hash, value):
        raise ValidationError("confirm_mismatch")
    return value
