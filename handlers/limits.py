"""The chat layer's own limits (the chat texts quote them, formatted from here)."""

from __future__ import annotations

from datetime import timedelta

PREVIEW_TTL = timedelta(minutes=10)  # how long an ECG preview waits for Confirm / Cancel
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # the Bot API's getFile limit
SMALL_PHOTO_PX = 1000  # longest side below which a photo is probably too small to read
MESSAGES_PER_MINUTE = 30  # a Telegram user's messages the bot reads, steady rate (storage.limits token bucket)
MESSAGE_BURST = 20  # ... and at once
PROGRESS_EDIT_INTERVAL = timedelta(seconds=3)  # at most one edit of a progress message this often
PROGRESS_FIRST_DELAY = timedelta(seconds=1.5)  # after Confirm, the progress shows only if no answer came by then
DELIVERY_MAX_BACKOFF = timedelta(seconds=60)  # longest wait between two tries to deliver a result
STARTUP_NOTICES_PER_SECOND = 10  # start-up notifications (ended sessions, interrupted analyses), paced
