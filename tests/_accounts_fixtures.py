"""Fixtures shared by the accounts tests: one real nx-27017 per test module, a fresh database per test,
a real aiosmtpd outbox, cheap argon2 parameters. Import with `from _accounts_fixtures import *`-style
explicit names (see the test modules)."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import pytest_asyncio

from accounts import passwords
from accounts.clock import ManualClock
from accounts.mailer import SmtpMailer
from accounts.service import AccountService
from storage.accounts import ensure_indexes
from storage.mongo import connect
from bot.embedded import EmbeddedOutbox, free_port, message_text, nx_27017_command

JWT_SECRET = "test-secret-0123456789abcdef0123456789abcdef"
DEEP_LINK_PREFIX = "https://t.me/ecg_test_bot?start="
STRONG = "Str0ng!pass"


def deep_link(payload: str) -> str:
    return DEEP_LINK_PREFIX + payload


def start_nx(data_dir: Path, timeout: float = 20.0) -> tuple[subprocess.Popen, str]:
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    out = open(data_dir / "nx.out", "ab")
    proc = subprocess.Popen(
        nx_27017_command()
        + ["--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port),
           "--log-file", str(data_dir / "nx.log"), "--pid-file", str(data_dir / "nx.pid")],
        stdout=out, stderr=out, stdin=subprocess.DEVNULL, cwd=str(data_dir),
    )
    out.close()
    uri = f"mongodb://127.0.0.1:{port}/"
    client = MongoClient(uri, serverSelectionTimeoutMS=300, connectTimeoutMS=300)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"nx-27017 exited: {(data_dir / 'nx.out').read_text()[-2000:]}")
            try:
                client.admin.command("ping")
                return proc, uri
            except PyMongoError:
                if time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError("nx-27017 did not answer in time")
                time.sleep(0.1)
    finally:
        client.close()


def stop_nx(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def nx_uri(tmp_path_factory):
    proc, uri = start_nx(tmp_path_factory.mktemp("nx"))
    yield uri
    stop_nx(proc)


@pytest.fixture(scope="module", autouse=True)
def cheap_argon2():
    passwords.configure(time_cost=1, memory_cost=8, parallelism=1)
    yield
    passwords.reset_defaults()


@pytest_asyncio.fixture
async def db(nx_uri):
    client = connect(nx_uri)
    database = client[f"t_{uuid.uuid4().hex[:12]}"]
    await ensure_indexes(database)
    yield database
    await client.close()


@pytest.fixture
def outbox(tmp_path):
    box = EmbeddedOutbox(tmp_path / "outbox")
    box.start_sync()
    yield box
    box.stop_sync()


@pytest.fixture
def clock():
    from datetime import datetime, timezone

    return ManualClock(datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc))


@pytest.fixture
def service(db, outbox, clock):
    host, port = outbox.host, outbox.port
    mailer = SmtpMailer(host, port, starttls=False, timeout=5, retries=0, backoff=0.01)
    return AccountService(db, mailer, clock, JWT_SECRET, deep_link, send_at_once=True)


def last_text(outbox: EmbeddedOutbox, to: str) -> str:
    msgs = outbox.messages_to(to)
    assert msgs, f"no mail to {to}"
    return message_text(msgs[-1])


def token_from_mail(outbox: EmbeddedOutbox, to: str) -> str:
    match = re.search(re.escape(DEEP_LINK_PREFIX) + r"([A-Za-z0-9_-]+)", last_text(outbox, to))
    assert match, "no activation link in the mail"
    return match.group(1)


def code_from_mail(outbox: EmbeddedOutbox, to: str) -> str:
    match = re.search(r"\b(\d{6})\b", last_text(outbox, to))
    assert match, "no reset code in the mail"
    return match.group(1)
