"""A Telegram Bot API emulator: a real HTTP server on loopback that the unmodified bot talks to
through ``TELEGRAM_API_URL``, and simulated users that tests (and ``ecg-bot sandbox``) drive.

Layers: :mod:`.core` (state and Bot API semantics, no HTTP), :mod:`.server` (aiohttp), :mod:`.users`
(the user side with waiting helpers), :mod:`.models` (records exposed to tests and the sandbox).
"""

from .core import BotRecord, Chat, EmulatorCore, UploadedFile, UserRecord
from .errors import ApiError, WaitTimeout
from .models import BotMessage, CallbackQueryRecord, ChatAction, Event, FileRecord, MessageVersion
from .server import BotAPIEmulator, create_app
from .users import SimUser

__all__ = [
    "ApiError",
    "BotAPIEmulator",
    "BotMessage",
    "BotRecord",
    "CallbackQueryRecord",
    "Chat",
    "ChatAction",
    "EmulatorCore",
    "Event",
    "FileRecord",
    "MessageVersion",
    "SimUser",
    "UploadedFile",
    "UserRecord",
    "WaitTimeout",
    "create_app",
]
