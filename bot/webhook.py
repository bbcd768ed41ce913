"""Webhook mode: Telegram POSTs each update to WEBHOOK_URL (through a load balancer) instead of the bot
polling `getUpdates`. This follows PTB's custom-webhook example: our own web server (aiohttp, already the
emulator's and the sandbox's) receives the update and puts it on the application's `update_queue`; PTB
does the rest exactly as with polling (per-chat order, persistence).

Routes (every bot process serves them, leader or standby):

- `POST <path of WEBHOOK_URL>`: Telegram's `X-Telegram-Bot-Api-Secret-Token` header must equal
  WEBHOOK_SECRET (compared in constant time), else 403 and the update is dropped. A standby answers 503, so
  Telegram retries and the load balancer's next try reaches the leader.
- `GET /healthz`: 200 while the process is alive.
- `GET /readyz`: 200 when this process is the leader and the database (and the broker, with workers)
  answer; else 503 — the load balancer sends Telegram's requests to the ready one. The body says why.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookServer:
    def __init__(self, *, url: str, secret: str, listen: str, port: int,
                 application: Callable[[], Application | None], checks: dict[str, Callable[[], Awaitable[bool]]]) -> None:
        if not secret:
            raise ValueError("WEBHOOK_SECRET is required with WEBHOOK_URL")
        self.url = url
        self.path = urlsplit(url).path or "/"
        self.secret = secret
        self.listen = listen
        self.port = port
        self._application = application  # the running application when this process leads, else None
        self.checks = checks  # name -> coroutine: reachable?
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(self.path, self.receive)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.listen, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1] if self.port == 0 else self.port
        log.info("webhook server on %s:%d (path %s)", self.listen, self.port, self.path)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _leading(self) -> Application | None:
        app = self._application()
        return app if app is not None and app.running else None

    async def receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            log.warning("webhook request without the right secret token refused")
            return web.Response(status=403, text="forbidden")
        app = self._leading()
        if app is None:
            return web.Response(status=503, text="standby")
        try:
            update = Update.de_json(await request.json(), app.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400, text="not an update")
        await app.update_queue.put(update)
        return web.Response(text="ok")

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(self, request: web.Request) -> web.Response:
        status = {"leader": self._leading() is not None}
        for name, check in self.checks.items():
            try:
                status[name] = bool(await asyncio.wait_for(check(), 5))
            except Exception:
                status[name] = False
        ready = all(status.values())
        return web.Response(status=200 if ready else 503, text=json.dumps(status), content_type="application/json")
