"""The sandbox's "Telegram servers" side kept on disk: chats, message ids and files survive a restart.

Telegram keeps chat history; so does the sandbox, under ``$DATA_DIR/sandbox/`` (``chats.json`` and
``files/``). Message ids continue where they were, so a message id the bot stored (a preview waiting
for Confirm) still means the same message after a restart, and file ids stay valid for ``getFile``.
Best effort: a damaged file is logged and ignored (the sandbox then starts with empty chats).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from bot.emulator import BotMessage, FileRecord, MessageVersion
from bot.emulator.core import BotRecord, EmulatorCore

log = logging.getLogger(__name__)

VERSION = 1
_FILE_FIELDS = {"photo_files", "original", "document_file", "edits"}


def _file_meta(rec: FileRecord, files_dir: Path) -> dict:
    digest = hashlib.sha256(rec.data).hexdigest()
    blob = files_dir / digest
    if not blob.exists():
        tmp = blob.with_suffix(".tmp")
        tmp.write_bytes(rec.data)
        tmp.replace(blob)
    meta = {f.name: getattr(rec, f.name) for f in dataclasses.fields(rec) if f.name != "data"}
    meta["sha256"] = digest
    return meta


def _message_json(msg: BotMessage, files_dir: Path) -> dict:
    d = {f.name: getattr(msg, f.name) for f in dataclasses.fields(msg) if f.name not in _FILE_FIELDS}
    d["photo_files"] = [_file_meta(r, files_dir) for r in msg.photo_files]
    d["original"] = _file_meta(msg.original, files_dir) if msg.original else None
    d["document_file"] = _file_meta(msg.document_file, files_dir) if msg.document_file else None
    d["edits"] = [dataclasses.asdict(v) for v in msg.edits]
    return d


def save(core: EmulatorCore, bot: BotRecord, directory: Path) -> None:
    files_dir = directory / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    chats = []
    for chat in bot.chats.values():
        chats.append({
            "user": dataclasses.asdict(chat.user),
            "next_message_id": chat.next_message_id,
            "started": chat.started,
            "blocked": chat.blocked,
            "reply_keyboard": chat.reply_keyboard,
            "messages": [_message_json(m, files_dir) for _, m in sorted(chat.messages.items())],
        })
    data = {"version": VERSION, "bot": bot.username, "next_update_id": bot.next_update_id, "chats": chats}
    path = directory / "chats.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _restore_file(core: EmulatorCore, meta: dict | None, files_dir: Path, cache: dict[str, FileRecord]) -> FileRecord | None:
    if meta is None:
        return None
    if meta["file_id"] in cache:
        return cache[meta["file_id"]]
    data = (files_dir / meta["sha256"]).read_bytes()
    ext = os.path.splitext(meta.get("file_path") or "")[1]
    kw = {k: meta.get(k) for k in ("file_name", "mime_type", "width", "height")}
    rec = core._store_file(data, meta["kind"], ext, **kw)  # a fresh file_path, no clash with new files
    del core.files[rec.file_id]
    rec.file_id, rec.file_unique_id = meta["file_id"], meta["file_unique_id"]  # ids the bot may hold
    core.files[rec.file_id] = rec
    cache[rec.file_id] = rec
    return rec


def load(core: EmulatorCore, bot: BotRecord, directory: Path) -> int:
    """Restores the chats saved by :func:`save`; returns how many messages came back."""
    path = directory / "chats.json"
    if not path.exists():
        return 0
    files_dir = directory / "files"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        if data.get("version") != VERSION or data.get("bot") != bot.username:
            return 0
        cache: dict[str, FileRecord] = {}
        count = 0
        for saved in data["chats"]:
            u = saved["user"]
            user = core.ensure_user(u["id"], u["first_name"], u.get("username"), u.get("language_code"),
                                    u.get("last_name"))
            chat = core.chat_for(bot, user)
            for m in saved["messages"]:
                fields = {k: v for k, v in m.items() if k not in _FILE_FIELDS}
                photos = [_restore_file(core, f, files_dir, cache) for f in m["photo_files"]]
                msg = BotMessage(
                    **fields,
                    photo_files=photos,
                    original=_restore_file(core, m["original"], files_dir, cache),
                    document_file=_restore_file(core, m["document_file"], files_dir, cache),
                    edits=[MessageVersion(**v) for v in m["edits"]],
                )
                for rec in photos:
                    core.photo_groups[rec.file_id] = photos
                chat.messages[msg.message_id] = msg
                count += 1
            chat.next_message_id = max(chat.next_message_id, saved["next_message_id"])
            chat.started, chat.blocked = saved["started"], saved["blocked"]
            chat.reply_keyboard = saved["reply_keyboard"]
        bot.next_update_id = max(bot.next_update_id, int(data.get("next_update_id", 1)))
        return count
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("sandbox chat history in %s could not be restored (%s); starting with empty chats", path, exc)
        return 0
