"""Issue 12, part B, end to end: no account enumeration, mail that is never lost, private chats only,
edits and other users' buttons, conversation timeouts, /password, and a DEBUG log without secrets."""

from __future__ import annotations

import asyncio
import io
import logging
import statistics
import time

from conftest import STRONG_PASSWORD
from handlers import texts
from handlers.steps import LAST_ANSWER


async def _answer(user, text):
    await user.send_text(text)
    return await user.wait_for()


async def _timed(user, text) -> tuple[str, float]:
    started = time.perf_counter()
    await user.send_text(text)
    reply = await user.wait_for()
    return reply.raw_text, time.perf_counter() - started


# --------------------------------------------------------------------------- enumeration
async def test_resend_and_forgot_answer_alike_and_in_the_same_time_for_known_and_unknown(harness):
    alice = harness.user(1001)
    await harness.register(alice)  # waiting for activation: /resend would mail her
    await harness.activate(alice)
    await harness.register(harness.user(1002, "Bob"), username="bob", email="bob@example.com")
    known, unknown = "bob@example.com", "zed@example.com"  # the same length
    times: dict[str, list[float]] = {known: [], unknown: []}
    for round_ in range(4):
        for address in (known, unknown):
            user = harness.user(2000 + round_ * 10 + (address == known), "Asker")
            # /resend ADDRESS
            text, took = await _timed(user, f"/resend {address}")
            assert text == texts.RESENT_IF_WAITING.format(email=address)
            times[address].append(took)
            # /forgot: the address step, then the code step, answered alike
            await user.send_text("/forgot")
            await user.wait_for_text("email")
            text, took = await _timed(user, address)
            assert text == texts.RESET_CODE_SENT.format(email=address)
            times[address].append(took)
            text, took = await _timed(user, "123456")
            assert text in (texts.RESET_CODE_INVALID.format(n=4), texts.RESET_CODE_EXPIRED)
            assert text == texts.RESET_CODE_INVALID.format(n=4) or text == texts.RESET_CODE_EXPIRED
            times[address].append(took)
            await user.send_text("/cancel")
            await user.wait_for_text("Cancelled")
    await harness.mail_to(known, count=2)  # the known address did get mail
    assert harness.outbox.messages_to(unknown) == []
    difference = abs(statistics.median(times[known]) - statistics.median(times[unknown]))
    assert difference < 0.1, times


# --------------------------------------------------------------------------- mail never lost
async def test_smtp_down_during_registration_restart_smtp_up_the_mail_arrives_once(harness):
    from bot.embedded import EmbeddedOutbox

    alice = harness.user(1001)
    port = harness.outbox.port
    await harness.outbox.stop()  # SMTP down
    await harness.register(alice)  # the user is told the link is on its way: it is, in the outbox
    await harness.settled()
    await harness.restart_bot()
    harness.outbox = EmbeddedOutbox(harness.tmp_path / "outbox2", port=port)
    await harness.outbox.start()  # SMTP up
    harness.clock.advance(__import__("datetime").timedelta(minutes=5))  # past the back-off
    await harness.activate(alice)
    await harness.login(alice)
    await asyncio.sleep(0.5)
    assert len(harness.outbox.messages_to("alice@example.com")) == 1


async def test_forgot_keeps_working_while_smtp_is_down(harness):
    alice = harness.user(1001)
    await harness.register(alice)
    await harness.activate(alice)
    port = harness.outbox.port
    await harness.outbox.stop()
    await alice.send_text("/forgot")
    await alice.wait_for_text("email")
    assert (await _answer(alice, "alice@example.com")).raw_text == texts.RESET_CODE_SENT.format(
        email="alice@example.com")
    from bot.embedded import EmbeddedOutbox

    harness.outbox = EmbeddedOutbox(harness.tmp_path / "outbox2", port=port)
    await harness.outbox.start()
    harness.clock.advance(__import__("datetime").timedelta(minutes=5))
    code = await harness.reset_code("alice@example.com")
    assert "new password" in (await _answer(alice, code)).text


# --------------------------------------------------------------------------- chats, edits, buttons
def _bot(harness):
    return harness.emulator.core.get_bot(harness.emulator.token)


async def test_groups_get_one_notice_and_nothing_else(harness):
    alice = harness.user(1001)
    await alice.send_text("/start")  # so she exists
    await alice.wait_for()
    core, bot = harness.emulator.core, _bot(harness)
    group = {"id": -100777, "type": "group", "title": "Ward 3"}
    for text in ("/register", "My password is Str0ng!pass"):
        core._enqueue(bot, "message", {"message_id": 1, "date": int(time.time()), "chat": group,
                                       "from": {"id": 1001, "is_bot": False, "first_name": "Alice"},
                                       "text": text})
        await asyncio.sleep(0.3)
        await harness.settled()
    sent = [c for c in harness.emulator.calls("sendMessage") if str(c.get("chat_id")) == "-100777"]
    assert [c["text"] for c in sent] == [texts.PRIVATE_ONLY]
    assert not await harness.db["ptb_conversations"].find_one({"name": "register"})


async def test_edited_messages_are_ignored_and_other_users_buttons_refused(harness):
    alice = harness.user(1001)
    await alice.send_text("/start")
    welcome = await alice.wait_for()
    core, bot = harness.emulator.core, _bot(harness)
    chat = {"id": 1001, "type": "private", "first_name": "Alice"}
    core._enqueue(bot, "edited_message", {"message_id": 1, "date": int(time.time()), "edit_date": int(time.time()),
                                          "chat": chat, "from": {"id": 1001, "is_bot": False, "first_name": "Alice"},
                                          "text": "/register"})
    await alice.expect_silence(0.5)
    # Mallory's client sends a button press on a message of Alice's chat
    await harness.register(alice)
    question = [m for m in alice.bot_messages() if m.reply_markup][-1] if any(
        m.reply_markup for m in alice.bot_messages()) else welcome
    from bot.emulator.models import CallbackQueryRecord

    query = CallbackQueryRecord(id="424242", chat_id=1001, message_id=question.message_id, data="role:medical_student",
                                user_id=1003, time=time.time())
    bot.callback_queries[query.id] = query
    core._enqueue(bot, "callback_query", {
        "id": query.id, "from": {"id": 1003, "is_bot": False, "first_name": "Mallory"},
        "message": question.to_api({"id": 1001, "type": "private", "first_name": "Alice"}),
        "chat_instance": "1", "data": "role:medical_student"})
    await asyncio.sleep(0.5)
    await harness.settled()
    assert query.answered and query.answer_text == texts.BUTTON_NOT_YOURS
    await alice.expect_silence(0.3)


# --------------------------------------------------------------------------- timeouts
async def test_an_abandoned_conversation_times_out_and_its_draft_is_dropped(harness):
    alice = harness.user(1001)
    await harness.register(alice)
    await harness.activate(alice)
    await alice.send_text("/login")
    await alice.wait_for_text("email")
    await alice.send_text("alice@example.com")
    await alice.wait_for_text("password")
    await harness.advance(minutes=11)
    later = await alice.send_text("hello again")  # not taken as a password, not counted, not deleted
    assert (await alice.wait_for()).raw_text == texts.CONVERSATION_TIMED_OUT
    assert not later.deleted
    await harness.settled()
    stored = await harness.db["ptb_user_data"].find_one({"owner_id": 1001})
    assert "login_email" not in stored["data"] and LAST_ANSWER not in stored["data"]
    # PTB's own timeout job (real time, 10 min) tells the user without waiting for a message
    await alice.send_text("/forgot")
    await alice.wait_for_text("email")
    await harness.settled()
    jobs = [j for j in harness.application.job_queue.jobs() if "_trigger_timeout" in (j.name or "")]
    assert jobs and abs((jobs[0].next_t.timestamp() - time.time()) - 600) < 30
    await jobs[0].run(harness.application)
    assert (await alice.wait_for()).raw_text == texts.CONVERSATION_TIMED_OUT
    for _ in range(50):
        if not await harness.db["ptb_conversations"].find_one({"name": "forgot"}):
            break
        await asyncio.sleep(0.05)
    assert not await harness.db["ptb_conversations"].find_one({"name": "forgot"})


# --------------------------------------------------------------------------- /password
async def test_password_change_asks_the_current_one_ends_other_sessions_and_mails(harness):
    alice, phone2 = harness.user(1001), harness.user(1011, "Alice2")
    await harness.signed_up(alice)
    await harness.login(phone2)
    await alice.send_text("/password")
    await alice.wait_for_text("current password")
    wrong = await alice.send_text("Wr0ng!pass")
    assert (await alice.wait_for()).text.startswith(texts.LOGIN_WRONG_PASSWORD)
    assert wrong.deleted
    await alice.send_text(STRONG_PASSWORD)
    await alice.wait_for_text("new password")
    await alice.send_text("N3w!password")
    await alice.wait_for_text("confirm")
    await alice.send_text("N3w!password")
    assert (await alice.wait_for()).raw_text == texts.PASSWORD_CHANGED_HERE
    assert (await phone2.wait_for()).raw_text == texts.SESSION_ENDED_BY_RESET
    await alice.send_text("/me")
    assert "alice" in (await alice.wait_for()).text
    mail = await harness.mail_to("alice@example.com", count=2)
    assert "password was changed" in mail["Subject"]


# --------------------------------------------------------------------------- log hygiene
async def test_a_debug_log_of_registration_login_and_reset_holds_no_secret(harness):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        alice = harness.user(1001)
        await harness.register(alice)
        token = await harness.activation_token("alice@example.com")
        await harness.activate(alice)
        await harness.login(alice)
        await alice.send_text("/logout")
        await alice.wait_for()
        await alice.send_text("/forgot")
        await alice.wait_for_text("email")
        await _answer(alice, "alice@example.com")
        code = await harness.reset_code("alice@example.com", count=2)
        await _answer(alice, code)
        await alice.send_text("N3w!password")
        await alice.wait_for_text("confirm")
        await alice.send_text("N3w!password")
        await alice.wait_for_text("changed")
        await harness.settled()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    log = stream.getvalue()
    assert len(log) > 10_000 and "getUpdates" in log  # PTB's DEBUG lines are there
    for secret in (harness.emulator.token, STRONG_PASSWORD, "N3w!password", code, token, "alice@example.com",
                   harness.settings.jwt_secret):
        assert secret not in log, secret
