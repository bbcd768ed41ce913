"""The HTTP face of the emulator: Telegram's Bot API URL layout on an aiohttp server."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Callable

from aiohttp import web

from .core import BotRecord, EmulatorCore, UploadedFile
from .errors import ApiError
from .models import Event
from .users import SimUser

log = logging.getLogger(__name__)

CORE_KEY: web.AppKey[EmulatorCore] = web.AppKey("bot_api_emulator_core", EmulatorCore)
MAX_REQUEST = 64 * 1024 * 1024


def _error(exc: ApiError) -> web.Response:
    return web.json_response(exc.to_dict(), status=exc.error_code)


async def _read_params(request: web.Request) -> tuple[dict, dict]:
    params: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.method not in ("POST", "PUT") or not request.body_exists:
        return params, files
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON object") from None
        if not isinstance(body, dict):
            raise ApiError(400, "Bad Request: JSON object expected")
        params.update(body)
        return params, files
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, web.FileField):
            files[name] = UploadedFile(value.filename, value.content_type, value.file.read())
        else:
            params[name] = value
    return params, files


async def handle_api(request: web.Request) -> web.Response:
    core = request.app[CORE_KEY]
    token, method = request.match_info["token"], request.match_info["method"]
    try:
        core.get_bot(token)
        params, files = await _read_params(request)
        result = await core.call(token, method, params, files)
    except ApiError as exc:
        return _error(exc)
    except web.HTTPRequestEntityTooLarge:
        return _error(ApiError(413, "Request Entity Too Large"))
    except Exception as exc:  # an emulator bug: say so in Telegram's shape instead of an HTML page
        log.exception("emulator failed on %s", method)
        return _error(ApiError(500, f"Internal Server Error: emulator bug: {exc!r}"))
    return web.json_response({"ok": True, "result": result})


async def handle_file(request: web.Request) -> web.StreamResponse:
    core = request.app[CORE_KEY]
    try:
        rec = core.download(request.match_info["token"], request.match_info["path"])
    except ApiError as exc:
        return _error(exc)
    return web.Response(body=rec.data, content_type=rec.mime_type or "application/octet-stream")


async def handle_not_found(request: web.Request) -> web.Response:
    return _error(ApiError(404, "Not Found"))


def create_app(core: EmulatorCore) -> web.Application:
    """The aiohttp application serving ``/bot<token>/<method>`` and ``/file/bot<token>/<path>``.
    The sandbox adds its own routes (web page, WebSocket) to the same application."""
    app = web.Application(client_max_size=MAX_REQUEST)
    app[CORE_KEY] = core
    app.router.add_route("*", "/bot{token}/{method}", handle_api)
    app.router.add_get("/file/bot{token}/{path:.+}", handle_file)
    return app


class BotAPIEmulator:
    """A Telegram Bot API server on loopback that tests (and the sandbox) drive as users.

    >>> async with BotAPIEmulator() as emu:           # doctest: +SKIP
    ...     bot = telegram.Bot(emu.token, **emu.ptb_urls())
    ...     alice = emu.user(1001, "Alice")
    ...     await alice.send_text("/start")
    ...     reply = await alice.wait_for_text("Welcome")
    """

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "ecg_analyzer_test_bot",
        *,
        bot_name: str = "ECG Analyzer",
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.core = EmulatorCore(clock=clock)
        self.default_bot: BotRecord = self.core.add_bot(token, bot_username, bot_name)
        self.app = create_app(self.core)
        self._runner: web.AppRunner | None = None
        self._users: dict[tuple[str, int], SimUser] = {}
        self.url: str | None = None

    # ------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Starts serving; returns the base URL (``TELEGRAM_API_URL``), e.g. ``http://127.0.0.1:41234``."""
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        self.core.closing = False
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self.url = f"http://{host if host not in ('0.0.0.0', '::') else '127.0.0.1'}:{bound_port}"
        return self.url

    async def stop(self) -> None:
        self.core.close()  # pending long polls return at once
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> "BotAPIEmulator":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # ------------------------------------------------------------ configuration
    @property
    def token(self) -> str:
        return self.default_bot.token

    @property
    def bot_username(self) -> str:
        return self.default_bot.username

    def ptb_urls(self) -> dict[str, str]:
        """``base_url``/``base_file_url`` keyword arguments for ``telegram.Bot`` / ApplicationBuilder."""
        if self.url is None:
            raise RuntimeError("start the emulator first")
        return {"base_url": f"{self.url}/bot", "base_file_url": f"{self.url}/file/bot"}

    def env(self) -> dict[str, str]:
        """Environment for the bot process/config: ``TELEGRAM_API_URL`` and ``TELEGRAM_BOT_TOKEN``."""
        if self.url is None:
            raise RuntimeError("start the emulator first")
        return {"TELEGRAM_API_URL": self.url, "TELEGRAM_BOT_TOKEN": self.token}

    def add_bot(self, token: str, username: str, first_name: str | None = None) -> BotRecord:
        """Registers another bot (token) on the same server."""
        return self.core.add_bot(token, username, first_name)

    def user(
        self,
        user_id: int,
        first_name: str = "Alice",
        username: str | None = None,
        language_code: str = "en",
        *,
        last_name: str | None = None,
        bot_token: str | None = None,
    ) -> SimUser:
        """The simulated user ``user_id`` in a private chat with the bot (same object on repeat calls)."""
        bot = self.core.get_bot(bot_token) if bot_token else self.default_bot
        key = (bot.token, user_id)
        if key not in self._users:
            record = self.core.ensure_user(user_id, first_name, username, language_code, last_name)
            self._users[key] = SimUser(self.core, bot, record)
        return self._users[key]

    # ------------------------------------------------------------ observation
    def subscribe(self) -> asyncio.Queue[Event]:
        return self.core.subscribe()

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self.core.unsubscribe(queue)

    def add_listener(self, callback: Callable[[Event], Any]) -> None:
        self.core.add_listener(callback)

    def remove_listener(self, callback: Callable[[Event], Any]) -> None:
        self.core.remove_listener(callback)

    def inject_error(self, method: str, error_code: int = 500, description: str = "Internal Server Error",
                     *, times: int = 1, retry_after: int | None = None) -> None:
        self.core.inject_error(method, error_code, description, times=times, retry_after=retry_after)

    @property
    def requests(self):
        """Every API call received (bot, method, params, time), newest last."""
        return self.core.requests

    def calls(self, method: str) -> list[dict]:
        """Parameters of every call of ``method`` (case-insensitive)."""
        return [r.params for r in self.core.requests if r.method.lower() == method.lower()]

    def commands(self, scope: dict | None = None, language_code: str = "", bot_token: str | None = None) -> list[dict]:
        """The command menu set with setMyCommands for this scope/language."""
        bot = self.core.get_bot(bot_token) if bot_token else self.default_bot
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return list(bot.commands.get(key, []))
