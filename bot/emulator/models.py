"""Plain data records of the emulator's state (no I/O here)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class FileRecord:
    file_id: str
    file_unique_id: str
    data: bytes = field(repr=False)
    file_path: str
    kind: str  # "photo" | "document" | "sticker"
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def file_size(self) -> int:
        return len(self.data)

    def photo_size(self) -> dict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "width": self.width,
            "height": self.height,
            "file_size": self.file_size,
        }

    def document_dict(self) -> dict:
        d: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        if self.file_name is not None:
            d["file_name"] = self.file_name
        if self.mime_type is not None:
            d["mime_type"] = self.mime_type
        d["file_size"] = self.file_size
        return d


@dataclass
class MessageVersion:
    """An earlier state of an edited message."""

    text: str | None
    caption: str | None
    entities: list[dict]
    reply_markup: dict | None
    edit_date: int | None
    time: float = field(default_factory=time.time)
    kind: str | None = None
    file_ids: list[str] = field(default_factory=list)


@dataclass(eq=False)
class BotMessage:
    """One message of a chat, in either direction (``from_bot`` tells which).

    The object is live: it is updated in place when the message is edited or deleted.
    ``text``/``caption`` are the plain text as Telegram shows it (HTML markup parsed away);
    ``raw_text``/``raw_caption`` keep what the bot sent, ``parse_mode`` how.
    """

    chat_id: int
    message_id: int
    from_bot: bool
    date: int
    sender: dict
    kind: str = "text"  # text | photo | document | sticker
    text: str | None = None
    caption: str | None = None
    raw_text: str | None = None
    raw_caption: str | None = None
    parse_mode: str | None = None
    entities: list[dict] = field(default_factory=list)
    reply_markup: dict | None = None
    photo_files: list[FileRecord] = field(default_factory=list, repr=False)
    original: FileRecord | None = field(default=None, repr=False)
    document_file: FileRecord | None = field(default=None, repr=False)
    sticker: dict | None = None
    media_group_id: str | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    deleted: bool = False
    deleted_at: float | None = None
    edits: list[MessageVersion] = field(default_factory=list, repr=False)

    # ---- convenience for tests -------------------------------------------------
    @property
    def content(self) -> str:
        """``text`` or ``caption`` (whichever the message has), '' if none."""
        return self.text if self.text is not None else (self.caption or "")

    @property
    def edited(self) -> bool:
        return bool(self.edits)

    @property
    def edit_history(self) -> list[MessageVersion]:
        return self.edits

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard as rows of ``(text, callback_data or url)``; [] when none."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [
            [(b.get("text", ""), b.get("callback_data", b.get("url"))) for b in row] for row in rows
        ]

    @property
    def button_texts(self) -> list[str]:
        return [text for row in self.buttons for text, _ in row]

    def find_button(self, text: str) -> dict | None:
        for row in (self.reply_markup or {}).get("inline_keyboard") or []:
            for b in row:
                if b.get("text") == text:
                    return b
        return None

    @property
    def photo_bytes(self) -> bytes | None:
        """The largest PhotoSize's bytes (what ``getFile`` on ``photo[-1]`` downloads)."""
        return self.photo_files[-1].data if self.photo_files else None

    @property
    def original_bytes(self) -> bytes | None:
        """The bytes as originally sent (photos are re-encoded by Telegram; this keeps the source)."""
        if self.original is not None:
            return self.original.data
        return self.document_bytes

    @property
    def document_bytes(self) -> bytes | None:
        return self.document_file.data if self.document_file else None

    @property
    def photo(self) -> list[dict]:
        return [f.photo_size() for f in self.photo_files]

    @property
    def document(self) -> dict | None:
        return self.document_file.document_dict() if self.document_file else None

    # ---- Telegram shape --------------------------------------------------------
    def to_api(self, chat: dict) -> dict:
        d: dict[str, Any] = {
            "message_id": self.message_id,
            "from": dict(self.sender),
            "chat": dict(chat),
            "date": self.date,
        }
        if self.edit_date is not None:
            d["edit_date"] = self.edit_date
        if self.media_group_id is not None:
            d["media_group_id"] = self.media_group_id
        if self.text is not None:
            d["text"] = self.text
            if self.entities:
                d["entities"] = [dict(e) for e in self.entities]
        if self.photo_files:
            d["photo"] = self.photo
        if self.document_file is not None:
            d["document"] = self.document
        if self.sticker is not None:
            d["sticker"] = dict(self.sticker)
        if self.caption is not None:
            d["caption"] = self.caption
            if self.entities:
                d["caption_entities"] = [dict(e) for e in self.entities]
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            d["reply_markup"] = self.reply_markup
        return d

    def to_json(self) -> dict:
        """A JSON-able view for the sandbox web page (includes emulator-only fields)."""
        return {
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "from_bot": self.from_bot,
            "date": self.date,
            "kind": self.kind,
            "text": self.text,
            "caption": self.caption,
            "entities": self.entities,
            "reply_markup": self.reply_markup,
            "photo": self.photo,
            "document": self.document,
            "sticker": self.sticker,
            "media_group_id": self.media_group_id,
            "reply_to_message_id": self.reply_to_message_id,
            "edit_date": self.edit_date,
            "deleted": self.deleted,
            "edits": len(self.edits),
        }


@dataclass
class ChatAction:
    action: str
    time: float


@dataclass(eq=False)
class CallbackQueryRecord:
    id: str
    chat_id: int
    message_id: int
    data: str
    user_id: int
    time: float
    answered: bool = False
    answer_text: str | None = None
    show_alert: bool = False
    answer_url: str | None = None
    answered_at: float | None = None


@dataclass
class Event:
    """Something that happened in the emulator; delivered to subscribers (sandbox WebSocket, tests).

    ``type`` is one of: ``message`` (new message, either direction), ``edited``, ``deleted``,
    ``chat_action``, ``callback_query`` (a user pressed a button), ``callback_answered``,
    ``commands`` (setMyCommands/deleteMyCommands).
    """

    type: str
    bot_username: str
    chat_id: int | None = None
    message: BotMessage | None = None
    data: dict = field(default_factory=dict)
    time: float = field(default_factory=time.time)

    def to_json(self) -> dict:
        return {
            "type": self.type,
            "bot_username": self.bot_username,
            "chat_id": self.chat_id,
            "message": self.message.to_json() if self.message is not None else None,
            "data": self.data,
            "time": self.time,
        }
