"""Practice end to end: /quiz feedback (right/wrong, why, the lesson), score and streak, the
spaced-repetition order, stale buttons, /progress, and /remind through the job queue across a restart."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from content import drills
from content.lessons import get_lesson
from content.practice import POINTS_CORRECT, STREAK_BONUS
from handlers import texts
from handlers.jobs import reminder_job_name

ANSWER_PREFIX = "quiz:a:"


async def _student(harness, uid=3001, name="sam"):
    user = harness.user(uid, name.capitalize())
    await harness.signed_up(user, username=name, email=f"{name}@example.com")
    return user


async def _question(user):
    """The next question: (message, item id, [(option text, callback data)])."""
    message = await user.wait_for(lambda m: m.kind == "photo" and m.caption and m.caption.startswith("❓"))
    options = [row[0] for row in message.buttons]
    assert options and all(data.startswith(ANSWER_PREFIX) for _, data in options)
    items = {data.removeprefix(ANSWER_PREFIX).split(":", 1)[1] for _, data in options}
    assert len(items) == 1
    return message, items.pop(), options


def _drill_answer(item):
    drill = drills.drill_from_id(item.removeprefix("drill:"), render=False)
    return drill, drill.correct_index


async def _answer(user, question, index):
    message, item, options = question
    await user.press(None, message_id=message.message_id, data=options[index][1])
    return await user.wait_for(lambda m: m.kind == "text" and "Score" in m.text)


async def _account_id(harness, email):
    return (await harness.db["users"].find_one({"email_normalised": email}))["_id"]


async def test_quiz_feedback_wrong_then_right_with_score_and_streak(harness):
    sam = await _student(harness)
    await sam.send_text("/quiz")
    question = await _question(sam)
    message, item, options = question
    drill, right = _drill_answer(item)
    assert message.caption == f"❓ {drill.question}"
    assert [text for text, _ in options] == drill.options
    wrong = (right + 1) % len(options)
    assert drills.check_answer(item.removeprefix("drill:"), wrong)[0] is False
    feedback = await _answer(sam, question, wrong)
    lesson = get_lesson(drill.lesson_slug)
    assert feedback.text.startswith("❌ Not quite.")
    assert f"You chose {drill.options[wrong]}; the answer is {drill.correct_option}." in feedback.text
    assert f"Why: {drill.explanation}" in feedback.text
    assert f"Read more: {lesson.title}" in feedback.text
    assert "Score 0 · streak 0 · 0/1 right" in feedback.text
    assert feedback.buttons == [[(texts.QUIZ_LESSON_BUTTON, f"learn:open:{lesson.slug}")], [(texts.QUIZ_NEXT_BUTTON, "quiz:next")]]
    assert not sam.message(message.message_id).buttons  # the question's buttons are gone
    # the lesson button opens the lesson
    await sam.press(texts.QUIZ_LESSON_BUTTON, message_id=feedback.message_id)
    assert f"{lesson.title} · page 1/" in (await sam.wait_for(lambda m: m.kind == "text")).text
    # two right answers: points and a streak bonus
    score = 0
    for streak in (1, 2):
        await sam.press(texts.QUIZ_NEXT_BUTTON)
        question = await _question(sam)
        drill, right = _drill_answer(question[1])
        assert drills.check_answer(question[1].removeprefix("drill:"), right)[0] is True
        feedback = await _answer(sam, question, right)
        score += POINTS_CORRECT + STREAK_BONUS * (streak - 1)
        assert feedback.text.startswith(f"✅ Right! {drill.correct_option}")
        assert f"Score {score} · streak {streak} · {streak}/{streak + 1} right" in feedback.text
    await sam.send_text("/progress")
    progress = await sam.wait_for()
    assert f"Score: {score}" in progress.text and "Answered: 3 (67% right)" in progress.text
    first_topic = texts.TOPIC_NAMES[_drill_answer(item)[0].kind]
    assert f"{first_topic}: 1 wrong" in progress.text


async def test_a_stale_question_scores_nothing(harness):
    sam = await _student(harness, 3002, "sam")
    await sam.send_text("/quiz")
    first = await _question(sam)
    await sam.send_text("/quiz")  # a newer question replaces it
    second = await _question(sam)
    assert not sam.message(first[0].message_id).buttons
    # even a press that arrives for the old question (an old client) is refused
    user_id = await _account_id(harness, "sam@example.com")
    store = harness.runtime.services.practice
    assert (await store.pending(user_id))[0] == second[1]
    assert not await store.take_pending(user_id, first[1])
    feedback = await _answer(sam, second, _drill_answer(second[1])[1])
    assert "1/1 right" in feedback.text


async def test_wrong_answers_come_back_sooner_than_right_ones(harness):
    sam = await _student(harness, 3003, "sam")
    await sam.send_text("/quiz")
    q1 = await _question(sam)
    await _answer(sam, q1, (_drill_answer(q1[1])[1] + 1) % len(q1[2]))  # wrong
    right_items = []
    for _ in range(2):
        await sam.press(texts.QUIZ_NEXT_BUTTON)
        q = await _question(sam)
        assert q[1] != q1[1]  # not yet: two other questions first
        right_items.append(q[1])
        await _answer(sam, q, _drill_answer(q[1])[1])  # right
    await sam.press(texts.QUIZ_NEXT_BUTTON)
    q4 = await _question(sam)
    assert q4[1] == q1[1]  # the missed one is back after two questions
    await _answer(sam, q4, _drill_answer(q4[1])[1])
    # the ones answered right are not asked again the same day...
    await sam.press(texts.QUIZ_NEXT_BUTTON)
    q5 = await _question(sam)
    assert q5[1] not in right_items + [q1[1]]
    await _answer(sam, q5, _drill_answer(q5[1])[1])
    # ...but a day later they are due again
    await harness.advance(days=1, minutes=1)
    await sam.wait_for_text("expired")  # sessions last 24 hours; the practice state stays
    await harness.login(sam, "sam@example.com")
    await sam.send_text("/quiz")
    q6 = await _question(sam)
    assert q6[1] in right_items + [q1[1], q5[1]]


async def test_daily_reminder_fires_and_survives_a_restart(harness):
    sam = await _student(harness, 3004, "sam")
    user_id = await _account_id(harness, "sam@example.com")
    await sam.send_text("/remind")
    assert (await sam.wait_for()).raw_text == texts.REMIND_NONE
    await sam.send_text("/remind 25:00")
    assert (await sam.wait_for()).raw_text == texts.REMIND_BAD_TIME
    await sam.send_text("/remind 7:30")
    assert (await sam.wait_for()).text.startswith("⏰ Done: a practice question every day at 07:30 UTC")

    def job():
        jobs = harness.application.job_queue.get_jobs_by_name(reminder_job_name(user_id))
        assert len(jobs) == 1
        return jobs[0]

    when = job().next_t
    assert (when.hour, when.minute, when.utcoffset().total_seconds()) == (7, 30, 0)
    assert timedelta(0) < when - datetime.now(timezone.utc) <= timedelta(days=1)  # the next 07:30 UTC
    # fire it as the scheduler would at 07:30
    await job().run(harness.application)
    assert (await sam.wait_for()).raw_text == texts.REMIND_INTRO
    question = await _question(sam)
    feedback = await _answer(sam, question, _drill_answer(question[1])[1])
    assert "1/1 right" in feedback.text
    # changing the time replaces the job
    await sam.send_text("/remind 18:05")
    await sam.wait_for_text("18:05 UTC")
    assert (job().next_t.hour, job().next_t.minute) == (18, 5)
    # restart: the job is scheduled again from the database
    await harness.restart_bot()
    assert (job().next_t.hour, job().next_t.minute) == (18, 5)
    await job().run(harness.application)
    await sam.wait_for_text(texts.REMIND_INTRO)
    await _question(sam)
    await sam.send_text("/remind")
    assert "18:05 UTC" in (await sam.wait_for()).text
    # off: no job, not even after another restart
    await sam.send_text("/remind off")
    assert (await sam.wait_for()).raw_text == texts.REMIND_OFF
    assert not harness.application.job_queue.get_jobs_by_name(reminder_job_name(user_id))
    await harness.restart_bot()
    assert not harness.application.job_queue.get_jobs_by_name(reminder_job_name(user_id))


async def test_reminder_in_the_users_time_zone_follows_daylight_saving(harness):
    from zoneinfo import ZoneInfo

    sam = await _student(harness, 3005, "sami")
    user_id = await _account_id(harness, "sami@example.com")

    def job():
        (only,) = harness.application.job_queue.get_jobs_by_name(reminder_job_name(user_id))
        return only

    await sam.send_text("/remind 07:30 Mars/Olympus")
    assert (await sam.wait_for()).text.startswith("I don't know the time zone Mars/Olympus")
    assert not harness.application.job_queue.get_jobs_by_name(reminder_job_name(user_id))
    await sam.send_text("/remind 7:30 berlin")
    assert "07:30 Europe/Berlin" in (await sam.wait_for()).text
    berlin = job().next_t.astimezone(ZoneInfo("Europe/Berlin"))
    assert (berlin.hour, berlin.minute) == (7, 30)
    # the UTC hour depends on the date: 05:30 UTC in summer, 06:30 UTC in winter
    assert job().next_t.astimezone(ZoneInfo("UTC")).hour == (5 if berlin.dst() else 6)
    # a new time without a zone keeps the zone; a new zone moves it
    await sam.send_text("/remind 21:15")
    assert "21:15 Europe/Berlin" in (await sam.wait_for()).text
    await sam.send_text("/remind 21:15 New York")
    assert "21:15 America/New_York" in (await sam.wait_for()).text
    await harness.restart_bot()
    new_york = job().next_t.astimezone(ZoneInfo("America/New_York"))
    assert (new_york.hour, new_york.minute) == (21, 15)
    await sam.send_text("/remind")
    assert "21:15 America/New_York" in (await sam.wait_for()).text
