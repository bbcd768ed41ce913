"""Lessons in chat, end to end: /learn, paging within Telegram's limits, access by role, lesson deep
links (logged in, and logged out → /login → the lesson opens), /share and "Explain this diagnosis"."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from content.lessons import CAPTION_LIMIT, LESSON_FOR_LABEL, MESSAGE_LIMIT, all_lessons, get_lesson
from handlers import texts

STUDENT, PRO = "Medical student", "Healthcare professional"


async def _account(harness, uid, name, role=STUDENT, instructor=False):
    user = harness.user(uid, name.capitalize())
    email = f"{name}@example.com"
    await harness.signed_up(user, role=role, username=name, email=email)
    if instructor:
        await harness.runtime.services.accounts.grant_instructor(email)
    return user


def _within_limits(message):
    if message.kind == "text":
        assert len(message.text) <= MESSAGE_LIMIT and len(message.raw_text) <= MESSAGE_LIMIT
    else:
        assert len(message.caption or "") <= CAPTION_LIMIT and len(message.raw_caption or "") <= CAPTION_LIMIT


async def _expect_page(user, lesson, n, nav=None):
    """Wait for page n: a figure (photo, its caption) then a new text message, or the text message
    ``nav`` edited in place. Returns the page's text message."""
    page = lesson.pages[n]
    if page.figure is None and nav is not None:
        message = await user.wait_for_edit(nav.message_id, lambda m: f"page {n + 1}/" in m.text)
    else:
        if page.figure is not None:
            figure = await user.wait_for(lambda m: m.kind == "photo")
            assert figure.photo_files and figure.caption
            _within_limits(figure)
        message = await user.wait_for(lambda m: m.kind == "text")
    assert f"{lesson.title} · page {n + 1}/{len(lesson.pages)}" in message.text
    _within_limits(message)
    return message


async def test_learn_lists_lessons_and_pages_through_each_within_limits(harness):
    sam = await _account(harness, 2001, "sam")
    await sam.send_text("/learn")
    menu = await sam.wait_for_text("Lessons")
    lessons = all_lessons()
    assert menu.button_texts == [lesson.title for lesson in lessons]
    for lesson in lessons:
        await sam.press(lesson.title, message_id=menu.message_id)
        nav = await _expect_page(sam, lesson, 0)
        assert texts.LESSON_BACK not in nav.button_texts
        for n in range(1, len(lesson.pages)):
            await sam.press(texts.LESSON_NEXT, message_id=nav.message_id)
            previous = nav
            nav = await _expect_page(sam, lesson, n, nav)
            if lesson.pages[n].figure is None:
                assert nav.message_id == previous.message_id  # edited in place
            else:
                assert not sam.message(previous.message_id).buttons  # old page keeps its text, not its buttons
            assert texts.LESSON_BACK in nav.button_texts
        assert texts.LESSON_NEXT not in nav.button_texts  # last page
        # Back from the last page
        if len(lesson.pages) > 1:
            await sam.press(texts.LESSON_BACK, message_id=nav.message_id)
            await _expect_page(sam, lesson, len(lesson.pages) - 2, nav)
    # every message of the chat respects Telegram's limits
    for message in sam.bot_messages():
        _within_limits(message)
    # "All lessons" brings the menu back
    await sam.press(texts.LESSON_ALL)
    assert (await sam.wait_for_text("Lessons")).button_texts == [lesson.title for lesson in lessons]


async def test_lessons_by_role(harness):
    pat = await _account(harness, 2002, "pat", role=PRO)
    for command in ("/learn", "/quiz", "/progress", "/remind 08:00"):
        await pat.send_text(command)
        assert (await pat.wait_for()).raw_text == texts.LESSONS_STUDENTS_ONLY
    await pat.open_deep_link("lesson-normal-ecg")
    assert (await pat.wait_for()).raw_text == texts.LESSONS_STUDENTS_ONLY
    # an instructor gets lessons whatever the role
    await harness.runtime.services.accounts.grant_instructor("pat@example.com")
    await pat.send_text("/learn")
    assert (await pat.wait_for()).button_texts[0] == all_lessons()[0].title
    # logged out: the usual answer
    stranger = harness.user(2099, "Stranger")
    await stranger.send_text("/learn")
    assert (await stranger.wait_for()).raw_text == texts.PLEASE_LOGIN


async def test_deep_link_when_logged_in_opens_the_lesson(harness):
    sam = await _account(harness, 2003, "sam")
    lesson = get_lesson("myocardial-infarction")
    await sam.open_deep_link(lesson.deep_link_payload)
    await _expect_page(sam, lesson, 0)
    await sam.open_deep_link("lesson-no-such-lesson")
    assert (await sam.wait_for()).raw_text == texts.LESSON_UNKNOWN


async def test_deep_link_when_logged_out_opens_the_lesson_after_login(harness):
    lesson = get_lesson("normal-ecg")
    # not even registered: asked to log in or register
    newcomer = harness.user(2004, "Nina")
    await newcomer.open_deep_link(lesson.deep_link_payload)
    ask = await newcomer.wait_for()
    assert "/login" in ask.text and "/register" in ask.text and lesson.title in ask.text
    # registers, activates (another /start link), logs in: the lesson opens without asking again
    await harness.register(newcomer, username="nina", email="nina@example.com")
    await harness.activate(newcomer, "nina@example.com")
    await harness.login(newcomer, "nina@example.com")
    await _expect_page(newcomer, lesson, 0)
    # only once: the next login does not open it again
    await newcomer.send_text("/logout")
    await newcomer.wait_for_text("logged out")
    await harness.login(newcomer, "nina@example.com")
    await newcomer.expect_silence(0.5)


async def test_share_lists_deep_links_for_instructors_only(harness):
    sam = await _account(harness, 2005, "sam")
    await sam.send_text("/share")
    assert (await sam.wait_for()).raw_text == texts.INSTRUCTORS_ONLY
    await sam.send_text("/addcase")
    assert (await sam.wait_for()).raw_text == texts.INSTRUCTORS_ONLY
    await sam.send_text("/mycases")
    assert (await sam.wait_for()).raw_text == texts.INSTRUCTORS_ONLY
    ines = await _account(harness, 2006, "ines", instructor=True)
    await ines.send_text("/share")
    listing = await ines.wait_for()
    bot = harness.emulator.bot_username
    for lesson in all_lessons():
        link = f"https://t.me/{bot}?start=lesson-{lesson.slug}"
        assert link in listing.text and lesson.title in listing.text
    # the shared link works for a student
    await sam.open_deep_link(f"lesson-{all_lessons()[0].slug}")
    await _expect_page(sam, all_lessons()[0], 0)


async def test_explain_this_diagnosis_opens_the_lesson(harness):
    assert harness.runtime.services.lesson_for_label == LESSON_FOR_LABEL
    sam = await _account(harness, 2007, "sam")
    # a result message as handlers/diagnosis.py sends it to a student
    slug = harness.runtime.services.lesson_for_label["history_of_mi"]
    await harness.application.bot.send_message(
        sam.chat_id,
        "<b>History of myocardial infarction</b> — confidence 91%",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton(texts.EXPLAIN_BUTTON, callback_data=f"learn:open:{slug}")]]),
    )
    await sam.wait_for_text("confidence")
    query = await sam.press(texts.EXPLAIN_BUTTON)
    await sam.wait_for_answer(query)
    await _expect_page(sam, get_lesson("history-of-mi"), 0)


async def test_a_malformed_or_stale_button_is_answered(harness):
    """Every button press gets an answer: data no handler takes (malformed, or a conversation's button after
    it ended) gets the stale-button toast; a well-formed page of an unknown lesson says so in the chat."""
    sam = await _account(harness, 3101, "sam")
    await sam.send_text("/learn")
    listing = await sam.wait_for()
    for data in ("learn:page:x:anatomy", "quiz:a:1", "role:medical_student", "nonsense"):
        query = sam._core.user_press(sam._bot, sam.record, listing.message_id, data)
        assert (await sam.wait_for_answer(query)).answer_text == texts.BUTTON_STALE
    await sam.expect_silence(0.3)
    query = sam._core.user_press(sam._bot, sam.record, listing.message_id, "learn:page:0:no-such-lesson")
    await sam.wait_for_answer(query)
    assert (await sam.wait_for()).raw_text == texts.LESSON_UNKNOWN
