"""SmtpMailer against real aiosmtpd servers: delivery, retry with back-off, MailNotSent; and what the service
keeps when mail fails."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from accounts import passwords
from accounts.errors import MailNotSent
from accounts.mailer import SmtpMailer
from accounts.models import Role
from accounts.service import AccountService
from bot.config import Settings
from bot.embedded import free_port, message_html, message_text
from storage.mongo import from_ms

try:
    from tests._accounts_fixtures import (  # noqa: F401
        JWT_SECRET, STRONG, cheap_argon2, clock, db, deep_link, nx_uri, outbox, token_from_mail,
    )
except ImportError:
    from _accounts_fixtures import (  # noqa: F401
        JWT_SECRET, STRONG, cheap_argon2, clock, db, deep_link, nx_uri, outbox, token_from_mail,
    )


class FlakyHandler:
    """Answers `reply` to RCPT for the first `failures` transactions, then accepts."""

    def __init__(self, failures: int, reply: str = "451 4.3.0 try again later") -> None:
        self.failures = failures
        self.reply = reply
        self.attempts = 0
        self.delivered: list[bytes] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.attempts += 1
        if self.attempts <= self.failures:
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.delivered.append(envelope.original_content)
        return "250 accepted"


@pytest.fixture
def flaky_server():
    started = []

    def make(failures: int, reply: str = "451 4.3.0 try again later"):
        handler = FlakyHandler(failures, reply)
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        started.append(controller)
        return handler, controller.port

    yield make
    for controller in started:
        controller.stop()


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


async def test_delivers_text_and_html(outbox):
    mailer = SmtpMailer(outbox.host, outbox.port, starttls=False, mail_from="ECG <bot@ecg.test>")
    await mailer.send("dest@example.com", "Subject ✓", "plain body", "<p>html body</p>")
    msg = await outbox.wait_for_message("dest@example.com", timeout=5)
    assert msg["Subject"] == "Subject ✓" and msg["From"] == "ECG <bot@ecg.test>"
    assert message_text(msg).strip() == "plain body"
    assert message_html(msg).strip() == "<p>html body</p>"
    assert msg["Message-ID"] and msg["Date"]


async def test_retries_temporary_failures_then_succeeds(flaky_server):
    handler, port = flaky_server(2)
    sleeps = Sleeps()
    mailer = SmtpMailer("127.0.0.1", port, starttls=False, retries=3, backoff=0.5, sleep=sleeps)
    await mailer.send("dest@example.com", "s", "t", "<p>h</p>")
    assert handler.attempts == 3 and len(handler.delivered) == 1
    assert sleeps.calls == [0.5, 1.0]  # exponential back-off


async def test_gives_up_with_mail_not_sent(flaky_server):
    handler, port = flaky_server(100)
    sleeps = Sleeps()
    mailer = SmtpMailer("127.0.0.1", port, starttls=False, retries=3, backoff=0.5, sleep=sleeps)
    with pytest.raises(MailNotSent):
        await mailer.send("dest@example.com", "s", "t", "<p>h</p>")
    assert handler.attempts == 4 and sleeps.calls == [0.5, 1.0, 2.0]


async def test_permanent_refusal_is_not_retried(flaky_server):
    handler, port = flaky_server(100, "550 5.1.1 no such user")
    sleeps = Sleeps()
    mailer = SmtpMailer("127.0.0.1", port, starttls=False, retries=3, sleep=sleeps)
    with pytest.raises(MailNotSent):
        await mailer.send("dest@example.com", "s", "t", "<p>h</p>")
    assert handler.attempts == 1 and sleeps.calls == []


async def test_unreachable_server():
    sleeps = Sleeps()
    mailer = SmtpMailer("127.0.0.1", free_port(), starttls=False, timeout=2, retries=2, backoff=0.1, sleep=sleeps)
    with pytest.raises(MailNotSent):
        await mailer.send("dest@example.com", "s", "t", "<p>h</p>")
    assert sleeps.calls == [0.1, 0.2]


def test_from_settings():
    settings = Settings(smtp_host="smtp.example.com", smtp_port=2525, smtp_username="u", smtp_password="pw",
                        smtp_starttls=True, mail_from="X <x@example.com>")
    mailer = SmtpMailer.from_settings(settings)
    assert (mailer.host, mailer.port, mailer.username, mailer.starttls) == ("smtp.example.com", 2525, "u", True)
    assert "pw" not in repr(mailer)
    local = SmtpMailer.from_settings(settings, host_override="127.0.0.1", port_override=1025)
    assert (local.host, local.port, local.username, local.starttls) == ("127.0.0.1", 1025, None, False)
    with pytest.raises(ValueError):
        SmtpMailer.from_settings(Settings())


def dead_mailer() -> SmtpMailer:
    return SmtpMailer("127.0.0.1", free_port(), starttls=False, timeout=2, retries=1, backoff=0.01)


def working_mailer(outbox) -> SmtpMailer:
    return SmtpMailer(outbox.host, outbox.port, starttls=False, retries=0)


async def test_smtp_down_during_registration_then_restart_then_smtp_up_the_mail_arrives_once(db, outbox, clock):
    """The outbox: registering while SMTP is down queues the mail; a new process (a restart) with SMTP
    back sends it, once."""
    failing = AccountService(db, dead_mailer(), clock, JWT_SECRET, deep_link, send_at_once=True)
    await failing.register("alice", "alice@example.com", passwords.hash_password(STRONG), Role.STUDENT, 1)
    assert await failing.email_taken("alice@example.com")
    assert await failing.deliver_mail() == 0  # not due yet: backing off
    assert (await failing.outbox.counts())["queued"] == 1
    clock.advance(timedelta(minutes=5))
    restarted = AccountService(db, working_mailer(outbox), clock, JWT_SECRET, deep_link)
    assert await restarted.deliver_mail() == 1
    assert await restarted.deliver_mail() == 0
    assert len(outbox.messages_to("alice@example.com")) == 1
    assert (await restarted.activate(token_from_mail(outbox, "alice@example.com"))).is_active
    assert await restarted.outbox.counts() == {"queued": 0, "sent": 1, "failed": 0}


async def test_outbox_backs_off_gives_up_and_prunes(db, outbox, clock):
    from accounts import outbox as outbox_module

    failing = AccountService(db, dead_mailer(), clock, JWT_SECRET, deep_link)
    await failing.register("alice", "alice@example.com", passwords.hash_password(STRONG), Role.STUDENT, 1)
    waits = []
    for _ in range(outbox_module.MAX_ATTEMPTS):
        doc = await db["mail_outbox"].find_one({})
        assert doc["state"] == "queued"
        clock.set(from_ms(doc["next_try_at"]))
        waits.append(doc["next_try_at"])
        assert await failing.deliver_mail() == 0
    doc = await db["mail_outbox"].find_one({})
    assert doc["state"] == "failed" and doc["attempts"] == outbox_module.MAX_ATTEMPTS
    gaps = [b - a for a, b in zip(waits[1:], waits[2:])]
    assert gaps == sorted(gaps) and gaps[-1] == outbox_module.BACKOFF_MAX.total_seconds() * 1000
    assert await failing.outbox.prune() == 0
    clock.advance(outbox_module.KEEP)
    assert await failing.outbox.prune() == 1


async def test_two_senders_never_send_one_mail_twice(db, outbox, clock):
    a = AccountService(db, working_mailer(outbox), clock, JWT_SECRET, deep_link)
    b = AccountService(db, working_mailer(outbox), clock, JWT_SECRET, deep_link)
    for k in range(6):
        await a.register(f"user{k}", f"user{k}@example.com", passwords.hash_password(STRONG), Role.STUDENT, k)
    sent = await asyncio.gather(a.deliver_mail(), b.deliver_mail(), a.deliver_mail())
    assert sum(sent) == 6
    assert len(outbox.messages()) == 6


async def test_the_sender_stops_when_cancelled_as_new_mail_wakes_it(db, outbox, clock):
    """Shutdown while a mail is being queued: the wake-up and the cancellation land together. The sender
    must end (on Python 3.11 `asyncio.wait_for` swallowed that cancellation and the bot's stop hung)."""
    service = AccountService(db, working_mailer(outbox), clock, JWT_SECRET, deep_link)
    for _ in range(5):
        sender = asyncio.create_task(service.outbox.run(working_mailer(outbox), poll_seconds=60))
        await asyncio.sleep(0.2)  # delivered what was due; now waiting for new mail
        service.outbox._wake.set()
        sender.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(sender, 5)


async def test_the_sender_stops_when_a_cancellation_comes_back_as_a_database_error(db, outbox, clock, monkeypatch):
    """A cancellation that reaches the database driver mid-call can come back as its error (caught and
    logged as 'database unavailable'); the sender must still end, not wait for the next mail forever
    (the bot's stop hung on this in about 1 of 20 runs of the abuse tests)."""
    from storage.mongo import StorageUnavailable

    service = AccountService(db, working_mailer(outbox), clock, JWT_SECRET, deep_link)
    calls = []

    async def deliver_due(mailer):
        calls.append(1)
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise StorageUnavailable("AutoReconnect") from None
        return 0

    monkeypatch.setattr(service.outbox, "deliver_due", deliver_due)
    sender = asyncio.create_task(service.outbox.run(working_mailer(outbox), poll_seconds=60))
    await asyncio.sleep(0.2)
    assert calls == [1]  # in the middle of a delivery round
    sender.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(sender, 5)
