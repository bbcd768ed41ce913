"""AccountService against a real nx-27017 and a real aiosmtpd outbox; time moved with ManualClock."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import jwt
import pytest

from accounts import passwords
from storage import accounts as st
from accounts.errors import (
    AccountLocked,
    EmailTaken,
    RateLimited,
    MailThrottled,
    NotActivated,
    ResetCodeExpired,
    ResetCodeInvalid,
    TokenInvalid,
    UnknownEmail,
    WrongPassword,
)
from accounts.models import Role
from accounts.limits import (
    LOGIN_MAX_FAILURES,
    MAILS_PER_HOUR,
    RESET_CODE_MAX_ATTEMPTS,
    STRANGER_RESET_MAILS_PER_HOUR,
    RateRules,
)
from accounts.mailer import SmtpMailer
from accounts.service import AccountService
from storage.limits import Rate
from storage.mongo import StorageUnavailable, connect, from_ms

try:
    from tests._accounts_fixtures import (  # noqa: F401
        JWT_SECRET, STRONG, cheap_argon2, clock, code_from_mail, db, deep_link, nx_uri, outbox, service,
        token_from_mail,
    )
except ImportError:
    from _accounts_fixtures import (  # noqa: F401
        JWT_SECRET, STRONG, cheap_argon2, clock, code_from_mail, db, deep_link, nx_uri, outbox, service,
        token_from_mail,
    )

EMAIL = "alice@example.com"


async def register(service, email=EMAIL, *, username="alice", password=STRONG, role=Role.STUDENT, tg=100):
    return await service.register(username, email, passwords.hash_password(password), role, tg)


async def active_user(service, outbox, email=EMAIL, **kw):
    await register(service, email, **kw)
    return await service.activate(token_from_mail(outbox, email))


async def login(service, email=EMAIL, password=STRONG, tg=100, chat=100):
    return await service.login(email, password, telegram_id=tg, chat_id=chat)


# --------------------------------------------------------------------------- registration / activation
async def test_register_creates_inactive_user_and_mails_link(service, outbox, db):
    user = await register(service, role=Role.PROFESSIONAL)
    assert not user.is_active and user.role is Role.PROFESSIONAL and user.telegram_id == 100
    assert user.created_at == service.clock.now()
    msgs = outbox.messages_to(EMAIL)
    assert len(msgs) == 1
    msg = msgs[0]
    assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
    token = token_from_mail(outbox, EMAIL)
    assert 22 <= len(token) <= 64
    # stored only as a hash
    stored = await db[st.ACTIVATION_TOKENS].find_one({"user_id": user.id})
    assert stored["_id"] != token and token not in str(stored)
    raw = await db[st.USERS].find_one({"_id": user.id})
    assert raw["password_hash"].startswith("$argon2id$") and STRONG not in str(raw)


async def test_email_taken_is_case_insensitive(service, outbox):
    await register(service)
    assert await service.email_taken("  ALICE@example.com ")
    assert not await service.email_taken("bob@example.com")
    with pytest.raises(EmailTaken):
        await register(service, "Alice@Example.com")
    assert len(outbox.messages()) == 1


async def test_activation_single_use(service, outbox):
    await register(service)
    token = token_from_mail(outbox, EMAIL)
    user = await service.activate(token)
    assert user.is_active
    with pytest.raises(TokenInvalid) as info:
        await service.activate(token)
    assert info.value.reason == "used"


@pytest.mark.parametrize("token", ["nope", "x" * 65, "bad token!", ""])
async def test_activation_unknown(service, token):
    with pytest.raises(TokenInvalid) as info:
        await service.activate(token)
    assert info.value.reason == "unknown"


async def test_activation_expires_after_24h(service, outbox, clock):
    await register(service)
    token = token_from_mail(outbox, EMAIL)
    clock.advance(timedelta(hours=24))
    with pytest.raises(TokenInvalid) as info:
        await service.activate(token)
    assert info.value.reason == "expired"
    user = await service.resend_activation(email=EMAIL)
    assert user is not None and not user.is_active
    assert (await service.activate(token_from_mail(outbox, EMAIL))).is_active


async def test_activation_just_before_24h(service, outbox, clock):
    await register(service)
    clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    assert (await service.activate(token_from_mail(outbox, EMAIL))).is_active


async def test_resend_kills_old_link(service, outbox):
    await register(service, tg=7)
    old = token_from_mail(outbox, EMAIL)
    assert await service.resend_activation(telegram_id=7) is not None
    new = token_from_mail(outbox, EMAIL)
    assert new != old and len(outbox.messages_to(EMAIL)) == 2
    with pytest.raises(TokenInvalid) as info:
        await service.activate(old)
    assert info.value.reason == "expired"
    assert (await service.activate(new)).is_active
    # nothing left to resend once active; unknown addresses get None too
    assert await service.resend_activation(email=EMAIL) is None
    assert await service.resend_activation(telegram_id=7) is None
    assert await service.resend_activation(email="nobody@example.com") is None
    assert await service.resend_activation() is None


async def test_resend_is_capped_per_hour_and_the_latest_link_keeps_working(service, outbox, clock):
    await register(service, tg=7)  # the registration mail counts as the first link
    for _ in range(MAILS_PER_HOUR - 1):
        clock.advance(timedelta(minutes=5))
        assert await service.resend_activation(telegram_id=7) is not None
    latest = token_from_mail(outbox, EMAIL)
    first_at = clock.now() - timedelta(minutes=5 * (MAILS_PER_HOUR - 1))
    with pytest.raises(MailThrottled) as info:
        await service.resend_activation(email=EMAIL)
    assert info.value.retry_at == first_at + timedelta(hours=1)
    assert len(outbox.messages_to(EMAIL)) == MAILS_PER_HOUR  # nothing sent, nothing revoked
    # once the oldest mail is an hour old, one more may go
    clock.advance(info.value.retry_at - clock.now() - timedelta(seconds=1))
    with pytest.raises(MailThrottled):
        await service.resend_activation(telegram_id=7)
    clock.advance(timedelta(seconds=1))
    assert await service.resend_activation(telegram_id=7) is not None
    assert token_from_mail(outbox, EMAIL) != latest
    assert (await service.activate(token_from_mail(outbox, EMAIL))).is_active


# --------------------------------------------------------------------------- login
async def test_login_errors(service, outbox):
    with pytest.raises(UnknownEmail):
        await login(service, "nobody@example.com")
    await register(service)
    with pytest.raises(NotActivated):
        await login(service)
    with pytest.raises(WrongPassword) as info:
        await login(service, password="Wr0ng!pass")
    assert info.value.attempts_left == 4
    await service.activate(token_from_mail(outbox, EMAIL))
    session = await login(service, " ALICE@example.com ")
    assert session.username == "alice" and session.role is Role.STUDENT


async def test_login_session_jwt(service, outbox, clock):
    user = await active_user(service, outbox)
    session = await login(service, tg=5, chat=6)
    assert (session.telegram_id, session.chat_id, session.user_id) == (5, 6, user.id)
    assert session.expires_at - session.created_at == timedelta(hours=24)
    claims = jwt.decode(session.token, JWT_SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["sub"] == user.id and claims["role"] == "medical_student" and claims["sid"] == session.id
    assert claims["exp"] - claims["iat"] == 24 * 3600
    assert claims["exp"] == int(session.expires_at.timestamp())
    assert await service.current_session(5) == session
    assert await service.current_session(999) is None


async def test_lockout_after_five_failures_and_unlock_after_15_min(service, outbox, clock):
    await active_user(service, outbox)
    left = []
    for _ in range(4):
        with pytest.raises(WrongPassword) as info:
            await login(service, password="Wr0ng!pass")
        left.append(info.value.attempts_left)
        clock.advance(timedelta(minutes=1))
    assert left == [4, 3, 2, 1]
    with pytest.raises(AccountLocked) as info:
        await login(service, password="Wr0ng!pass")
    until = info.value.until
    assert until == clock.now() + timedelta(minutes=15)
    with pytest.raises(AccountLocked):  # even the right password while locked
        await login(service)
    clock.advance(timedelta(minutes=15) - timedelta(seconds=1))
    with pytest.raises(AccountLocked):
        await login(service)
    clock.advance(timedelta(seconds=1))
    assert (await login(service)).username == "alice"
    # the counter starts again from zero after the lock
    with pytest.raises(WrongPassword) as info:
        await login(service, password="Wr0ng!pass")
    assert info.value.attempts_left == 4


async def test_failures_outside_window_do_not_lock(service, outbox, clock):
    await active_user(service, outbox)
    for _ in range(4):
        with pytest.raises(WrongPassword):
            await login(service, password="Wr0ng!pass")
    clock.advance(timedelta(minutes=15))
    with pytest.raises(WrongPassword) as info:  # the four old ones left the 15-minute window
        await login(service, password="Wr0ng!pass")
    assert info.value.attempts_left == 4


async def test_success_resets_failure_count(service, outbox):
    await active_user(service, outbox)
    for _ in range(4):
        with pytest.raises(WrongPassword):
            await login(service, password="Wr0ng!pass")
    await login(service)
    with pytest.raises(WrongPassword) as info:
        await login(service, password="Wr0ng!pass")
    assert info.value.attempts_left == 4


async def test_lock_is_per_account(service, outbox):
    await active_user(service, outbox)
    await active_user(service, outbox, "bob@example.com", username="bob", tg=200)
    for _ in range(4):
        with pytest.raises(WrongPassword):
            await login(service, password="Wr0ng!pass")
    with pytest.raises(AccountLocked):
        await login(service, password="Wr0ng!pass")
    assert (await login(service, "bob@example.com", tg=200)).username == "bob"


# --------------------------------------------------------------------------- sessions
async def test_one_session_per_telegram_user(service, outbox):
    await active_user(service, outbox)
    first = await login(service)
    second = await login(service)
    assert first.id != second.id
    assert await service.current_session(100) == second
    ended = await service.get_session(first.id)
    assert ended.end_reason == "replaced" and ended.ended_at is not None
    assert [s.id for s in await service.open_sessions()] == [second.id]


async def test_logout(service, outbox):
    await active_user(service, outbox)
    session = await login(service)
    ended = await service.logout(100)
    assert ended.id == session.id and ended.end_reason == "logout"
    assert await service.current_session(100) is None
    assert await service.logout(100) is None


async def test_session_expires_after_24h(service, outbox, clock):
    await active_user(service, outbox)
    session = await login(service)
    clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    assert await service.current_session(100) == session
    assert await service.expire_due_sessions() == []
    clock.advance(timedelta(seconds=1))
    assert await service.current_session(100) is None  # JWT/expiry checked with the injected clock
    ended = await service.expire_due_sessions()
    assert [s.id for s in ended] == [session.id] and ended[0].end_reason == "expired"
    assert await service.expire_due_sessions() == []  # reported once
    assert await service.open_sessions() == []
    assert [s.id for s in await service.unnotified_ended_sessions()] == [session.id]
    await service.mark_notified(session.id)
    assert await service.unnotified_ended_sessions() == []


async def test_expire_due_sessions_picks_only_due_ones(service, outbox, clock):
    await active_user(service, outbox)
    await active_user(service, outbox, "bob@example.com", username="bob", tg=200)
    a = await login(service)
    clock.advance(timedelta(hours=2))
    b = await login(service, "bob@example.com", tg=200)
    assert [s.id for s in await service.open_sessions()] == [a.id, b.id]
    clock.advance(timedelta(hours=23))
    assert [s.id for s in await service.expire_due_sessions()] == [a.id]
    assert await service.expire_session(b.id) is None  # not due yet
    clock.advance(timedelta(hours=1))
    assert (await service.expire_session(b.id)).end_reason == "expired"
    assert await service.expire_due_sessions() == []


async def test_tampered_or_foreign_jwt_is_refused(service, outbox, db):
    await active_user(service, outbox)
    session = await login(service)
    forged = jwt.encode({"sub": session.user_id, "sid": session.id, "iat": 0, "exp": 2**40}, "other-secret-" * 3)
    await db[st.SESSIONS].update_one({"_id": session.id}, {"$set": {"token": forged}})
    assert await service.current_session(100) is None


async def test_grant_instructor(service, outbox):
    await active_user(service, outbox)
    await login(service)
    user = await service.grant_instructor("ALICE@example.com", True)
    assert user.is_instructor
    assert (await service.current_session(100)).is_instructor
    assert (await service.get_user(user.id)).is_instructor
    assert not (await service.grant_instructor(EMAIL, False)).is_instructor
    with pytest.raises(UnknownEmail):
        await service.grant_instructor("nobody@example.com", True)
    assert await service.get_user("missing") is None


# --------------------------------------------------------------------------- password reset
async def forgot(service, email=EMAIL, tg=100):
    return await service.start_password_reset(email, telegram_id=tg)


async def test_reset_same_behaviour_for_unknown_email(service, outbox, db):
    await active_user(service, outbox)
    unknown = await forgot(service, "nobody@example.com", tg=7)
    known = await forgot(service, EMAIL, tg=8)
    assert outbox.messages_to("nobody@example.com") == []
    # both requests answer a wrong code alike, attempt by attempt, and are voided alike
    for left in (4, 3, 2, 1):
        for request in (unknown, known):
            with pytest.raises(ResetCodeInvalid) as info:
                await service.verify_reset_code(request, "000000" if request == unknown else "9999999")
            assert info.value.attempts_left == left
    for request in (unknown, known):
        with pytest.raises(ResetCodeInvalid) as info:
            await service.verify_reset_code(request, "0000000")
        assert info.value.attempts_left == 0
        with pytest.raises(ResetCodeExpired) as info:
            await service.verify_reset_code(request, "000000")
        assert info.value.reason == "voided"
    # the stored requests have the same fields, so the queries on them are the same
    docs = [await db[st.RESET_CODES].find_one({"_id": r}) for r in (unknown, known)]
    assert set(docs[0]) == set(docs[1])


async def test_reset_codes_are_capped_per_hour_silently(service, outbox, clock):
    await active_user(service, outbox)
    for _ in range(MAILS_PER_HOUR):
        await forgot(service)
        clock.advance(timedelta(minutes=1))
    assert len(outbox.messages_to(EMAIL)) == 1 + MAILS_PER_HOUR
    # one more within the hour: a request all the same, but no mail (nothing tells)
    request = await forgot(service)
    assert len(outbox.messages_to(EMAIL)) == 1 + MAILS_PER_HOUR
    with pytest.raises(ResetCodeInvalid):
        await service.verify_reset_code(request, code_from_mail(outbox, EMAIL))  # not the mailed one
    clock.advance(timedelta(hours=1) - timedelta(minutes=MAILS_PER_HOUR) + timedelta(seconds=1))
    request = await forgot(service)
    assert len(outbox.messages_to(EMAIL)) == 2 + MAILS_PER_HOUR
    await service.verify_reset_code(request, code_from_mail(outbox, EMAIL))


async def test_reset_flow_ends_all_sessions_and_mails_the_user(service, outbox, clock):
    await active_user(service, outbox)
    s1 = await login(service, tg=100)
    s2 = await login(service, tg=101, chat=101)
    request = await forgot(service, " Alice@Example.com")
    code = code_from_mail(outbox, EMAIL)
    with pytest.raises(ResetCodeExpired):  # not before the code is verified
        await service.reset_password(request, passwords.hash_password("N3w!password"))
    await service.verify_reset_code(request, code)
    await service.verify_reset_code(request, code)  # verifying does not consume
    ended = await service.reset_password(request, passwords.hash_password("N3w!password"))
    assert {s.id for s in ended} == {s1.id, s2.id}
    assert all(s.end_reason == "reset" for s in ended)
    assert await service.current_session(100) is None and await service.current_session(101) is None
    assert "password was changed" in outbox.messages_to(EMAIL)[-1]["Subject"]
    with pytest.raises(ResetCodeExpired) as info:  # single use
        await service.reset_password(request, passwords.hash_password("Other!pass1"))
    assert info.value.reason == "used"
    with pytest.raises(WrongPassword):
        await login(service)
    assert (await login(service, password="N3w!password")).username == "alice"


async def test_reset_code_expires_after_15_min(service, outbox, clock):
    await active_user(service, outbox)
    request = await forgot(service)
    code = code_from_mail(outbox, EMAIL)
    clock.advance(timedelta(minutes=15) - timedelta(seconds=1))
    await service.verify_reset_code(request, code)
    clock.advance(timedelta(seconds=1))
    with pytest.raises(ResetCodeExpired) as info:
        await service.verify_reset_code(request, code)
    assert info.value.reason == "expired"


async def test_asking_again_voids_the_askers_previous_request(service, outbox):
    await active_user(service, outbox)
    first = await forgot(service)
    first_code = code_from_mail(outbox, EMAIL)
    second = await forgot(service)
    assert len(outbox.messages_to(EMAIL)) == 3  # activation + two codes
    with pytest.raises(ResetCodeExpired):
        await service.verify_reset_code(first, first_code)
    await service.verify_reset_code(second, code_from_mail(outbox, EMAIL))


async def test_five_wrong_codes_void_it(service, outbox):
    await active_user(service, outbox)
    request = await forgot(service)
    code = code_from_mail(outbox, EMAIL)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    left = []
    for _ in range(5):
        with pytest.raises(ResetCodeInvalid) as info:
            await service.verify_reset_code(request, wrong)
        left.append(info.value.attempts_left)
    assert left == [4, 3, 2, 1, 0]
    with pytest.raises(ResetCodeExpired) as info:  # now void, even the right code
        await service.verify_reset_code(request, code)
    assert info.value.reason == "voided"
    with pytest.raises(ResetCodeExpired):
        await service.reset_password(request, passwords.hash_password("N3w!password"))
    request = await forgot(service)  # a fresh code works again
    await service.verify_reset_code(request, code_from_mail(outbox, EMAIL))


async def test_a_stranger_cannot_lock_the_owner_out_of_a_reset(service, outbox):
    """Strangers asking codes for Alice's address and guessing them wrong, and locking her login, leave
    her own /forgot working: their requests are theirs, their mails are capped apart from hers."""
    await active_user(service, outbox)  # registered from Telegram user 100
    for _ in range(4):
        with pytest.raises(WrongPassword):
            await login(service, password="Wr0ng!pass", tg=666)
    with pytest.raises(AccountLocked):
        await login(service, password="Wr0ng!pass", tg=666)
    for stranger in range(600, 600 + STRANGER_RESET_MAILS_PER_HOUR + 3):
        request = await forgot(service, tg=stranger)
        for _ in range(5):
            with pytest.raises(ResetCodeInvalid):
                await service.verify_reset_code(request, "12345x")
    assert len(outbox.messages_to(EMAIL)) == 1 + STRANGER_RESET_MAILS_PER_HOUR
    mine = await forgot(service, tg=100)
    assert len(outbox.messages_to(EMAIL)) == 2 + STRANGER_RESET_MAILS_PER_HOUR
    await service.verify_reset_code(mine, code_from_mail(outbox, EMAIL))
    await service.reset_password(mine, passwords.hash_password("N3w!password"))
    assert (await login(service, password="N3w!password")).username == "alice"  # the lock is lifted


async def test_reset_lifts_login_lock(service, outbox):
    await active_user(service, outbox)
    for _ in range(4):
        with pytest.raises(WrongPassword):
            await login(service, password="Wr0ng!pass")
    with pytest.raises(AccountLocked):
        await login(service, password="Wr0ng!pass")
    request = await forgot(service)
    await service.verify_reset_code(request, code_from_mail(outbox, EMAIL))
    await service.reset_password(request, passwords.hash_password("N3w!password"))
    assert (await login(service, password="N3w!password")).username == "alice"


# --------------------------------------------------------------------------- guessing limits
async def test_parallel_login_guesses_from_10_chats_get_no_more_than_the_limit(service, outbox, monkeypatch):
    """Ten chats guessing Alice's password at once, many rounds: the password is checked no more often
    than the account's limit (before the fix every chat passed the lock check before any failure was
    counted)."""
    import accounts.sessions as sessions_module

    await active_user(service, outbox)
    checked = []
    real_verify = sessions_module.verify_password

    def counting_verify(stored, password):
        checked.append(password)
        return real_verify(stored, password)

    monkeypatch.setattr(sessions_module, "verify_password", counting_verify)

    async def guess(chat, attempt):
        try:
            await login(service, password=f"Wr0ng!{chat}-{attempt}", tg=1000 + chat, chat=1000 + chat)
        except (WrongPassword, AccountLocked):
            pass

    for attempt in range(3):
        await asyncio.gather(*(guess(chat, attempt) for chat in range(10)))
    assert len(checked) == LOGIN_MAX_FAILURES


async def test_parallel_reset_code_guesses_get_no_more_than_the_limit(service, outbox):
    await active_user(service, outbox)
    request = await forgot(service)
    code = code_from_mail(outbox, EMAIL)
    wrong = [f"{(int(code) + k) % 1_000_000:06d}" for k in range(1, 31)]
    results = await asyncio.gather(
        *(service.verify_reset_code(request, guess) for guess in wrong), return_exceptions=True
    )
    compared = [r for r in results if isinstance(r, ResetCodeInvalid)]
    assert len(compared) == RESET_CODE_MAX_ATTEMPTS
    assert all(isinstance(r, (ResetCodeInvalid, ResetCodeExpired, RateLimited)) for r in results)
    with pytest.raises(ResetCodeExpired):
        await service.verify_reset_code(request, code)


async def test_per_telegram_user_and_global_limits_on_failed_logins(db, outbox, clock):
    rules = RateRules(login_failures_per_user=Rate.per(3, timedelta(hours=1)),
                      login_failures_global=Rate.per(5, timedelta(hours=1)))
    svc = AccountService(db, None, clock, JWT_SECRET, deep_link, rules=rules)
    # one Telegram user trying many addresses (unknown ones count too)
    for k in range(3):
        with pytest.raises(UnknownEmail):
            await svc.login(f"x{k}@example.com", STRONG, telegram_id=1, chat_id=1)
    with pytest.raises(RateLimited) as info:
        await svc.login("x9@example.com", STRONG, telegram_id=1, chat_id=1)
    assert info.value.retry_at > clock.now()
    # everyone together
    for tg in (2, 3):
        with pytest.raises(UnknownEmail):
            await svc.login("y@example.com", STRONG, telegram_id=tg, chat_id=tg)
    with pytest.raises(RateLimited):
        await svc.login("y@example.com", STRONG, telegram_id=4, chat_id=4)
    clock.advance(timedelta(hours=1))
    with pytest.raises(UnknownEmail):
        await svc.login("y@example.com", STRONG, telegram_id=4, chat_id=4)


async def test_right_password_does_not_spend_the_users_limit(db, outbox, clock):
    rules = RateRules(login_failures_per_user=Rate.per(2, timedelta(hours=1)))
    svc = AccountService(db, None, clock, JWT_SECRET, deep_link, rules=rules, send_at_once=True)
    svc.mailer = SmtpMailer(outbox.host, outbox.port, starttls=False, retries=0)
    await svc.register("alice", EMAIL, passwords.hash_password(STRONG), Role.STUDENT, 1)
    await svc.activate(token_from_mail(outbox, EMAIL))
    for _ in range(5):
        assert (await svc.login(EMAIL, STRONG, telegram_id=1, chat_id=1)).username == "alice"


async def test_registrations_per_telegram_user_are_limited(db, clock):
    svc = AccountService(db, None, clock, JWT_SECRET, deep_link,
                         rules=RateRules(registrations_per_user=Rate.per(2, timedelta(days=1))))
    await svc.registration_allowed(5)
    for k in range(2):
        await svc.register(f"user{k}", f"user{k}@example.com", "hash", Role.STUDENT, 5)
    with pytest.raises(RateLimited):
        await svc.registration_allowed(5)
    with pytest.raises(RateLimited):
        await svc.register("user9", "user9@example.com", "hash", Role.STUDENT, 5)
    assert await svc.get_user_by_email("user9@example.com") is None
    await svc.registration_allowed(6)  # another Telegram user


async def test_mail_requests_per_telegram_user_are_limited_whatever_the_address(db, clock):
    svc = AccountService(db, None, clock, JWT_SECRET, deep_link,
                         rules=RateRules(mail_requests_per_user=Rate.per(2, timedelta(hours=1))))
    await svc.take_mail_request(5)
    await svc.take_mail_request(5)
    with pytest.raises(RateLimited):
        await svc.take_mail_request(5)
    await svc.take_mail_request(6)


# --------------------------------------------------------------------------- sessions: pinned
async def test_session_past_its_stored_expiry_is_refused_though_its_jwt_is_valid_and_the_reverse(
    service, outbox, db, clock
):
    await active_user(service, outbox)
    session = await login(service)
    # the stored expiry has passed, the JWT (exp in 24 h) is still valid
    past = int((clock.now() - timedelta(seconds=1)).timestamp() * 1000)
    await db[st.SESSIONS].update_one({"_id": session.id}, {"$set": {"expires_at": past}})
    assert await service.current_session(100) is None
    # the reverse: stored expiry in the future, the JWT (signed with the right secret) expired
    await db[st.SESSIONS].update_one({"_id": session.id}, {"$set": {"expires_at": past + 10**8}})
    assert await service.current_session(100) == dataclasses.replace(
        session, expires_at=from_ms(past + 10**8)
    )
    expired_jwt = jwt.encode(
        {"sub": session.user_id, "sid": session.id, "role": "medical_student",
         "iat": int(clock.now().timestamp()) - 100, "exp": int(clock.now().timestamp()) - 1},
        JWT_SECRET, algorithm="HS256",
    )
    await db[st.SESSIONS].update_one({"_id": session.id}, {"$set": {"token": expired_jwt}})
    assert await service.current_session(100) is None


# --------------------------------------------------------------------------- password change
async def test_change_password_checks_the_current_one_ends_the_other_sessions_and_mails(service, outbox):
    await active_user(service, outbox)
    here = await login(service, tg=100)
    other = await login(service, tg=101, chat=101)
    with pytest.raises(WrongPassword) as info:
        await service.check_password(here, "Wr0ng!pass")
    assert info.value.attempts_left == 4
    await service.check_password(here, STRONG)
    ended = await service.change_password(here, passwords.hash_password("N3w!password"))
    assert [s.id for s in ended] == [other.id] and ended[0].end_reason == "changed"
    assert await service.current_session(100) == here
    assert await service.current_session(101) is None
    assert [s.id for s in await service.unnotified_ended_sessions()] == [other.id]
    assert "password was changed" in outbox.messages_to(EMAIL)[-1]["Subject"]
    assert (await login(service, password="N3w!password", tg=102, chat=102)).username == "alice"


def test_a_short_jwt_secret_is_refused(db, clock):
    with pytest.raises(ValueError):
        AccountService(db, None, clock, "short-secret", deep_link)


# --------------------------------------------------------------------------- database down
async def test_database_down_raises_storage_unavailable(outbox, clock):
    client = connect("mongodb://127.0.0.1:1/", server_selection_timeout_ms=200)
    try:
        svc = AccountService(client["x"], None, clock, JWT_SECRET, deep_link)  # type: ignore[arg-type]
        with pytest.raises(StorageUnavailable):
            await svc.current_session(1)
        with pytest.raises(StorageUnavailable):
            await svc.login(EMAIL, STRONG, telegram_id=1, chat_id=1)
    finally:
        await client.close()
