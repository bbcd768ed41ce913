"""Restarts, expiry while the bot was down, mail and database failures — nothing a user did is lost."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from conftest import LINK_RE, STRONG_PASSWORD, BotHarness
from bot.embedded import EmbeddedMongo, EmbeddedOutbox, message_text
from handlers import texts


async def test_bot_killed_mid_registration_resumes_at_the_same_question(harness):
    alice = harness.user(1001)
    await alice.send_text("/register")
    await alice.wait_for_text("username")
    await alice.send_text("alice")
    await alice.wait_for_text("email")
    await alice.send_text("alice@example.com")
    await alice.wait_for_text("password")

    # Written through to MongoDB as soon as the answer was handled — what a SIGKILL would leave.
    await harness.settled()
    conversation = await harness.db["ptb_conversations"].find_one({"name": "register"})
    draft = await harness.db["ptb_user_data"].find_one({"owner_id": 1001})
    assert conversation["key"] == [1001, 1001]
    assert draft["data"]["registration"] == {"username": "alice", "email": "alice@example.com"}

    await harness.restart_bot()
    await alice.send_text(STRONG_PASSWORD)  # the answer to the question asked before the restart
    assert "confirm" in (await alice.wait_for()).text
    await alice.send_text(STRONG_PASSWORD)
    await alice.wait_for_text("medical student or a healthcare professional")
    await alice.press("Medical student")
    await alice.wait_for_text("Account created for alice")


async def test_open_sessions_are_rescheduled_after_a_restart(harness):
    alice = harness.user(1001)
    await harness.signed_up(alice)
    await harness.restart_bot()
    jobs = [j for j in harness.application.job_queue.jobs() if j.name.startswith("session-expiry:")]
    assert len(jobs) == 1
    await alice.send_text("/me")
    assert "alice" in (await alice.wait_for()).text
    await harness.advance(hours=24, seconds=1)
    assert (await alice.wait_for()).raw_text == texts.SESSION_EXPIRED


async def test_sessions_that_expired_while_the_bot_was_down_are_ended_and_told(harness):
    alice, bob = harness.user(1001), harness.user(1002, "Bob")
    await harness.signed_up(alice)
    await harness.signed_up(bob, username="bob", email="bob@example.com")
    await harness.stop_bot()
    harness.clock.advance(timedelta(hours=30))
    await harness.start_bot()
    assert (await alice.wait_for()).raw_text == texts.SESSION_EXPIRED
    assert (await bob.wait_for()).raw_text == texts.SESSION_EXPIRED
    await harness.restart_bot()  # told once, not at every start
    await alice.expect_silence(0.3)
    await alice.send_text("/me")
    assert (await alice.wait_for()).raw_text == texts.PLEASE_LOGIN


async def test_mail_server_down_keeps_the_account_and_resend_works_later(harness):
    alice = harness.user(1001)
    port = harness.outbox.port
    await harness.outbox.stop()
    await alice.send_text("/register")
    await alice.wait_for_text("username")
    for answer in ("alice", "alice@example.com", STRONG_PASSWORD, STRONG_PASSWORD):
        await alice.send_text(answer)
        await alice.wait_for()
    await alice.press("Medical student")
    assert "Account created" in (await alice.wait_for(timeout=30)).text  # the mail waits in the outbox
    harness.outbox = EmbeddedOutbox(harness.tmp_path / "outbox2", port=port)
    await harness.outbox.start()
    await alice.send_text("/resend")
    assert "fresh activation link" in (await alice.wait_for()).text
    harness.clock.advance(timedelta(minutes=5))  # the first mail, backing off, is due again: both arrive
    await harness.mail_to("alice@example.com", count=2)
    # the /resend link works (the first one was replaced), whichever of the two arrived last
    tokens = [LINK_RE.search(message_text(m)).group(2) for m in harness.outbox.messages_to("alice@example.com")]
    answers = []
    for token in tokens:
        await alice.open_deep_link(token)
        answers.append((await alice.wait_for()).text)
    assert sum("is active" in a for a in answers) == 1, answers
    await harness.login(alice)


async def test_database_down_gets_a_clear_message_and_nothing_is_lost(tmp_path, cheap_hashing):
    mongo = EmbeddedMongo(tmp_path / "mongo")
    uri = await mongo.start()
    harness = BotHarness(tmp_path, f"{uri.rstrip('/')}/down_{uuid.uuid4().hex[:8]}")
    await harness.start()
    try:
        alice = harness.user(1001)
        await harness.signed_up(alice)
        await mongo.stop()
        await alice.send_text("/me")
        assert (await alice.wait_for(timeout=30)).raw_text == texts.DATABASE_DOWN
        mongo = EmbeddedMongo(tmp_path / "mongo", port=mongo.port)
        await mongo.start()
        await alice.send_text("/me")  # same session, same account: nothing lost
        assert "alice" in (await alice.wait_for(timeout=30)).text
    finally:
        await harness.stop()
        await mongo.stop()
