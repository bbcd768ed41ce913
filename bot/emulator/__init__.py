"""A Telegram Bot API emulator: a real HTTP server on loopback that the unmodified bot talks to
through ``TELEGRAM_API_URL``, and simulated users that tests (and ``ecg-bot sandbox``) drive.

Layers: :mod:`.core` (state and Bot API semantics, no HTTP), :mod:`.server` (aiohttp app and
:class:`BotAPIEmulator`), :mod:`.users` (:class:`SimUser`, the user side with waiting helpers),
:mod:`.models` (records exposed to tests and the sandbox), :mod:`.markup` (parse_mode, keyboards),
:mod:`.media` (Telegram's photo re-encoding).

Usage in a test::

    async with BotAPIEmulator("123456:TEST", "ecg_analyzer_test_bot") as emu:
        # the bot under test: TELEGRAM_API_URL=emu.url, TELEGRAM_BOT_TOKEN=emu.token (emu.env()),
        # or telegram.Bot(emu.token, **emu.ptb_urls())
        alice = emu.user(1001, "Alice", username="alice")
        await alice.send_text("/register")
        await alice.wait_for_text("username")
        await alice.send_text("alice")
        ...
        prompt = await alice.wait_for(lambda m: "Medical student" in m.button_texts)
        query = await alice.press("Medical student")
        await alice.wait_for_answer(query)
        secret = await alice.send_text("S3cret!pass")
        await alice.wait_for_deletion(secret.message_id)
        await alice.open_deep_link(token)          # == "/start <token>"

Reading is cursor-based per user: ``wait_for``/``wait_for_text`` return the next bot message not
consumed yet (skipping and consuming non-matching ones); ``wait_for_edit(message_id)`` waits for a
new edit of a message; ``history()`` has everything, with ``deleted`` and ``edits``.
Subscribe to :class:`Event` objects with ``emu.subscribe()`` (an asyncio.Queue) or
``emu.add_listener(callback)``.
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
