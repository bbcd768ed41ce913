"""Account conversations end to end: the real bot against the Bot API emulator, nx-27017 and aiosmtpd."""

from __future__ import annotations

from datetime import timedelta

from conftest import STRONG_PASSWORD
from handlers import texts


async def test_start_help_and_command_menu(harness):
    alice = harness.user(1001)
    await alice.send_text("/start")
    welcome = await alice.wait_for()
    assert "medical students" in welcome.text and "/register" in welcome.text
    await alice.send_text("/help")
    assert "/forgot" in (await alice.wait_for()).text
    menu = [c["command"] for c in harness.emulator.commands()]
    assert {"start", "register", "login", "logout", "forgot", "cancel", "help"} <= set(menu)


async def test_register_activate_login_logout(harness):
    alice = harness.user(1001)
    await harness.signed_up(alice)
    await alice.send_text("/me")
    me = await alice.wait_for()
    assert "alice" in me.text and "medical student" in me.text
    await alice.send_text("/logout")
    assert (await alice.wait_for()).raw_text == texts.LOGGED_OUT
    await alice.send_text("/me")
    assert (await alice.wait_for()).raw_text == texts.PLEASE_LOGIN


async def _to_password_prompt(user, email):
    """/login up to the password question."""
    await user.send_text("/login")
    await user.wait_for_text("email")
    await user.send_text(email)
    await user.wait_for_text("password")


async def _answer(user, text):
    await user.send_text(text)
    return await user.wait_for()


async def test_registration_validates_every_answer_with_the_specified_texts(harness):
    bob = harness.user(1002, "Bob")
    await bob.send_text("/register")
    await bob.wait_for_text("username")
    # username
    await bob.send_sticker()
    assert (await bob.wait_for()).text.startswith("Username is required")
    assert (await _answer(bob, "ab")).text.startswith("Username must be at least 3 characters long")
    assert (await _answer(bob, "b" * 21)).text.startswith("Username must be at most 20 characters long")
    assert "email" in (await _answer(bob, "bob")).text
    # email
    assert (await _answer(bob, "   ")).text.startswith("Email is required")
    assert (await _answer(bob, "not-an-email")).text.startswith("Please enter a valid email")
    assert (await _answer(bob, "a@b.io")).text.startswith("Please enter a valid email")  # under 8 characters
    assert "password" in (await _answer(bob, "  Bob@Example.com ")).text
    # password: every message carrying one is deleted as soon as it is read
    await bob.send_photo(_png())
    assert (await bob.wait_for()).text.startswith("Password is required")
    weak = await bob.send_text("password1")
    reply = await bob.wait_for()
    assert reply.text.startswith(texts.VALIDATION["password_weak"])
    assert weak.deleted
    strong = await bob.send_text(STRONG_PASSWORD)
    assert "confirm" in (await bob.wait_for()).text
    assert strong.deleted
    # confirmation
    await bob.send_sticker()
    assert (await bob.wait_for()).text.startswith("Confirm password is required")
    mismatch = await bob.send_text(STRONG_PASSWORD + "x")
    assert (await bob.wait_for()).text.startswith("Confirm password must match the password")
    assert mismatch.deleted
    confirm = await bob.send_text(STRONG_PASSWORD)
    role_question = await bob.wait_for()
    assert confirm.deleted
    # role: two inline buttons with the specification's labels; typing instead is refused
    labels = [button["text"] for row in role_question.reply_markup["inline_keyboard"] for button in row]
    assert labels == ["Medical student", "Healthcare professional"]
    assert (await _answer(bob, "doctor")).raw_text == texts.ROLE_PLEASE_PRESS
    await bob.press("Healthcare professional")
    done = await bob.wait_for_text("Account created")
    assert "bob@example.com" in done.text  # normalised
    # the password never reached the database in clear, not even in conversation state
    await harness.settled()
    async for doc in harness.db["ptb_user_data"].find({}):
        assert STRONG_PASSWORD not in str(doc)
    user = await harness.db["users"].find_one({})
    assert STRONG_PASSWORD not in str(user)
    # inactive until activated
    await _to_password_prompt(bob, "bob@example.com")
    await bob.send_text(STRONG_PASSWORD)
    assert (await bob.wait_for()).text.startswith("plz confirm your email")


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(buffer, "PNG")
    return buffer.getvalue()


async def test_activation_email_link_is_single_use_and_html_plus_text(harness):
    alice = harness.user(1001)
    await harness.register(alice)
    message = await harness.mail_to("alice@example.com")
    assert message.get_content_type() == "multipart/alternative"
    assert {part.get_content_type() for part in message.iter_parts()} == {"text/plain", "text/html"}
    token = await harness.activation_token("alice@example.com")
    assert 22 <= len(token) <= 64
    await alice.open_deep_link(token)
    assert "is active" in (await alice.wait_for()).text
    await alice.open_deep_link(token)
    assert (await alice.wait_for()).raw_text == texts.TOKEN_USED
    await alice.open_deep_link("A" * 43)
    assert (await alice.wait_for()).raw_text == texts.TOKEN_UNKNOWN


async def test_activation_link_expires_after_24_hours_and_resend_replaces_it(harness):
    alice = harness.user(1001)
    await harness.register(alice)
    old = await harness.activation_token("alice@example.com")
    await harness.advance(hours=24, seconds=1)
    await alice.open_deep_link(old)
    assert (await alice.wait_for()).raw_text == texts.TOKEN_EXPIRED
    await alice.send_text("/resend")
    assert "fresh activation link" in (await alice.wait_for()).text
    new = await harness.activation_token("alice@example.com", count=2)
    assert new != old
    await alice.open_deep_link(old)
    assert (await alice.wait_for()).text in (texts.TOKEN_EXPIRED, texts.TOKEN_UNKNOWN)
    await alice.open_deep_link(new)
    assert "is active" in (await alice.wait_for()).text


async def test_resend_by_email_from_another_telegram_account_and_unknown(harness):
    alice, other = harness.user(1001), harness.user(1009, "Other")
    await harness.register(alice)
    await other.send_text("/resend alice@example.com")
    assert (await other.wait_for()).raw_text == texts.RESENT_IF_WAITING.format(email="alice@example.com")
    await harness.mail_to("alice@example.com", count=2)
    await other.send_text("/resend nobody@example.com")  # the same answer: nothing tells the difference
    assert (await other.wait_for()).raw_text == texts.RESENT_IF_WAITING.format(email="nobody@example.com")
    await other.send_text("/resend")  # nothing registered from this Telegram user: that may be said
    assert (await other.wait_for()).raw_text == texts.RESEND_NOTHING


async def test_resend_after_too_many_links_says_when_and_the_last_link_still_works(harness):
    from accounts.limits import MAILS_PER_HOUR

    alice = harness.user(1001)
    await harness.register(alice)
    for _ in range(MAILS_PER_HOUR - 1):
        await alice.send_text("/resend")
        assert "fresh activation link" in (await alice.wait_for()).text
    latest = await harness.activation_token("alice@example.com", count=MAILS_PER_HOUR)
    await alice.send_text("/resend")
    until = (harness.clock.now() + timedelta(hours=1)).strftime("%H:%M")
    assert (await alice.wait_for()).raw_text == texts.RESEND_THROTTLED.format(until=until)
    assert len(harness.outbox.messages_to("alice@example.com")) == MAILS_PER_HOUR
    await alice.open_deep_link(latest)
    assert "is active" in (await alice.wait_for()).text


async def test_email_already_registered_gets_a_clear_message(harness):
    alice, mallory = harness.user(1001), harness.user(1003, "Mallory")
    await harness.register(alice)
    await mallory.send_text("/register")
    await mallory.wait_for_text("username")
    await mallory.send_text("mallory")
    await mallory.wait_for_text("email")
    assert (await _answer(mallory, "ALICE@example.com")).raw_text == texts.EMAIL_TAKEN
    assert "password" in (await _answer(mallory, "mallory@example.com")).text


async def test_login_errors_use_the_specified_texts_and_success_names_user_and_role(harness):
    alice = harness.user(1001)
    await harness.register(alice, role="Healthcare professional")
    await harness.activate(alice)
    await _to_password_prompt(alice, "nobody@example.com")
    await alice.send_text(STRONG_PASSWORD)
    assert (await alice.wait_for()).text.startswith("data invalid")
    await alice.send_text("alice@example.com")
    await alice.wait_for_text("password")
    wrong = await alice.send_text("Wr0ng!pass")
    assert (await alice.wait_for()).text.startswith("invalid password")
    assert wrong.deleted
    right = await alice.send_text(STRONG_PASSWORD)
    welcome = await alice.wait_for()
    assert right.deleted
    assert "alice" in welcome.text and "healthcare professional" in welcome.text


async def test_five_failed_logins_lock_the_account_for_15_minutes(harness):
    alice = harness.user(1001)
    await harness.register(alice)
    await harness.activate(alice)
    await _to_password_prompt(alice, "alice@example.com")
    for attempt in range(4):
        await alice.send_text(f"Wr0ng!pass{attempt}")
        assert (await alice.wait_for()).text.startswith("invalid password")
    await alice.send_text("Wr0ng!pass5")
    assert "locked for 15 minutes" in (await alice.wait_for()).text
    # even the right password is refused while locked
    await _to_password_prompt(alice, "alice@example.com")
    await alice.send_text(STRONG_PASSWORD)
    assert "locked" in (await alice.wait_for()).text
    await harness.advance(minutes=15, seconds=1)
    await harness.login(alice)


async def test_protected_command_without_session(harness):
    carol = harness.user(1004, "Carol")
    await carol.send_text("/me")
    assert (await carol.wait_for()).raw_text == "Please /login first"
    await carol.send_text("/logout")
    assert (await carol.wait_for()).raw_text == "Please /login first"


async def test_session_expires_after_24_hours_and_the_user_is_told(harness):
    alice = harness.user(1001)
    await harness.signed_up(alice)
    jobs = [j for j in harness.application.job_queue.jobs() if j.name.startswith("session-expiry:")]
    assert len(jobs) == 1
    assert abs((jobs[0].next_t - harness.clock.now()).total_seconds() - 24 * 3600) < 5
    await harness.advance(hours=23, minutes=59)
    await alice.expect_silence(0.3)
    await harness.advance(minutes=2)
    assert (await alice.wait_for()).raw_text == "Your session has expired — please /login again"
    await alice.send_text("/me")
    assert (await alice.wait_for()).raw_text == "Please /login first"


async def test_expired_session_is_caught_on_the_next_command_even_before_the_job(harness):
    alice = harness.user(1001)
    await harness.signed_up(alice)
    harness.clock.advance(timedelta(hours=25))  # the job has not fired
    await alice.send_text("/me")
    assert (await alice.wait_for()).raw_text == texts.SESSION_EXPIRED
    await alice.expect_silence(0.3)  # told once, not also "Please /login first"


async def test_forgot_password_full_flow_ends_every_session(harness):
    alice, alice_phone2 = harness.user(1001), harness.user(1011, "Alice2")
    await harness.signed_up(alice)
    await harness.login(alice_phone2)
    # the answer is the same whether or not the account exists, and only a real account gets mail
    await alice.send_text("/forgot")
    await alice.wait_for_text("email")
    unknown_reply = await _answer(alice, "ghost@example.com")
    await alice.send_text("/cancel")
    await alice.wait_for_text("Cancelled")
    await alice.send_text("/forgot")
    await alice.wait_for_text("email")
    known_reply = await _answer(alice, "alice@example.com")
    assert unknown_reply.text.replace("ghost", "X") == known_reply.text.replace("alice", "X")
    assert harness.outbox.messages_to("ghost@example.com") == []
    code = await harness.reset_code("alice@example.com", count=2)
    wrong = "000000" if code != "000000" else "111111"
    assert "4 attempt(s) left" in (await _answer(alice, wrong)).text
    assert "new password" in (await _answer(alice, code)).text
    weak = await alice.send_text("short")
    assert (await alice.wait_for()).text.startswith(texts.VALIDATION["password_weak"])
    assert weak.deleted
    await alice.send_text("N3w!password")
    await alice.wait_for_text("confirm")
    assert (await _answer(alice, "N3w!passwordX")).text.startswith("Confirm password must match the password")
    await alice.send_text("N3w!password")
    assert (await alice.wait_for()).raw_text == texts.PASSWORD_CHANGED
    assert (await alice_phone2.wait_for()).raw_text == texts.SESSION_ENDED_BY_RESET
    assert not [j for j in harness.application.job_queue.jobs() if j.name.startswith("session-expiry:")]
    await alice.send_text("/me")
    assert (await alice.wait_for()).raw_text == texts.PLEASE_LOGIN
    # old password refused, new one works; the code was single use
    await _to_password_prompt(alice, "alice@example.com")
    assert (await _answer(alice, STRONG_PASSWORD)).text.startswith("invalid password")
    await alice.send_text("N3w!password")
    await alice.wait_for_text("Welcome")


async def test_reset_code_expires_after_15_minutes_and_asking_again_voids_it(harness):
    alice = harness.user(1001)
    await harness.register(alice)
    await harness.activate(alice)
    await alice.send_text("/forgot")
    await alice.wait_for_text("email")
    await _answer(alice, "alice@example.com")
    first = await harness.reset_code("alice@example.com", count=2)
    await alice.send_text("/cancel")
    await alice.wait_for_text("Cancelled")
    await alice.send_text("/forgot")
    await alice.wait_for_text("email")
    await _answer(alice, "alice@example.com")
    second = await harness.reset_code("alice@example.com", count=3)
    if first != second:
        assert (await _answer(alice, first)).text.startswith("That code isn't right")
    await harness.advance(minutes=9)  # an answer within the conversation's timeout keeps it going
    wrong = "000000" if second != "000000" else "111111"
    assert "attempt(s) left" in (await _answer(alice, wrong)).text
    await harness.advance(minutes=6, seconds=1)
    assert (await _answer(alice, second)).raw_text == texts.RESET_CODE_EXPIRED


async def test_five_wrong_reset_codes_void_the_code(harness):
    alice = harness.user(1001)
    await harness.register(alice)
    await harness.activate(alice)
    await alice.send_text("/forgot")
    await alice.wait_for_text("email")
    await _answer(alice, "alice@example.com")
    code = await harness.reset_code("alice@example.com", count=2)
    wrong = [c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c != code][:5]
    for attempt in wrong[:4]:
        assert "attempt(s) left" in (await _answer(alice, attempt)).text
    assert (await _answer(alice, wrong[4])).raw_text == texts.RESET_CODE_VOIDED
    # the voided code is dead even when typed right; a new /forgot brings a working one
    await alice.send_text("/forgot")
    await alice.wait_for_text("email")
    await _answer(alice, "alice@example.com")
    fresh = await harness.reset_code("alice@example.com", count=3)
    if fresh != code:
        assert "attempt(s) left" in (await _answer(alice, code)).text
    assert "new password" in (await _answer(alice, fresh)).text


async def test_cancel_leaves_any_conversation(harness):
    dave = harness.user(1005, "Dave")
    await dave.send_text("/cancel")
    assert (await dave.wait_for()).raw_text == texts.NOTHING_TO_CANCEL
    await dave.send_text("/register")
    await dave.wait_for_text("username")
    await dave.send_text("/login")  # another flow cannot start in the middle of one
    assert (await dave.wait_for()).raw_text == texts.IN_CONVERSATION
    await dave.send_text("/cancel")
    assert (await dave.wait_for()).raw_text == texts.CANCELLED
    await dave.send_text("dave")  # no longer in a conversation: not taken as a username
    assert (await dave.wait_for()).raw_text == texts.NOT_UNDERSTOOD


async def test_unknown_command(harness):
    erin = harness.user(1006, "Erin")
    await erin.send_text("/frobnicate")
    assert (await erin.wait_for()).raw_text == texts.UNKNOWN_COMMAND
