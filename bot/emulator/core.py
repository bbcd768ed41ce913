"""The emulator's state and Bot API semantics, independent of HTTP.

``EmulatorCore.call(token, method, params, files)`` executes one Bot API method and returns its
``result`` (or raises :class:`ApiError`); the user side (``user_*`` methods) creates the updates a
Telegram client would. Both the aiohttp layer and the simulated users / sandbox sit on top of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import itertools
import json
import mimetypes
import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from .errors import ApiError, WaitTimeout, bad_request, forbidden
from .markup import MAX_CAPTION, MAX_TEXT, format_text, utf16_len, validate_reply_markup
from .media import ImageError, photo_sizes, sticker_webp
from .models import (
    BotMessage,
    CallbackQueryRecord,
    ChatAction,
    Event,
    FileRecord,
    MessageVersion,
)

MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile limit for bots
MAX_PHOTO_UPLOAD = 10 * 1024 * 1024
MAX_DOCUMENT_UPLOAD = 50 * 1024 * 1024

CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}

@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)


@dataclass(eq=False)
class UserRecord:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    def to_api(self) -> dict:
        d: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        if self.language_code:
            d["language_code"] = self.language_code
        return d


@dataclass(eq=False)
class Chat:
    """A private chat between one bot and one user (chat id == user id, as in Telegram)."""

    user: UserRecord
    messages: dict[int, BotMessage] = field(default_factory=dict)
    next_message_id: int = 1
    actions: list[ChatAction] = field(default_factory=list)
    started: bool = False
    blocked: bool = False
    reply_keyboard: dict | None = None

    @property
    def id(self) -> int:
        return self.user.id

    def to_api(self) -> dict:
        d: dict[str, Any] = {"id": self.user.id, "first_name": self.user.first_name}
        if self.user.last_name:
            d["last_name"] = self.user.last_name
        if self.user.username:
            d["username"] = self.user.username
        d["type"] = "private"
        return d


@dataclass(eq=False)
class BotRecord:
    token: str
    username: str
    first_name: str
    updates: list[dict] = field(default_factory=list)
    next_update_id: int = 1
    allowed_updates: list[str] | None = None
    commands: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    descriptions: dict[tuple[str, str], str] = field(default_factory=dict)
    chats: dict[int, Chat] = field(default_factory=dict)
    callback_queries: dict[str, CallbackQueryRecord] = field(default_factory=dict)
    poll_generation: int = 0

    @property
    def id(self) -> int:
        return int(self.token.split(":", 1)[0])

    def to_user_api(self) -> dict:
        return {"id": self.id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    def get_me(self) -> dict:
        return {
            **self.to_user_api(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }


@dataclass
class RequestRecord:
    bot_username: str
    method: str
    params: dict
    time: float


# ---------------------------------------------------------------- parameter helpers
def _json(p: dict, name: str, error: str | None = None):
    value = p.get(name)
    if isinstance(value, str):
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(error or f"can't parse {name} JSON object") from None
    return value


def _str(p: dict, name: str) -> str | None:
    value = p.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _int(p: dict, name: str, *, required: bool = False, empty_error: str | None = None) -> int | None:
    value = p.get(name)
    if value is None or value == "":
        if required:
            raise bad_request(empty_error or f"{name} is empty")
        return None
    if isinstance(value, bool):
        raise bad_request(f"invalid {name} specified")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"invalid {name} specified") from None


def _bool(p: dict, name: str) -> bool:
    value = p.get(name)
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


class EmulatorCore:
    """All state of one emulator instance. No globals: create as many as you like."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock: Callable[[], float] = clock or time.time
        self.bots: dict[str, BotRecord] = {}
        self.users: dict[int, UserRecord] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.photo_groups: dict[str, list[FileRecord]] = {}
        self.requests: deque[RequestRecord] = deque(maxlen=5000)
        self.webhooks: dict[str, dict] = {}  # bot username -> setWebhook's url and secret_token
        self.closing = False
        self._ids = itertools.count(1)
        self._waiters: set[asyncio.Future] = set()
        self._queues: list[asyncio.Queue] = []
        self._listeners: list[Callable[[Event], Any]] = []
        self._injected: dict[str, list[ApiError]] = {}
        self._methods: dict[str, Callable[[BotRecord, dict, dict], Awaitable[Any] | Any]] = {
            name[len("m_"):].lower(): getattr(self, name) for name in dir(self) if name.startswith("m_")
        }

    # ------------------------------------------------------------ registry
    def add_bot(self, token: str, username: str, first_name: str | None = None) -> BotRecord:
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
            raise ValueError(f"token must look like '123456:ABC-def', got {token!r}")
        bot = BotRecord(token=token, username=username, first_name=first_name or username)
        self.bots[token] = bot
        return bot

    def get_bot(self, token: str) -> BotRecord:
        bot = self.bots.get(token)
        if bot is None:
            raise ApiError(401, "Unauthorized")
        return bot

    def ensure_user(
        self,
        user_id: int,
        first_name: str = "Alice",
        username: str | None = None,
        language_code: str | None = "en",
        last_name: str | None = None,
    ) -> UserRecord:
        user = self.users.get(user_id)
        if user is None:
            if user_id <= 0:
                raise ValueError("user ids are positive integers")
            user = UserRecord(user_id, first_name, last_name, username, language_code)
            self.users[user_id] = user
        return user

    def chat_for(self, bot: BotRecord, user: UserRecord) -> Chat:
        chat = bot.chats.get(user.id)
        if chat is None:
            chat = Chat(user=user)
            bot.chats[user.id] = chat
        return chat

    def now(self) -> int:
        return int(self.clock())

    # ------------------------------------------------------------ events / waiting
    def subscribe(self, maxsize: int = 0) -> asyncio.Queue:
        """A queue receiving every :class:`Event` from now on (call :meth:`unsubscribe` when done)."""
        queue: asyncio.Queue = asyncio.Queue(maxsize)
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        if queue in self._queues:
            self._queues.remove(queue)

    def add_listener(self, callback: Callable[[Event], Any]) -> None:
        """``callback(event)`` is called synchronously; a returned awaitable is scheduled as a task."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[Event], Any]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def emit(self, event: Event) -> None:
        for queue in list(self._queues):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                pass
        for callback in list(self._listeners):
            result = callback(event)
            if inspect.isawaitable(result):
                asyncio.ensure_future(result)
        self.notify()

    def notify(self) -> None:
        for fut in list(self._waiters):
            if not fut.done():
                fut.set_result(None)

    async def wait_until(self, check: Callable[[], Any], timeout: float, describe: Callable[[], str] | None = None):
        """Re-evaluates ``check()`` on every state change until it returns something truthy."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closing:
                raise WaitTimeout(describe() if describe else f"condition not met within {timeout}s")
            fut = loop.create_future()
            self._waiters.add(fut)
            try:  # asyncio.timeout: wait_for (3.11) can swallow a cancellation that meets the result
                async with asyncio.timeout(remaining):
                    await fut
            except TimeoutError:
                pass
            finally:
                self._waiters.discard(fut)

    def close(self) -> None:
        self.closing = True
        self.notify()

    # ------------------------------------------------------------ faults
    def inject_error(
        self, method: str, error_code: int = 500, description: str = "Internal Server Error",
        *, times: int = 1, retry_after: int | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` fail with this error (e.g. 429 with retry_after)."""
        self._injected.setdefault(method.lower(), []).extend(
            ApiError(error_code, description, retry_after=retry_after) for _ in range(times)
        )

    # ------------------------------------------------------------ dispatch
    async def call(self, token: str, method: str, params: dict | None = None, files: dict | None = None):
        bot = self.get_bot(token)
        params = dict(params or {})
        files = dict(files or {})
        handler = self._methods.get(method.lower())
        self.requests.append(RequestRecord(bot.username, method, params, self.clock()))
        if handler is None:
            raise ApiError(404, "Not Found")
        injected = self._injected.get(method.lower())
        if injected:
            raise injected.pop(0)
        result = handler(bot, params, files)
        if inspect.isawaitable(result):
            result = await result
        return result

    # ------------------------------------------------------------ internals
    def _new_id(self, prefix: str) -> str:
        return prefix + secrets.token_urlsafe(24).replace("-", "A").replace("_", "B")

    def _store_file(self, data: bytes, kind: str, ext: str, **kw) -> FileRecord:
        n = next(self._ids)
        prefix = {"photo": "AgACAgI", "document": "BQACAgI", "sticker": "CAACAgI"}.get(kind, "BAACAgI")
        folder = {"photo": "photos", "document": "documents", "sticker": "stickers"}.get(kind, "files")
        unique = "AQAD" + hashlib.sha256(data + str(n).encode()).hexdigest()[:12]
        rec = FileRecord(
            file_id=self._new_id(prefix), file_unique_id=unique, data=data,
            file_path=f"{folder}/file_{n}{ext}", kind=kind, **kw,
        )
        self.files[rec.file_id] = rec
        self.files_by_path[rec.file_path] = rec
        return rec

    async def _photo_files(self, data: bytes) -> list[FileRecord]:
        sizes = await asyncio.to_thread(photo_sizes, data)
        group = [self._store_file(jpeg, "photo", ".jpg", width=w, height=h, mime_type="image/jpeg")
                 for w, h, jpeg in sizes]
        for rec in group:
            self.photo_groups[rec.file_id] = group
        return group

    def _chat(self, bot: BotRecord, p: dict, *, sending: bool = True) -> Chat:
        raw = p.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = bot.chats.get(chat_id)
        if chat is None:
            if chat_id in self.users and sending:
                raise forbidden("bot can't initiate conversation with a user")
            raise bad_request("chat not found")
        if sending and not chat.started:
            raise forbidden("bot can't initiate conversation with a user")
        if sending and chat.blocked:
            raise forbidden("bot was blocked by the user")
        return chat

    def _reply_to(self, chat: Chat, p: dict) -> int | None:
        params = _json(p, "reply_parameters")
        if isinstance(params, dict) and params.get("message_id") is not None:
            target, allow = int(params["message_id"]), bool(params.get("allow_sending_without_reply"))
        else:
            target = _int(p, "reply_to_message_id")
            allow = _bool(p, "allow_sending_without_reply")
        if target is None:
            return None
        msg = chat.messages.get(target)
        if msg is None or msg.deleted:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        return target

    def _markup(self, p: dict) -> dict | None:
        return validate_reply_markup(_json(p, "reply_markup", "can't parse reply keyboard markup JSON object"))

    def _caption(self, p: dict) -> tuple[str | None, str | None, list[dict]]:
        raw = _str(p, "caption")
        if raw is None or raw == "":
            return None, None, []
        plain, entities = format_text(raw, _str(p, "parse_mode"), _json(p, "caption_entities"))
        if utf16_len(plain) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        return raw, (plain or None), entities

    def _add_message(self, bot: BotRecord, chat: Chat, msg: BotMessage, markup: dict | None = None) -> BotMessage:
        chat.messages[msg.message_id] = msg
        if markup is not None:
            if "inline_keyboard" in markup:
                msg.reply_markup = markup
            elif "keyboard" in markup:
                chat.reply_keyboard = markup
            elif "remove_keyboard" in markup:
                chat.reply_keyboard = None
        self.emit(Event("message", bot.username, chat.id, msg, time=self.clock()))
        return msg

    def _bot_message(self, bot: BotRecord, chat: Chat, **fields) -> BotMessage:
        mid = chat.next_message_id
        chat.next_message_id += 1
        return BotMessage(chat_id=chat.id, message_id=mid, from_bot=True, date=self.now(),
                          sender=bot.to_user_api(), **fields)

    def _resolve_input(self, p: dict, files: dict, name: str) -> UploadedFile | FileRecord:
        value = files.get(name)
        if value is not None:
            return value
        ref = p.get(name)
        if isinstance(ref, UploadedFile):
            return ref
        if not ref:
            raise bad_request(f"there is no {name} in the request")
        ref = str(ref)
        if ref.startswith("attach://"):
            up = files.get(ref[len("attach://"):])
            if up is None:
                raise bad_request(f"file not found for {ref}")
            return up
        if ref in self.files:
            return self.files[ref]
        if re.match(r"^https?://", ref):
            raise bad_request("failed to get HTTP URL content")
        raise bad_request("wrong file identifier/HTTP URL specified")

    async def _photo_from_input(self, source: UploadedFile | FileRecord) -> list[FileRecord]:
        if isinstance(source, FileRecord):
            if source.kind != "photo":
                raise bad_request("type of file mismatch")
            return self.photo_groups[source.file_id]
        if not source.data:
            raise bad_request("file must be non-empty")
        if len(source.data) > MAX_PHOTO_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        try:
            return await self._photo_files(source.data)
        except ImageError as exc:
            if "DIMENSIONS" in str(exc):
                raise bad_request("PHOTO_INVALID_DIMENSIONS") from None
            raise bad_request("IMAGE_PROCESS_FAILED") from None

    def _document_from_input(self, source: UploadedFile | FileRecord) -> FileRecord:
        if isinstance(source, FileRecord):
            if source.kind == "photo":
                raise bad_request("type of file mismatch")
            return source
        if not source.data:
            raise bad_request("file must be non-empty")
        if len(source.data) > MAX_DOCUMENT_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        name = source.filename or "file"
        mime = source.content_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        ext = "." + name.rsplit(".", 1)[1] if "." in name else ""
        return self._store_file(source.data, "document", ext, file_name=name, mime_type=mime)

    def _find_message(self, bot: BotRecord, p: dict, not_found: str) -> tuple[Chat, BotMessage]:
        if p.get("inline_message_id"):
            raise bad_request(not_found)  # inline mode is not emulated
        chat = self._chat(bot, p, sending=False)
        mid = _int(p, "message_id", required=True)
        msg = chat.messages.get(mid)
        if msg is None or msg.deleted:
            raise bad_request(not_found)
        return chat, msg

    def _apply_edit(self, bot: BotRecord, chat: Chat, msg: BotMessage, **changes) -> dict:
        file_ids = [f.file_id for f in msg.photo_files] + ([msg.document_file.file_id] if msg.document_file else [])
        msg.edits.append(MessageVersion(msg.text, msg.caption, list(msg.entities), msg.reply_markup,
                                        msg.edit_date, self.clock(), msg.kind, file_ids))
        for key, value in changes.items():
            setattr(msg, key, value)
        msg.edit_date = self.now()
        self.emit(Event("edited", bot.username, chat.id, msg, time=self.clock()))
        return msg.to_api(chat.to_api())

    def _enqueue(self, bot: BotRecord, kind: str, payload: dict) -> dict:
        update = {"update_id": bot.next_update_id, kind: payload}
        bot.next_update_id += 1
        bot.updates.append(update)
        self.notify()
        return update

    # ================================================================ Bot API methods
    # Each m_<name> handles the method <name> (case-insensitive), returns its result.
    def m_getMe(self, bot, p, f):
        return bot.get_me()

    def m_logOut(self, bot, p, f):
        return True

    def m_close(self, bot, p, f):
        return True

    def m_setWebhook(self, bot, p, f):
        """Recorded (url, secret_token) in `webhooks`; the emulator does not deliver to it: a test POSTs
        the updates itself, as Telegram would."""
        if _bool(p, "drop_pending_updates"):
            bot.updates.clear()
        self.webhooks[bot.username] = {"url": _str(p, "url") or "", "secret_token": _str(p, "secret_token")}
        return True

    def m_deleteWebhook(self, bot, p, f):
        if _bool(p, "drop_pending_updates"):
            bot.updates.clear()
        self.webhooks.pop(bot.username, None)
        return True

    def m_getWebhookInfo(self, bot, p, f):
        url = self.webhooks.get(bot.username, {}).get("url", "")
        return {"url": url, "has_custom_certificate": False, "pending_update_count": len(bot.updates)}

    async def m_getUpdates(self, bot, p, f):
        offset = _int(p, "offset") or 0
        limit = max(1, min(100, _int(p, "limit") or 100))
        try:
            timeout = max(0.0, float(p.get("timeout") or 0))
        except (TypeError, ValueError):
            raise bad_request("invalid timeout specified") from None
        allowed = _json(p, "allowed_updates")
        if allowed is not None:
            bot.allowed_updates = list(allowed) or None
        bot.poll_generation += 1
        generation = bot.poll_generation
        self.notify()  # wake an older poll so that it reports the conflict
        if offset > 0:
            bot.updates[:] = [u for u in bot.updates if u["update_id"] >= offset]
        elif offset < 0:
            del bot.updates[: max(0, len(bot.updates) + offset)]

        def ready():
            if bot.poll_generation != generation:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                    "make sure that only one bot instance is running")
            if bot.allowed_updates:
                bot.updates[:] = [u for u in bot.updates
                                  if next(k for k in u if k != "update_id") in bot.allowed_updates]
            return bot.updates[:limit] or None

        try:
            return await self.wait_until(ready, timeout)
        except WaitTimeout:  # long poll ended without updates (or the emulator is closing)
            return []

    # ---- commands / descriptions
    @staticmethod
    def _scope_key(p: dict) -> tuple[str, str]:
        scope = _json(p, "scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), _str(p, "language_code") or ""

    def m_setMyCommands(self, bot, p, f):
        commands = _json(p, "commands")
        if not isinstance(commands, list):
            raise bad_request("commands must be an array")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        clean = []
        for c in commands:
            if not isinstance(c, dict) or not _COMMAND_RE.match(str(c.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            desc = str(c.get("description", ""))
            if not 1 <= len(desc) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": c["command"], "description": desc})
        key = self._scope_key(p)
        if clean:
            bot.commands[key] = clean
        else:
            bot.commands.pop(key, None)
        self.emit(Event("commands", bot.username, data={"commands": clean}, time=self.clock()))
        return True

    def m_getMyCommands(self, bot, p, f):
        return list(bot.commands.get(self._scope_key(p), []))

    def m_deleteMyCommands(self, bot, p, f):
        bot.commands.pop(self._scope_key(p), None)
        self.emit(Event("commands", bot.username, data={"commands": []}, time=self.clock()))
        return True

    def _set_desc(self, bot, p, kind, field_name, limit):
        value = _str(p, field_name) or ""
        if len(value) > limit:
            raise bad_request(f"{field_name.upper()}_INVALID")
        bot.descriptions[(kind, _str(p, "language_code") or "")] = value
        return True

    def m_setMyDescription(self, bot, p, f):
        return self._set_desc(bot, p, "description", "description", 512)

    def m_setMyShortDescription(self, bot, p, f):
        return self._set_desc(bot, p, "short_description", "short_description", 120)

    def m_setMyName(self, bot, p, f):
        return self._set_desc(bot, p, "name", "name", 64)

    def m_getMyDescription(self, bot, p, f):
        return {"description": bot.descriptions.get(("description", _str(p, "language_code") or ""), "")}

    def m_getMyShortDescription(self, bot, p, f):
        key = ("short_description", _str(p, "language_code") or "")
        return {"short_description": bot.descriptions.get(key, "")}

    def m_getMyName(self, bot, p, f):
        return {"name": bot.descriptions.get(("name", _str(p, "language_code") or ""), bot.first_name)}

    # ---- chats
    def m_getChat(self, bot, p, f):
        chat = self._chat(bot, p, sending=False)
        return {
            **chat.to_api(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False,
                                    "unique_gifts": False, "premium_subscription": False,
                                    "gifts_from_channels": False},
        }

    def m_sendChatAction(self, bot, p, f):
        chat = self._chat(bot, p)
        action = _str(p, "action")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        record = ChatAction(action, self.clock())
        chat.actions.append(record)
        self.emit(Event("chat_action", bot.username, chat.id, data={"action": action}, time=record.time))
        return True

    # ---- sending
    @staticmethod
    def _message_text(p):
        """The `text` of sendMessage/editMessageText, checked as Telegram does: (raw, parse_mode,
        plain text, entities)."""
        raw = _str(p, "text")
        if raw is None or not raw.strip():
            raise bad_request("message text is empty")
        parse_mode = _str(p, "parse_mode")
        plain, entities = format_text(raw, parse_mode, _json(p, "entities"))
        if not plain.strip():
            raise bad_request("message text is empty")
        if utf16_len(plain) > MAX_TEXT:
            raise bad_request("message is too long")
        return raw, parse_mode, plain, entities

    def m_sendMessage(self, bot, p, f):
        chat = self._chat(bot, p)
        raw, parse_mode, plain, entities = self._message_text(p)
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        msg = self._bot_message(bot, chat, kind="text", text=plain, raw_text=raw, parse_mode=parse_mode,
                                entities=entities, reply_to_message_id=reply_to)
        return self._add_message(bot, chat, msg, markup).to_api(chat.to_api())

    async def m_sendPhoto(self, bot, p, f):
        chat = self._chat(bot, p)
        source = self._resolve_input(p, f, "photo")
        raw_caption, caption, entities = self._caption(p)
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        group = await self._photo_from_input(source)
        msg = self._bot_message(bot, chat, kind="photo", caption=caption, raw_caption=raw_caption,
                                parse_mode=_str(p, "parse_mode"), entities=entities, photo_files=group,
                                reply_to_message_id=reply_to)
        return self._add_message(bot, chat, msg, markup).to_api(chat.to_api())

    def m_sendDocument(self, bot, p, f):
        chat = self._chat(bot, p)
        source = self._resolve_input(p, f, "document")
        raw_caption, caption, entities = self._caption(p)
        markup = self._markup(p)
        reply_to = self._reply_to(chat, p)
        doc = self._document_from_input(source)
        msg = self._bot_message(bot, chat, kind="document", caption=caption, raw_caption=raw_caption,
                                parse_mode=_str(p, "parse_mode"), entities=entities, document_file=doc,
                                reply_to_message_id=reply_to)
        return self._add_message(bot, chat, msg, markup).to_api(chat.to_api())

    async def m_sendMediaGroup(self, bot, p, f):
        chat = self._chat(bot, p)
        media = _json(p, "media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad_request("wrong number of messages in the media group" if isinstance(media, list)
                              else "media must be an array")
        reply_to = self._reply_to(chat, p)
        prepared = []
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in ("photo", "document"):
                raise bad_request("unsupported media type in the media group")
            source = self._resolve_input({"media": item.get("media")}, f, "media")
            raw_caption, caption, entities = self._caption(item)
            if item["type"] == "photo":
                prepared.append(("photo", await self._photo_from_input(source), raw_caption, caption,
                                 entities, item.get("parse_mode")))
            else:
                prepared.append(("document", self._document_from_input(source), raw_caption, caption,
                                 entities, item.get("parse_mode")))
        group_id = str(next(self._ids) + 10**12)
        result = []
        for kind, files, raw_caption, caption, entities, parse_mode in prepared:
            extra = {"photo_files": files} if kind == "photo" else {"document_file": files}
            msg = self._bot_message(bot, chat, kind=kind, caption=caption, raw_caption=raw_caption,
                                    parse_mode=parse_mode, entities=entities, media_group_id=group_id,
                                    reply_to_message_id=reply_to, **extra)
            result.append(self._add_message(bot, chat, msg).to_api(chat.to_api()))
        return result

    # ---- editing / deleting
    def m_editMessageText(self, bot, p, f):
        chat, msg = self._find_message(bot, p, "message to edit not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        if msg.kind != "text":
            raise bad_request("there is no text in the message to edit")
        raw, parse_mode, plain, entities = self._message_text(p)
        markup = self._markup(p)
        inline = markup if markup and "inline_keyboard" in markup else None
        if plain == msg.text and entities == msg.entities and inline == msg.reply_markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        return self._apply_edit(bot, chat, msg, text=plain, raw_text=raw, parse_mode=parse_mode,
                                entities=entities, reply_markup=inline)

    def m_editMessageCaption(self, bot, p, f):
        chat, msg = self._find_message(bot, p, "message to edit not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        if msg.kind not in ("photo", "document"):
            raise bad_request("there is no caption in the message to edit")
        raw_caption, caption, entities = self._caption(p)
        markup = self._markup(p)
        inline = markup if markup and "inline_keyboard" in markup else None
        if caption == msg.caption and entities == msg.entities and inline == msg.reply_markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        return self._apply_edit(bot, chat, msg, caption=caption, raw_caption=raw_caption,
                                parse_mode=_str(p, "parse_mode"), entities=entities, reply_markup=inline)

    def m_editMessageReplyMarkup(self, bot, p, f):
        chat, msg = self._find_message(bot, p, "message to edit not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        markup = self._markup(p)
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        if markup == msg.reply_markup or (not markup and not msg.reply_markup):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        return self._apply_edit(bot, chat, msg, reply_markup=markup)

    async def m_editMessageMedia(self, bot, p, f):
        chat, msg = self._find_message(bot, p, "message to edit not found")
        if not msg.from_bot:
            raise bad_request("message can't be edited")
        media = _json(p, "media")
        if not isinstance(media, dict) or media.get("type") not in ("photo", "document"):
            raise bad_request("can't parse InputMedia: unsupported media type")
        if msg.kind not in ("photo", "document"):
            raise bad_request("there is no media in the message to edit")
        source = self._resolve_input({"media": media.get("media")}, f, "media")
        raw_caption, caption, entities = self._caption(media)
        markup = self._markup(p)
        inline = markup if markup and "inline_keyboard" in markup else None
        changes: dict[str, Any] = dict(kind=media["type"], caption=caption, raw_caption=raw_caption,
                                       parse_mode=media.get("parse_mode"), entities=entities, reply_markup=inline)
        if media["type"] == "photo":
            changes.update(photo_files=await self._photo_from_input(source), document_file=None)
        else:
            changes.update(document_file=self._document_from_input(source), photo_files=[])
        return self._apply_edit(bot, chat, msg, **changes)

    def m_setChatMenuButton(self, bot, p, f):
        return True

    def m_getChatMenuButton(self, bot, p, f):
        return {"type": "commands"}

    def _delete(self, bot: BotRecord, chat: Chat, msg: BotMessage) -> None:
        msg.deleted = True
        msg.deleted_at = self.clock()
        self.emit(Event("deleted", bot.username, chat.id, msg, time=msg.deleted_at))

    def m_deleteMessage(self, bot, p, f):
        chat, msg = self._find_message(bot, p, "message to delete not found")
        self._delete(bot, chat, msg)
        return True

    def m_deleteMessages(self, bot, p, f):
        chat = self._chat(bot, p, sending=False)
        ids = _json(p, "message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must be a non-empty array of at most 100 identifiers")
        for mid in ids:
            msg = chat.messages.get(int(mid))
            if msg is not None and not msg.deleted:
                self._delete(bot, chat, msg)
        return True

    # ---- callback queries
    def m_answerCallbackQuery(self, bot, p, f):
        qid = _str(p, "callback_query_id")
        query = bot.callback_queries.get(qid or "")
        if query is None or query.answered:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        text = _str(p, "text")
        if text is not None and len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        query.answer_text = text
        query.show_alert = _bool(p, "show_alert")
        query.answer_url = _str(p, "url")
        query.answered_at = self.clock()
        self.emit(Event("callback_answered", bot.username, query.chat_id,
                        data={"callback_query_id": query.id, "text": text, "show_alert": query.show_alert,
                              "message_id": query.message_id}, time=query.answered_at))
        return True

    # ---- files
    def m_getFile(self, bot, p, f):
        file_id = _str(p, "file_id")
        if not file_id:
            raise bad_request("file_id is empty")
        rec = self.files.get(file_id)
        if rec is None:
            raise bad_request("invalid file_id")
        if rec.file_size > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return {"file_id": rec.file_id, "file_unique_id": rec.file_unique_id,
                "file_size": rec.file_size, "file_path": rec.file_path}

    def download(self, token: str, file_path: str) -> FileRecord:
        self.get_bot(token)
        rec = self.files_by_path.get(file_path)
        if rec is None or rec.file_size > MAX_DOWNLOAD:
            raise ApiError(404, "Not Found")
        return rec

    # ================================================================ user side
    def _user_message(self, bot: BotRecord, user: UserRecord, *, reply_to: int | None = None, **fields) -> BotMessage:
        chat = self.chat_for(bot, user)
        chat.started = True
        chat.blocked = False
        mid = chat.next_message_id
        chat.next_message_id += 1
        if reply_to is not None and reply_to not in chat.messages:
            raise ValueError(f"no message {reply_to} to reply to")
        msg = BotMessage(chat_id=chat.id, message_id=mid, from_bot=False, date=self.now(),
                         sender=user.to_api(), reply_to_message_id=reply_to, **fields)
        self._add_message(bot, chat, msg)
        payload = msg.to_api(chat.to_api())
        if reply_to is not None:
            payload["reply_to_message"] = chat.messages[reply_to].to_api(chat.to_api())
        self._enqueue(bot, "message", payload)
        return msg

    def user_send_text(self, bot: BotRecord, user: UserRecord, text: str, *, reply_to: int | None = None) -> BotMessage:
        if not text:
            raise ValueError("Telegram clients do not send empty messages")
        entities = []
        m = re.match(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{3,32})?(?=\s|$)", text)
        if m:
            entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(m.group(0))})
        return self._user_message(bot, user, reply_to=reply_to, kind="text", text=text, raw_text=text,
                                  entities=entities)

    async def user_send_photo(self, bot: BotRecord, user: UserRecord, data: bytes, *, caption: str | None = None) -> BotMessage:
        try:
            group = await self._photo_files(data)
        except ImageError as exc:
            raise ValueError(f"not an image Telegram would accept as a photo: {exc}") from None
        original = self._store_file(data, "original", "", mime_type=None)
        return self._user_message(bot, user, kind="photo", caption=caption or None, raw_caption=caption or None,
                                  photo_files=group, original=original)

    def user_send_document(self, bot: BotRecord, user: UserRecord, data: bytes, file_name: str,
                           mime_type: str | None = None, *, caption: str | None = None) -> BotMessage:
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        ext = "." + file_name.rsplit(".", 1)[1] if "." in file_name else ""
        doc = self._store_file(data, "document", ext, file_name=file_name, mime_type=mime)
        return self._user_message(bot, user, kind="document", caption=caption or None,
                                  raw_caption=caption or None, document_file=doc)

    def user_send_sticker(self, bot: BotRecord, user: UserRecord, emoji: str = "👍") -> BotMessage:
        rec = self._store_file(sticker_webp(), "sticker", ".webp", width=512, height=512, mime_type="image/webp")
        sticker = {"file_id": rec.file_id, "file_unique_id": rec.file_unique_id, "type": "regular",
                   "width": 512, "height": 512, "is_animated": False, "is_video": False,
                   "emoji": emoji, "file_size": rec.file_size}
        return self._user_message(bot, user, kind="sticker", sticker=sticker)

    def user_press(self, bot: BotRecord, user: UserRecord, message_id: int, data: str) -> CallbackQueryRecord:
        chat = self.chat_for(bot, user)
        msg = chat.messages.get(message_id)
        if msg is None or msg.deleted:
            raise LookupError(f"message {message_id} does not exist in chat {chat.id}")
        query = CallbackQueryRecord(id=str(secrets.randbits(62)),
                                    chat_id=chat.id, message_id=message_id, data=data, user_id=user.id,
                                    time=self.clock())
        bot.callback_queries[query.id] = query
        payload = {"id": query.id, "from": user.to_api(), "message": msg.to_api(chat.to_api()),
                   "chat_instance": str(chat.id * 31 + bot.id), "data": data}
        self.emit(Event("callback_query", bot.username, chat.id, msg,
                        data={"callback_query_id": query.id, "data": data}, time=query.time))
        self._enqueue(bot, "callback_query", payload)
        return query
