"""The account rules' numbers, in one place: the use-cases enforce them, mails and chat texts quote them."""

from __future__ import annotations

from datetime import timedelta

ACTIVATION_TTL = timedelta(hours=24)
SESSION_TTL = timedelta(hours=24)
RESET_CODE_TTL = timedelta(minutes=15)
RESET_CODE_DIGITS = 6
RESET_CODE_MAX_ATTEMPTS = 5
LOGIN_MAX_FAILURES = 5
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)
# Activation links and reset codes mailed to one account per rolling hour, each kind counted apart:
# enough for a user who mistyped or lost a mail, not enough to turn the bot into a mail cannon
# against someone else's address.
MAILS_PER_HOUR = 5
MAIL_WINDOW = timedelta(hours=1)


def hours(delta: timedelta) -> int:
    return int(delta.total_seconds() // 3600)


def minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)
