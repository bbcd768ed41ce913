"""Shared fixtures: the real bot, running unmodified against real parts.

- a real `nx-27017` MongoDB-protocol server (one per test session, a fresh database per test),
- a real aiosmtpd server catching the mail (`EmbeddedOutbox`),
- the Bot API emulator (a real HTTP server) where tests play the users,
- `BotRuntime`, the exact object `ecg-bot run` starts, with a `ManualClock` so 24 hours pass in a
  line of code instead of a sleep.
"""

from __future__ import annotations

import asyncio

import re
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import pytest_asyncio

from _accounts_fixtures import start_nx, stop_nx
from accounts import passwords
from accounts.clock import ManualClock
from bot.app import BotRuntime
from bot.telegram_limits import RELAXED
from storage.limits import Rate
from bot.config import Settings
from bot.embedded import EmbeddedOutbox, free_port, message_text
from bot.emulator import BotAPIEmulator, SimUser
from bot.sandbox.server import start_sandbox
from handlers.jobs import EXPIRY_JOB_PREFIX

STRONG_PASSWORD = "Str0ng!pass"
LINK_RE = re.compile(r"https://t\.me/(\w+)\?start=([A-Za-z0-9_-]+)")
CODE_RE = re.compile(r"\b(\d{6})\b")


@pytest.fixture(scope="session")
def nx_server(tmp_path_factory):
    proc, uri = start_nx(tmp_path_factory.mktemp("nx-e2e"))
    yield uri
    stop_nx(proc)


class BotHarness:
    """One bot with its emulator, mail outbox, database and clock; restartable."""

    def __init__(self, tmp_path: Path, mongo_uri: str) -> None:
        self.tmp_path = tmp_path
        self.mongo_uri = mongo_uri
        self.clock = ManualClock(datetime.now(timezone.utc).replace(microsecond=0))
        self.emulator = BotAPIEmulator()
        self.outbox = EmbeddedOutbox(tmp_path / "outbox")
        self.runtime: BotRuntime | None = None
        self.settings: Settings | None = None
        # Telegram's limits and the per-user message rate are tested on their own (test_bot_limits.py);
        # elsewhere tests type faster than anyone could
        self.telegram_limits = RELAXED
        self.message_rate = Rate(capacity=10_000, per_second=10_000)

    async def start(self) -> None:
        url = await self.emulator.start()
        host, port = await self.outbox.start()
        self.settings = Settings(
            telegram_bot_token=self.emulator.token,
            telegram_api_url=url,
            mongodb_uri=self.mongo_uri,
            smtp_host=host,
            smtp_port=port,
            smtp_starttls=False,
            jwt_secret="e2e-secret-0123456789abcdef0123456789abcdef",
            data_dir=self.tmp_path / "data",
        )
        await self.start_bot()

    async def start_bot(self) -> None:
        self.runtime = BotRuntime(self.settings, clock=self.clock, poll_timeout=1,
                                  telegram_limits=self.telegram_limits, message_rate=self.message_rate)
        await self.runtime.start()

    async def stop_bot(self) -> None:
        if self.runtime is not None:
            await self.runtime.stop()
            self.runtime = None

    async def restart_bot(self) -> None:
        await self.stop_bot()
        await self.start_bot()

    async def stop(self) -> None:
        await self.stop_bot()
        await self.outbox.stop()
        await self.emulator.stop()

    @property
    def application(self):
        return self.runtime.application

    @property
    def db(self):
        return self.runtime.db

    async def settled(self, timeout: float = 10.0) -> None:
        """Wait until every update the bot has fetched is fully handled — including the
        write-through to MongoDB, which runs after the reply has already reached the chat."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        app = self.application
        while not app.update_queue.empty() or app.update_processor.current_concurrent_updates:
            if loop.time() > deadline:
                raise AssertionError("the bot did not finish handling its updates in time")
            await asyncio.sleep(0.02)

    def user(self, user_id: int, first_name: str = "Alice") -> SimUser:
        return self.emulator.user(user_id, first_name=first_name)

    # --- time ---------------------------------------------------------------------------------
    async def advance(self, **delta) -> None:
        """Move the clock forward and fire every session-expiry job that is now due, as
        APScheduler would at that moment."""
        from datetime import timedelta

        self.clock.advance(timedelta(**delta))
        for job in self.application.job_queue.jobs():
            if job.name and job.name.startswith(EXPIRY_JOB_PREFIX) and job.next_t and job.next_t <= self.clock.now():
                job.schedule_removal()
                await job.run(self.application)

    # --- mail ---------------------------------------------------------------------------------
    async def mail_to(self, address: str, count: int = 1):
        # a wait, not a timing check: under a loaded CI (50 sign-ups at once) the mail sender's
        # lease loop can take well over 10 s to reach the last message
        return await self.outbox.wait_for_message(address, timeout=45, count=count)

    async def activation_token(self, address: str, count: int = 1) -> str:
        message = await self.mail_to(address, count)
        match = LINK_RE.search(message_text(message))
        assert match, f"no activation link in: {message_text(message)}"
        assert match.group(1) == self.emulator.bot_username
        return match.group(2)

    async def reset_code(self, address: str, count: int = 1) -> str:
        message = await self.mail_to(address, count)
        match = CODE_RE.search(message_text(message))
        assert match, "no 6-digit code in the reset mail"
        return match.group(1)

    # --- whole flows used as steps by many tests ----------------------------------------------
    async def register(
        self,
        user: SimUser,
        username: str = "alice",
        email: str = "alice@example.com",
        password: str = STRONG_PASSWORD,
        role: str = "Medical student",
    ) -> None:
        await user.send_text("/register")
        await user.wait_for_text("username")
        await user.send_text(username)
        await user.wait_for_text("email")
        await user.send_text(email)
        await user.wait_for_text("password")
        await user.send_text(password)
        await user.wait_for_text("confirm")
        await user.send_text(password)
        await user.wait_for_text("medical student or a healthcare professional")
        await user.press(role)
        await user.wait_for_text("Account created")

    async def activate(self, user: SimUser, email: str = "alice@example.com", count: int = 1) -> None:
        token = await self.activation_token(email, count)
        await user.open_deep_link(token)
        await user.wait_for_text("is active")

    async def login(self, user: SimUser, email: str = "alice@example.com", password: str = STRONG_PASSWORD) -> None:
        await user.send_text("/login")
        await user.wait_for_text("email")
        await user.send_text(email)
        await user.wait_for_text("password")
        await user.send_text(password)
        await user.wait_for_text("Welcome")

    async def signed_up(self, user: SimUser, role: str = "Medical student", **kwargs) -> None:
        """Register, activate and log in."""
        email = kwargs.get("email", "alice@example.com")
        await self.register(user, role=role, **kwargs)
        await self.activate(user, email)
        await self.login(user, email, kwargs.get("password", STRONG_PASSWORD))


@pytest.fixture
def cheap_hashing():
    """argon2id with minimal cost: the tests exercise the flow, not the KDF's strength."""
    passwords.configure(time_cost=1, memory_cost=8, parallelism=1)
    yield
    passwords.reset_defaults()


@pytest_asyncio.fixture
async def harness(tmp_path, nx_server, cheap_hashing):
    h = BotHarness(tmp_path, f"{nx_server.rstrip('/')}/e2e_{uuid.uuid4().hex[:12]}")
    await h.start()
    try:
        yield h
    finally:
        await h.stop()


@pytest_asyncio.fixture
async def sandbox(tmp_path, cheap_hashing):
    """`ecg-bot sandbox` in-process on a free port, with its embedded database and outbox."""
    settings = Settings(data_dir=tmp_path / "data", jwt_secret="sandbox-test-" + uuid.uuid4().hex)
    sb = await start_sandbox(settings, "127.0.0.1", free_port(), poll_timeout=1)
    try:
        yield sb
    finally:
        await sb.stop()
