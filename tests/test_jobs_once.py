"""Notices and reminders go out at most once, whoever tries (a job, a restart's announcement, a new leader):
each is claimed in the database before it is sent (`handlers.jobs`). And a reminder whose time passed while
no process was leading is sent late, once, by the next one. (Across a real SIGKILL takeover of two bot
processes: `tests/test_standby.py`.)"""

from __future__ import annotations

from datetime import timedelta

from handlers import texts
from handlers.context import services_of
from handlers.jobs import notify, reminder_job_name


async def _student(harness, uid: int, name: str):
    user = harness.user(uid, name.capitalize())
    await harness.signed_up(user, username=name, email=f"{name}@example.com")
    return user


async def _reminded(user, timeout: float = 10) -> None:
    """The reminder's two messages: the intro and the practice question."""
    await user.wait_for_text(texts.REMIND_INTRO, timeout=timeout)
    await user.wait_for(lambda m: m.kind == "photo" and (m.caption or "").startswith("❓"), timeout=timeout)


def _count(user, text: str) -> int:
    return sum(1 for m in user.bot_messages() if (m.raw_text or m.raw_caption or "") == text)


async def test_a_session_end_notice_is_sent_once_however_often_it_is_tried(harness):
    ann = await _student(harness, 3101, "ann")
    accounts = services_of(harness.application).accounts
    (session,) = await accounts.open_sessions()
    harness.clock.advance(timedelta(days=1, minutes=1))
    ended = await accounts.expire_due_sessions()  # ended, not told yet: what a new leader finds
    assert [s.id for s in ended] == [session.id]
    # the old leader's expiry job and the new leader's announcement both try
    await notify(harness.application, ended, texts.SESSION_EXPIRED)
    await notify(harness.application, ended, texts.SESSION_EXPIRED)
    await ann.wait_for_text("expired")
    await ann.expect_silence(1)
    assert _count(ann, texts.SESSION_EXPIRED) == 1
    assert await accounts.unnotified_ended_sessions() == []
    await harness.restart_bot()  # and a restart does not tell again
    await ann.expect_silence(1)
    assert _count(ann, texts.SESSION_EXPIRED) == 1


async def test_a_reminder_is_sent_once_a_day_however_often_its_job_runs(harness):
    sam = await _student(harness, 3102, "sam")
    await sam.send_text("/remind 7:30")
    await sam.wait_for_text("07:30 UTC")
    user_id = (await harness.db["users"].find_one({"email_normalised": "sam@example.com"}))["_id"]
    (job,) = harness.application.job_queue.get_jobs_by_name(reminder_job_name(user_id))
    await job.run(harness.application)  # the scheduler's run...
    await _reminded(sam)
    await job.run(harness.application)  # ...and another process's (or a late duplicate) for the same day
    await sam.expect_silence(2)
    assert _count(sam, texts.REMIND_INTRO) == 1
    harness.clock.advance(timedelta(days=1))  # the next day's is sent again
    await job.run(harness.application)
    await _reminded(sam)
    await sam.expect_silence(1)
    assert _count(sam, texts.REMIND_INTRO) == 2


async def test_a_reminder_due_while_no_process_led_is_sent_once_by_the_next(harness):
    sam = await _student(harness, 3103, "sami")
    due = (harness.clock.now() + timedelta(minutes=2)).replace(second=0, microsecond=0)
    await sam.send_text(f"/remind {due:%H:%M}")
    await sam.wait_for_text(f"{due:%H:%M} UTC")
    await harness.stop_bot()  # the leader dies before the reminder's time...
    harness.clock.advance(timedelta(minutes=5))
    await harness.start_bot()  # ...and the next one leads after it
    await _reminded(sam, timeout=15)
    await harness.restart_bot()  # the one after that does not send it again
    await sam.expect_silence(2)
    assert _count(sam, texts.REMIND_INTRO) == 1
    # set after its time today: nothing to catch up
    await sam.send_text(f"/remind {harness.clock.now() - timedelta(minutes=3):%H:%M}")
    await sam.wait_for_text("UTC")
    await harness.restart_bot()
    await sam.expect_silence(2)
    assert _count(sam, texts.REMIND_INTRO) == 1
    # more than REMINDER_CATCH_UP late: skipped, tomorrow's comes
    due = (harness.clock.now() + timedelta(minutes=2)).replace(second=0, microsecond=0)
    await sam.send_text(f"/remind {due:%H:%M}")
    await sam.wait_for_text(f"{due:%H:%M} UTC")
    await harness.stop_bot()
    harness.clock.advance(timedelta(hours=2))
    await harness.start_bot()
    await sam.expect_silence(2)
    assert _count(sam, texts.REMIND_INTRO) == 1
