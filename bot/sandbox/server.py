"""The sandbox: the real bot, the Bot API emulator and a web chat on one loopback port.

One aiohttp application serves both faces of the emulator: the Bot API the bot polls
(``/bot<token>/<method>``, ``/file/bot<token>/<path>``) and the web page people use
(``/``, ``/sandbox/static/...``, ``/sandbox/api/...``, ``/sandbox/ws``, ``/sandbox/file/<file_id>``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from bot.config import Settings
from bot.emulator import BotAPIEmulator, Event, SimUser
from bot.sandbox import history

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
SANDBOX_TOKEN = "100001:SANDBOX-local-token-not-a-telegram-token"
SANDBOX_BOT_USERNAME = "ecg_analyzer_sandbox_bot"
SANDBOX_BOT_NAME = "ECG Analyzer"
DEFAULT_USERS = [(1001, "Alice"), (1002, "Bob")]
FIRST_EXTRA_USER_ID = 1003
MAIL_POLL_SECONDS = 0.4
AUTOSAVE_SECONDS = 3.0
MAX_MAILS = 200  # the mailbox lists the newest ones
MAX_UPLOAD = 20 * 1024 * 1024

SANDBOX_KEY: web.AppKey["Sandbox"] = web.AppKey("ecg_sandbox", object)  # type: ignore[arg-type]
CODE_RE = re.compile(r"(?<![\w-])(\d{6})(?![\w-])")  # a reset code, not digits inside a token


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


class Sandbox:
    """A running sandbox. Build it with :func:`start_sandbox`; ``await stop()`` ends everything."""

    def __init__(self, settings: Settings, *, poll_timeout: float = 10, warm_model: bool = False) -> None:
        self.base_settings = settings
        self.poll_timeout = poll_timeout
        self.warm_model = warm_model
        self.emulator = BotAPIEmulator(SANDBOX_TOKEN, SANDBOX_BOT_USERNAME, bot_name=SANDBOX_BOT_NAME)
        self.runtime: Any = None  # bot.app.BotRuntime
        self.settings: Settings | None = None
        self.url: str | None = None
        self._sockets: dict[web.WebSocketResponse, asyncio.Queue] = {}
        self._mail_task: asyncio.Task | None = None
        self._save_task: asyncio.Task | None = None
        self._dirty = False
        self._mail_count = 0
        self._users_file = self._state_dir / "users.json"
        self._install_routes(self.emulator.app)
        self.emulator.add_listener(self._on_event)

    # ------------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 8080) -> str:
        from bot.app import BotRuntime

        url = await self.emulator.start(host, port)
        self.url = url
        try:
            self.settings = dataclasses.replace(
                self.base_settings, telegram_bot_token=self.emulator.token, telegram_api_url=url
            )
            restored = history.load(self.emulator.core, self.emulator.default_bot, self._state_dir)
            if restored:
                log.info("sandbox: %d chat messages restored from %s", restored, self._state_dir)
            for user_id, name in self._load_users():
                self.emulator.user(user_id, name)
            for chat in list(self.emulator.default_bot.chats.values()):  # a chat whose user isn't listed
                self.emulator.user(chat.user.id, chat.user.first_name)
            self.runtime = BotRuntime(self.settings, poll_timeout=self.poll_timeout, warm_model=self.warm_model)
            await self.runtime.start()
            self._mail_count = len(self._mail_paths())
            self._mail_task = asyncio.create_task(self._watch_mail(), name="sandbox-mail-watch")
            self._save_task = asyncio.create_task(self._autosave(), name="sandbox-autosave")
        except BaseException:
            await self.stop()
            raise
        return url

    async def stop(self) -> None:
        for task in (self._mail_task, self._save_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._mail_task = self._save_task = None
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self.runtime is not None:
            runtime, self.runtime = self.runtime, None
            await runtime.stop()
            self.save_history()
        await self.emulator.stop()

    # ------------------------------------------------------------------ chat history on disk
    @property
    def _state_dir(self) -> Path:
        return self.base_settings.data_dir / "sandbox"

    def save_history(self) -> None:
        try:
            history.save(self.emulator.core, self.emulator.default_bot, self._state_dir)
            self._dirty = False
        except (OSError, TypeError, ValueError) as exc:
            log.warning("could not save the sandbox chats: %s", exc)

    async def _autosave(self) -> None:
        while True:
            await asyncio.sleep(AUTOSAVE_SECONDS)
            if self._dirty:
                self.save_history()

    @property
    def page_url(self) -> str:
        return (self.url or "") + "/"

    # ------------------------------------------------------------------ users
    def _load_users(self) -> list[tuple[int, str]]:
        try:
            data = json.loads(self._users_file.read_text())
            users = [(int(u["id"]), str(u["first_name"])) for u in data]
            if users:
                return users
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return list(DEFAULT_USERS)

    def _save_users(self) -> None:
        try:
            self._users_file.parent.mkdir(parents=True, exist_ok=True)
            self._users_file.write_text(json.dumps([{"id": u.id, "first_name": u.first_name} for u in self.users()]))
        except OSError as exc:  # the sandbox still works, the list just won't survive a restart
            log.warning("could not save the sandbox users: %s", exc)

    def users(self) -> list[SimUser]:
        return sorted(self.emulator._users.values(), key=lambda u: u.id)

    def user(self, user_id: int) -> SimUser:
        for u in self.users():
            if u.id == user_id:
                return u
        raise KeyError(user_id)

    def add_user(self, first_name: str) -> SimUser:
        first_name = " ".join(first_name.split())[:64] or "User"
        next_id = max([u.id for u in self.users()] + [FIRST_EXTRA_USER_ID - 1]) + 1
        user = self.emulator.user(next_id, first_name)
        self._save_users()
        return user

    def user_json(self, user: SimUser) -> dict:
        shown = [m for m in user.history() if not m.deleted]
        last = shown[-1] if shown else None
        preview = None
        if last is not None:
            preview = last.content or {"photo": "🖼 Photo", "document": "📄 File", "sticker": "Sticker"}.get(last.kind, "")
            preview = ("" if last.from_bot else "You: ") + preview.split("\n")[0][:80]
        return {"id": user.id, "first_name": user.first_name, "username": user.username, "preview": preview}

    def commands_for(self, user_id: int) -> list[dict]:
        """The menu Telegram would show in this private chat: chat scope, then private chats, then default."""
        for scope in ({"type": "chat", "chat_id": user_id}, {"type": "all_private_chats"}, None):
            commands = self.emulator.commands(scope)
            if commands:
                return commands
        return []

    def chat_json(self, user: SimUser) -> dict:
        snap = user.snapshot()
        snap["commands"] = self.commands_for(user.id)
        return snap

    # ------------------------------------------------------------------ mail
    @property
    def outbox(self):
        return self.runtime.outbox if self.runtime is not None else None

    def _mail_paths(self) -> list[Path]:
        outbox = self.outbox
        return outbox.paths() if outbox is not None else []

    def user_for_email(self, address: str) -> SimUser | None:
        """The simulated user who most recently typed this address in their chat (registration,
        login, reset all ask for it) — the one whose Telegram would open the link."""
        needle = address.strip().lower()
        best: tuple[float, SimUser] | None = None
        for u in self.users():
            for m in u.history():
                if not m.from_bot and m.text and m.text.strip().lower() == needle:
                    if best is None or m.date >= best[0]:
                        best = (m.date, u)
        return best[1] if best else None

    def mail_json(self) -> list[dict]:
        from bot.embedded import message_html, message_text

        outbox = self.outbox
        if outbox is None:
            return []
        link_re = re.compile(r"https://t\.me/" + re.escape(self.emulator.bot_username) + r"\?start=([A-Za-z0-9_-]+)")
        result = []
        for path in list(reversed(outbox.paths()))[:MAX_MAILS]:  # newest first
            try:
                import email
                import email.policy

                with open(path, "rb") as fh:
                    msg: EmailMessage = email.message_from_binary_file(fh, policy=email.policy.default)  # type: ignore
                text = message_text(msg)
                html = message_html(msg)
            except (OSError, ValueError) as exc:
                log.warning("unreadable mail %s: %s", path, exc)
                continue
            to = str(msg.get("To", ""))
            try:
                date = parsedate_to_datetime(str(msg.get("Date"))).isoformat() if msg.get("Date") else None
            except (TypeError, ValueError):
                date = None
            address = re.search(r"[^\s<>,]+@[^\s<>,]+", to)
            owner = self.user_for_email(address.group(0)) if address else None
            links = sorted(set(link_re.findall(text + "\n" + html)))
            result.append({
                "id": path.name,
                "subject": str(msg.get("Subject", "")),
                "from": str(msg.get("From", "")),
                "to": to,
                "date": date,
                "text": text,
                "start_payloads": links,
                "codes": sorted(set(CODE_RE.findall(text))),
                "user_id": owner.id if owner else None,
            })
        return result

    async def _watch_mail(self) -> None:
        while True:
            await asyncio.sleep(MAIL_POLL_SECONDS)
            try:
                count = len(self._mail_paths())
            except OSError:
                continue
            if count != self._mail_count:
                self._mail_count = count
                self._broadcast({"type": "mail", "count": count})

    # ------------------------------------------------------------------ live updates
    def _on_event(self, event: Event) -> None:
        if event.bot_username != self.emulator.bot_username:
            return
        self._dirty = True
        if not self._sockets:
            return
        payload = event.to_json()
        if event.chat_id is not None and event.type in ("message", "edited", "deleted"):
            chat = self.emulator.default_bot.chats.get(event.chat_id)
            payload["reply_keyboard"] = chat.reply_keyboard if chat is not None else None
        if event.type == "commands":
            payload["data"] = dict(payload.get("data") or {})
        self._broadcast({"type": "event", "event": payload})

    def _broadcast(self, data: dict) -> None:
        """Queues ``data`` for every open page; each socket has one writer, so order is kept."""
        text = json.dumps(data)
        for queue in self._sockets.values():
            queue.put_nowait(text)

    # ------------------------------------------------------------------ HTTP
    def _install_routes(self, app: web.Application) -> None:
        app[SANDBOX_KEY] = self
        r = app.router
        r.add_get("/", self.h_index)
        r.add_get("/sandbox", self.h_index)
        r.add_static("/sandbox/static/", STATIC_DIR, show_index=False, append_version=False)
        r.add_get("/sandbox/api/state", self.h_state)
        r.add_post("/sandbox/api/users", self.h_add_user)
        r.add_get("/sandbox/api/users/{user_id:\\d+}/chat", self.h_chat)
        r.add_post("/sandbox/api/users/{user_id:\\d+}/text", self.h_text)
        r.add_post("/sandbox/api/users/{user_id:\\d+}/start", self.h_start)
        r.add_post("/sandbox/api/users/{user_id:\\d+}/press", self.h_press)
        r.add_post("/sandbox/api/users/{user_id:\\d+}/upload", self.h_upload)
        r.add_get("/sandbox/api/mail", self.h_mail)
        r.add_post("/sandbox/api/instructor", self.h_instructor)
        r.add_get("/sandbox/file/{file_id}", self.h_file)
        r.add_get("/sandbox/ws", self.h_ws)

    async def h_index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    def _state(self) -> dict:
        bot = self.emulator.default_bot
        return {
            "bot": {"id": bot.id, "username": bot.username, "first_name": bot.first_name},
            "users": [self.user_json(u) for u in self.users()],
            "mailbox": self.outbox is not None,
            "smtp_host": self.settings.smtp_host if self.settings else None,
        }

    async def h_state(self, request: web.Request) -> web.Response:
        return web.json_response(self._state())

    def _user_of(self, request: web.Request) -> SimUser:
        try:
            return self.user(int(request.match_info["user_id"]))
        except KeyError:
            raise web.HTTPNotFound(text=json.dumps({"ok": False, "error": "no such user"}),
                                   content_type="application/json") from None

    async def _body(self, request: web.Request) -> dict:
        try:
            body = await request.json()
        except ValueError:
            raise web.HTTPBadRequest(text='{"ok": false, "error": "JSON body expected"}',
                                     content_type="application/json") from None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text='{"ok": false, "error": "JSON object expected"}',
                                     content_type="application/json")
        return body

    async def h_add_user(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user = self.add_user(str(body.get("first_name") or ""))
        return web.json_response({"ok": True, "user": self.user_json(user), "users": self._state()["users"]})

    async def h_chat(self, request: web.Request) -> web.Response:
        return web.json_response(self.chat_json(self._user_of(request)))

    async def h_text(self, request: web.Request) -> web.Response:
        user = self._user_of(request)
        body = await self._body(request)
        text = str(body.get("text") or "")
        if not text.strip():
            return _json_error(400, "empty message")
        msg = await user.send_text(text[:4096])
        return web.json_response({"ok": True, "message": msg.to_json()})

    async def h_start(self, request: web.Request) -> web.Response:
        """A t.me deep link opened by this user: the client sends ``/start <payload>``."""
        user = self._user_of(request)
        body = await self._body(request)
        payload = str(body.get("payload") or "")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", payload):
            return _json_error(400, "a start payload is 1-64 characters A-Z a-z 0-9 _ -")
        msg = await user.open_deep_link(payload)
        return web.json_response({"ok": True, "message": msg.to_json()})

    async def h_press(self, request: web.Request) -> web.Response:
        user = self._user_of(request)
        body = await self._body(request)
        try:
            query = await user.press(None, int(body["message_id"]), data=str(body["data"]))
        except (KeyError, ValueError, TypeError):
            return _json_error(400, "message_id and data expected")
        except LookupError as exc:
            return _json_error(404, str(exc).splitlines()[0])
        return web.json_response({"ok": True, "callback_query_id": query.id})

    async def h_upload(self, request: web.Request) -> web.Response:
        """multipart: ``file`` (the bytes), ``as`` = photo | document, optional ``caption``."""
        user = self._user_of(request)
        if request.content_length and request.content_length > MAX_UPLOAD + 64 * 1024:
            return _json_error(413, "files up to 20 MB")
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return _json_error(400, "multipart field 'file' expected")
        data = upload.file.read()
        if len(data) > MAX_UPLOAD:
            return _json_error(413, "files up to 20 MB")
        caption = str(form.get("caption") or "") or None
        if str(form.get("as") or "photo") == "document":
            msg = await user.send_document(data, upload.filename or "file", upload.content_type or None,
                                           caption=caption)
        else:
            try:
                msg = await user.send_photo(data, caption=caption)
            except ValueError as exc:
                return _json_error(400, str(exc))
        return web.json_response({"ok": True, "message": msg.to_json()})

    async def h_instructor(self, request: web.Request) -> web.Response:
        """What the operator's ``ecg-bot grant-instructor`` / ``revoke-instructor EMAIL`` do, in-process
        (a second process must not open the sandbox's embedded database)."""
        from accounts.errors import UnknownEmail

        body = await self._body(request)
        email, grant = str(body.get("email") or "").strip(), bool(body.get("grant", True))
        if not email:
            return _json_error(400, "email expected")
        try:
            user = await self.runtime.services.accounts.grant_instructor(email, grant)
        except UnknownEmail:
            return _json_error(404, f"no account with the email {email}")
        return web.json_response({"ok": True, "email": user.email, "username": user.username,
                                  "is_instructor": grant})

    async def h_mail(self, request: web.Request) -> web.Response:
        mails = await asyncio.to_thread(self.mail_json)
        return web.json_response({"mailbox": self.outbox is not None, "mails": mails})

    async def h_file(self, request: web.Request) -> web.StreamResponse:
        rec = self.emulator.core.files.get(request.match_info["file_id"])
        if rec is None:
            raise web.HTTPNotFound()
        headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
        mime = rec.mime_type or "application/octet-stream"
        if not mime.startswith("image/"):
            name = (rec.file_name or "file").replace('"', "")
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return web.Response(body=rec.data, content_type=mime, headers=headers)

    async def h_ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=25)
        await ws.prepare(request)
        queue: asyncio.Queue = asyncio.Queue()
        queue.put_nowait(json.dumps({"type": "hello", "state": self._state()}))
        self._sockets[ws] = queue

        async def writer() -> None:
            while True:
                await ws.send_str(await queue.get())

        sender = asyncio.create_task(writer())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and msg.data == "ping":
                    queue.put_nowait('{"type": "pong"}')
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self._sockets.pop(ws, None)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender
        return ws


async def start_sandbox(settings: Settings, host: str = "127.0.0.1", port: int = 8080,
                        *, poll_timeout: float = 10, warm_model: bool = False) -> Sandbox:
    """Starts the emulator (web page included), the bot with its embedded database/outbox, and
    returns the running :class:`Sandbox` (``.url``, ``.emulator``, ``.runtime``, ``await .stop()``).
    ``warm_model`` loads the diagnosis model in the background at start (``ecg-bot sandbox`` does;
    tests don't)."""
    sandbox = Sandbox(settings, poll_timeout=poll_timeout, warm_model=warm_model)
    await sandbox.start(host, port)
    return sandbox
