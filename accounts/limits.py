"""The account rules' numbers, in one place: the use-cases enforce them, mails and chat texts quote them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from storage.limits import Rate

ACTIVATION_TTL = timedelta(hours=24)
SESSION_TTL = timedelta(hours=24)
RESET_CODE_TTL = timedelta(minutes=15)
RESET_CODE_DIGITS = 6
RESET_CODE_MAX_ATTEMPTS = 5
LOGIN_MAX_FAILURES = 5
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)
# How long a conversation (register, login, reset, password change…) waits for the next answer; then it
# ends, its draft (email, password hash, reset request) is dropped and the user is told.
CONVERSATION_TIMEOUT = timedelta(minutes=10)
# Activation links and reset codes mailed to one account per rolling hour, each kind counted apart:
# enough for a user who mistyped or lost a mail, not enough to turn the bot into a mail cannon
# against someone else's address.
MAILS_PER_HOUR = 5
MAIL_WINDOW = timedelta(hours=1)


def hours(delta: timedelta) -> int:
    return int(delta.total_seconds() // 3600)


def minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


# --- per-Telegram-user and global limits (token buckets, storage.limits) ---------------------------
# Failed guesses are counted before the guess is checked (a token is taken, and given back when the guess
# was right), so parallel chats never get more guesses than the buckets hold.
@dataclass(frozen=True)
class RateRules:
    registrations_per_user: Rate = Rate.per(3, timedelta(days=1))  # accounts created by one Telegram user
    login_failures_per_user: Rate = Rate.per(10, timedelta(hours=1))  # wrong passwords / unknown addresses
    login_failures_global: Rate = Rate.per(300, timedelta(minutes=15))  # every user together
    code_failures_per_user: Rate = Rate.per(10, timedelta(hours=1))  # wrong reset codes
    code_failures_global: Rate = Rate.per(300, timedelta(minutes=15))
    mail_requests_per_user: Rate = Rate.per(10, timedelta(hours=1))  # /forgot and /resend, any address


# Reset codes to one account per rolling hour asked by Telegram users other than the one who registered it
# (each of them is also held to MAILS_PER_HOUR): strangers together cannot mail-bomb an address, and the
# owner's own requests are never counted against them, so no stranger can lock the owner out of a reset.
STRANGER_RESET_MAILS_PER_HOUR = 10
JWT_SECRET_MIN_LENGTH = 32  # characters; HS256 wants at least 256 bits of key
