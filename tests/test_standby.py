"""Two real `ecg-bot run` processes against the Bot API emulator, one database: one leads (polls, runs the
jobs), the other waits; the leader killed with SIGKILL mid-conversation, the standby takes over within 15 s
and the conversation goes on at the same question."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest_asyncio

from _redis import RedisServer
from bot.embedded import EmbeddedOutbox
from bot.emulator import BotAPIEmulator
from bot.lease import Lease
from storage.mongo import connect

ROOT = Path(__file__).resolve().parents[1]


class BotProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_bytes().decode(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest_asyncio.fixture
async def cluster(tmp_path, nx_server):
    emulator, outbox = BotAPIEmulator(), EmbeddedOutbox(tmp_path / "outbox")
    url = await emulator.start()
    host, port = await outbox.start()
    redis = RedisServer(tmp_path / "redis").start()  # analyses on workers: the bot processes load no model
    uri = f"{nx_server.rstrip('/')}/standby_{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": emulator.token, "TELEGRAM_API_URL": url, "MONGODB_URI": uri,
           "SMTP_HOST": host, "SMTP_PORT": str(port), "SMTP_STARTTLS": "false",
           "JWT_SECRET": "standby-secret-0123456789abcdef0123456789abcdef", "ANALYSIS_BROKER_URL": redis.url,
           "BOT_LEASE_TTL": "10", "PYTHONUNBUFFERED": "1"}
    processes: list[BotProcess] = []

    def start(name: str) -> BotProcess:
        p = BotProcess({**env, "DATA_DIR": str(tmp_path / name)}, tmp_path / f"{name}.log")
        processes.append(p)
        return p

    client = connect(uri)
    yield emulator, start, Lease(client.get_default_database(), "observer")
    for p in processes:
        p.stop()
    await client.close()
    redis.stop()
    await outbox.stop()
    await emulator.stop()


async def holder_pid(lease: Lease) -> int | None:
    doc = await lease.current()
    return int(doc["holder"].split(":")[1]) if doc else None


async def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.2)
    return False


async def test_one_leader_polls_and_a_standby_takes_over_within_15_s_mid_conversation(cluster):
    emulator, start, lease = cluster
    first = start("first")

    async def first_leads():
        return await holder_pid(lease) == first.proc.pid and "is running (the leader)" in first.log()

    assert await wait_until(first_leads, 120), first.log()
    second = start("second")
    assert await wait_until(lambda: _async("holds the lease: this one is a standby" in second.log()), 120), second.log()
    alice = emulator.user(1001, first_name="Alice")
    await alice.send_text("/register")
    await alice.wait_for_text("username", timeout=30)
    await alice.send_text("alice")
    asked = await alice.wait_for(timeout=30)
    assert "email" in asked.text.lower()
    await asyncio.sleep(1)  # the leader's next poll confirms the update
    calls = [r.method for r in emulator.core.requests]
    assert calls.count("getMe") == 1 and calls.count("setMyCommands") == 1  # the standby never touched Telegram
    assert await holder_pid(lease) == first.proc.pid

    first.kill()
    killed = time.monotonic()
    await alice.send_text("alice@example.com")  # waits in Telegram until someone polls
    reply = await alice.wait_for(timeout=30)
    took = time.monotonic() - killed
    assert "password" in reply.text.lower(), reply.text  # the same conversation, the next question
    assert await holder_pid(lease) == second.proc.pid
    assert took <= 15, f"the standby answered {took:.1f} s after the leader died"
    print(f"standby answered {took:.1f} s after the leader was killed")
    await alice.expect_silence(2)  # asked once


async def _async(value):
    return value
