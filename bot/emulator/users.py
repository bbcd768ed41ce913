"""Simulated Telegram users: what tests (and the sandbox page) use to talk to the bot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .errors import WaitTimeout
from .models import BotMessage, CallbackQueryRecord, ChatAction

if TYPE_CHECKING:
    from .core import BotRecord, Chat, EmulatorCore, UserRecord

DEFAULT_TIMEOUT = 10.0


def _summary(messages: list[BotMessage], limit: int = 8) -> str:
    lines = []
    for m in messages[-limit:]:
        who = "bot" if m.from_bot else "user"
        flags = (" [deleted]" if m.deleted else "") + (f" [edited x{len(m.edits)}]" if m.edits else "")
        body = m.content if m.kind == "text" or m.content else f"<{m.kind}>"
        buttons = f" buttons={m.button_texts}" if m.button_texts else ""
        lines.append(f"  #{m.message_id} {who}: {body[:200]!r}{buttons}{flags}")
    return "\n".join(lines) or "  (no messages)"


class SimUser:
    """A Telegram user in a private chat with the bot (chat id == user id).

    Reading is cursor-based: ``wait_for*`` return bot messages this user has not consumed yet,
    in order, and advance the cursor past the one returned.
    """

    def __init__(self, core: "EmulatorCore", bot: "BotRecord", record: "UserRecord") -> None:
        self._core = core
        self._bot = bot
        self.record = record
        self._cursor = 0  # highest bot message_id consumed by wait_for*
        self._edits_seen: dict[int, int] = {}

    # ------------------------------------------------------------ identity / state
    @property
    def id(self) -> int:
        return self.record.id

    @property
    def chat_id(self) -> int:
        return self.record.id

    @property
    def first_name(self) -> str:
        return self.record.first_name

    @property
    def username(self) -> str | None:
        return self.record.username

    @property
    def chat(self) -> "Chat":
        return self._core.chat_for(self._bot, self.record)

    def history(self) -> list[BotMessage]:
        """All messages of the chat, both directions, deleted ones included (``deleted`` flag)."""
        return [self.chat.messages[k] for k in sorted(self.chat.messages)]

    def bot_messages(self, include_deleted: bool = True) -> list[BotMessage]:
        return [m for m in self.history() if m.from_bot and (include_deleted or not m.deleted)]

    def unread(self) -> list[BotMessage]:
        """Bot messages not yet consumed by ``wait_for*``."""
        return [m for m in self.bot_messages() if m.message_id > self._cursor]

    def last_bot_message(self) -> BotMessage | None:
        """The newest bot message that is not deleted."""
        messages = self.bot_messages(include_deleted=False)
        return messages[-1] if messages else None

    def message(self, message_id: int) -> BotMessage:
        return self.chat.messages[message_id]

    @property
    def chat_actions(self) -> list[ChatAction]:
        return list(self.chat.actions)

    @property
    def callback_queries(self) -> list[CallbackQueryRecord]:
        return [q for q in self._bot.callback_queries.values() if q.user_id == self.id]

    @property
    def reply_keyboard(self) -> dict | None:
        """The custom reply keyboard the bot currently shows this user (ReplyKeyboardMarkup), if any."""
        return self.chat.reply_keyboard

    def block(self) -> None:
        """The user blocks the bot: sending to them fails with 403 until they write again."""
        self.chat.blocked = True

    def mark_all_read(self) -> None:
        self._cursor = max([m.message_id for m in self.bot_messages()] or [self._cursor])

    # ------------------------------------------------------------ sending
    async def send_text(self, text: str, *, reply_to: int | None = None) -> BotMessage:
        """A text message; a leading ``/command`` gets a ``bot_command`` entity like in Telegram."""
        return self._core.user_send_text(self._bot, self.record, text, reply_to=reply_to)

    async def open_deep_link(self, payload: str) -> BotMessage:
        """What ``https://t.me/<bot>?start=<payload>`` does: the client sends ``/start <payload>``."""
        return await self.send_text(f"/start {payload}")

    async def send_photo(self, data: bytes, *, caption: str | None = None) -> BotMessage:
        """A photo: Telegram keeps a PhotoSize ladder (≤90, 320, 800, 1280 px JPEGs); the original
        bytes stay available as ``message.original_bytes``."""
        return await self._core.user_send_photo(self._bot, self.record, data, caption=caption)

    async def send_document(self, data: bytes, file_name: str, mime_type: str | None = None,
                            *, caption: str | None = None) -> BotMessage:
        """A file sent as a document: bytes, file_name and mime_type are kept unchanged."""
        return self._core.user_send_document(self._bot, self.record, data, file_name, mime_type, caption=caption)

    async def send_sticker(self, emoji: str = "👍") -> BotMessage:
        return self._core.user_send_sticker(self._bot, self.record, emoji)

    async def press(self, button: Any, message_id: int | None = None, *, data: str | None = None) -> CallbackQueryRecord:
        """Press an inline button by its text (or an object with ``.text``, e.g. PTB's
        InlineKeyboardButton), on ``message_id`` or else on the newest bot message having it.
        ``data=`` selects the button by callback_data instead. Returns the callback query record;
        ``await user.wait_for_answer(query)`` waits for the bot's answerCallbackQuery."""
        if button is None or isinstance(button, str):
            text = button
        elif isinstance(button, tuple):  # an entry of BotMessage.buttons: (text, callback_data)
            text = button[0]
        else:
            text = getattr(button, "text", str(button))

        def matches(m: BotMessage) -> dict | None:
            for row in (m.reply_markup or {}).get("inline_keyboard") or []:
                for b in row:
                    if (text is None or b.get("text") == text) and (data is None or b.get("callback_data") == data):
                        return b
            return None

        if message_id is not None:
            candidates = [self.message(message_id)] if message_id in self.chat.messages else []
        else:
            candidates = list(reversed(self.bot_messages(include_deleted=False)))
        for m in candidates:
            if m.deleted or not m.from_bot:
                continue
            b = matches(m)
            if b is not None:
                if "callback_data" not in b:
                    raise ValueError(f"button {b.get('text')!r} is not a callback button: {b}")
                return self._core.user_press(self._bot, self.record, m.message_id, b["callback_data"])
        where = f"message #{message_id}" if message_id is not None else "any bot message"
        raise LookupError(
            f"no inline button {text!r}{f' with data {data!r}' if data else ''} on {where}; chat:\n"
            + _summary(self.history())
        )

    # ------------------------------------------------------------ waiting
    async def wait_for(self, predicate: Callable[[BotMessage], bool] | None = None,
                       timeout: float = DEFAULT_TIMEOUT) -> BotMessage:
        """The next unconsumed bot message (matching ``predicate``, if given); messages before it
        are consumed too. Raises :class:`WaitTimeout` (a TimeoutError) with the chat's tail."""

        def check():
            for m in self.unread():
                if predicate is None or predicate(m):
                    return m
            return None

        def describe():
            return (f"user {self.id}: no new bot message{' matching the predicate' if predicate else ''} "
                    f"within {timeout}s; chat:\n" + _summary(self.history()))

        msg = await self._core.wait_until(check, timeout, describe)
        self._cursor = msg.message_id
        return msg

    async def wait_for_text(self, substring: str, timeout: float = DEFAULT_TIMEOUT) -> BotMessage:
        """The next unconsumed bot message whose text or caption contains ``substring``."""

        def check():
            for m in self.unread():
                if substring in m.content:
                    return m
            return None

        def describe():
            return f"user {self.id}: no bot message containing {substring!r} within {timeout}s; chat:\n" + _summary(
                self.history())

        msg = await self._core.wait_until(check, timeout, describe)
        self._cursor = msg.message_id
        return msg

    async def wait_for_edit(self, message_id: int, predicate: Callable[[BotMessage], bool] | None = None,
                            timeout: float = DEFAULT_TIMEOUT) -> BotMessage:
        """Waits until message ``message_id`` has been edited (again, since the last
        ``wait_for_edit`` on it) and its current state matches ``predicate``."""
        seen = self._edits_seen.get(message_id, 0)

        def check():
            m = self.chat.messages.get(message_id)
            if m is not None and len(m.edits) > seen and (predicate is None or predicate(m)):
                return m
            return None

        def describe():
            return f"user {self.id}: message #{message_id} not edited as expected within {timeout}s; chat:\n" + _summary(
                self.history())

        msg = await self._core.wait_until(check, timeout, describe)
        self._edits_seen[message_id] = len(msg.edits)
        return msg

    async def wait_for_deletion(self, message_id: int, timeout: float = DEFAULT_TIMEOUT) -> BotMessage:
        def check():
            m = self.chat.messages.get(message_id)
            return m if m is not None and m.deleted else None

        return await self._core.wait_until(
            check, timeout, lambda: f"message #{message_id} not deleted within {timeout}s; chat:\n" + _summary(
                self.history()))

    async def wait_for_answer(self, query: CallbackQueryRecord, timeout: float = DEFAULT_TIMEOUT) -> CallbackQueryRecord:
        """Waits until the bot answered the callback query (answerCallbackQuery)."""
        return await self._core.wait_until(
            lambda: query if query.answered else None, timeout,
            lambda: f"callback query {query.data!r} not answered within {timeout}s")

    async def wait_for_action(self, action: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                              since: float | None = None) -> ChatAction:
        """A chat action (e.g. ``typing``) recorded at or after ``since`` (default: any)."""

        def check():
            for a in self.chat.actions:
                if (action is None or a.action == action) and (since is None or a.time >= since):
                    return a
            return None

        return await self._core.wait_until(check, timeout, lambda: f"no chat action {action!r} within {timeout}s")

    async def expect_silence(self, seconds: float = 0.3) -> None:
        """Asserts that no unconsumed bot message exists or arrives within ``seconds``."""
        try:
            await self._core.wait_until(self.unread, seconds)
        except WaitTimeout:
            return
        raise AssertionError(f"user {self.id}: unexpected bot message:\n" + _summary(self.history()))

    def snapshot(self) -> dict:
        """A JSON-able view of this user's chat (for the sandbox page's initial render)."""
        return {
            "user": self.record.to_api(),
            "bot": self._bot.to_user_api(),
            "messages": [m.to_json() for m in self.history()],
            "reply_keyboard": self.chat.reply_keyboard,
            "chat_actions": [{"action": a.action, "time": a.time} for a in self.chat.actions[-20:]],
        }

    def __repr__(self) -> str:
        return f"SimUser(id={self.id}, first_name={self.first_name!r}, bot={self._bot.username!r})"
