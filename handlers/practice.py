"""/quiz, the answer buttons, /progress and /remind (a daily practice question, `handlers.jobs`).

Questions are measurement drills (content.drills, right by construction) and instructors' diagnosis
cases (storage.practice.CaseStore); which comes next is content.practice's spaced-repetition choice
(`handlers.questions`). The question a user is expected to answer is kept in the database, so one
question scores once and an old question's buttons do nothing after a newer one was asked.
"""

from __future__ import annotations

import contextlib
import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from accounts.models import Session
from content import drills
from content.lessons import LESSON_FOR_LABEL, get_lesson
from content.practice import parse_item, record_answer, top_missed_topics
from content.reminders import parse_hhmm, parse_timezone
from handlers import texts
from handlers.access import students_only
from handlers.callbacks import NextQuestion, OpenLesson, QuizAnswer
from handlers.context import AppContext
from handlers.jobs import cancel_reminder, schedule_reminder
from handlers.questions import send_question
from handlers.steps import reply
from inference.labels import DISPLAY_NAMES, LABELS


@students_only
async def quiz(update: Update, context: AppContext, session: Session) -> None:
    await send_question(context.bot, context.services, update.effective_chat.id, session.user_id)


@students_only
async def next_question(update: Update, context: AppContext, session: Session) -> None:
    query = update.callback_query
    await query.answer()
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
    await send_question(context.bot, context.services, update.effective_chat.id, session.user_id)


@students_only
async def answer_question(update: Update, context: AppContext, session: Session) -> None:
    query = update.callback_query
    services = context.services
    pressed = QuizAnswer.parse(query.data)
    item, chosen_index = pressed.item, pressed.option
    if not await services.practice.take_pending(session.user_id, item):
        await query.answer(texts.QUIZ_STALE)
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(None)
        return
    await query.answer()
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
    now = services.clock.now()
    kind, ident = parse_item(item)
    if kind == "drill":
        correct, drill = drills.check_answer(ident, chosen_index)
        topic, options, right = drill.kind, drill.options, drill.correct_option
        explanation, lesson_slug = drill.explanation, drill.lesson_slug
    else:
        case = await services.cases.get(ident)
        if case is None or chosen_index >= len(LABELS):
            await reply(update, texts.QUIZ_CASE_GONE)
            return
        chosen_label = LABELS[chosen_index]
        correct = chosen_label == case.label
        topic, options, right = case.label, [DISPLAY_NAMES[x] for x in LABELS], DISPLAY_NAMES[case.label]
        explanation, lesson_slug = case.explanation, LESSON_FOR_LABEL.get(case.label, "")
        await services.cases.record_answer(case.id, chosen_label, correct, now)
    state = record_answer(await services.practice.load(session.user_id), item, topic, correct, now)
    await services.practice.save(session.user_id, state)
    chosen = options[chosen_index] if chosen_index < len(options) else "?"
    lines = [
        texts.QUIZ_RIGHT.format(answer=html.escape(right))
        if correct
        else texts.QUIZ_WRONG.format(chosen=html.escape(chosen), answer=html.escape(right)),
        texts.QUIZ_WHY.format(explanation=html.escape(explanation)),
    ]
    buttons = []
    lesson = get_lesson(lesson_slug) if lesson_slug else None
    if lesson is not None:
        lines.append(texts.QUIZ_READ.format(title=html.escape(lesson.title)))
        buttons.append([InlineKeyboardButton(texts.QUIZ_LESSON_BUTTON, callback_data=OpenLesson(lesson.slug).pack())])
    lines.append(
        texts.QUIZ_SCORE.format(score=state.score, streak=state.streak, correct=state.correct, answered=state.answered)
    )
    buttons.append([InlineKeyboardButton(texts.QUIZ_NEXT_BUTTON, callback_data=NextQuestion().pack())])
    await reply(update, "\n\n".join(lines), reply_markup=InlineKeyboardMarkup(buttons))


@students_only
async def progress(update: Update, context: AppContext, session: Session) -> None:
    state = await context.services.practice.load(session.user_id)
    if not state.answered:
        await reply(update, texts.PROGRESS_NONE)
        return
    text = texts.PROGRESS.format(
        score=state.score,
        answered=state.answered,
        accuracy=state.accuracy,
        streak=state.streak,
        best_streak=state.best_streak,
    )
    missed = top_missed_topics(state)
    if missed:
        lines = [texts.PROGRESS_MISSED_LINE.format(topic=texts.TOPIC_NAMES.get(t, t), count=c) for t, c in missed]
        text += texts.PROGRESS_MISSED.format(lines="\n".join(lines))
    await reply(update, text)


@students_only
async def remind(update: Update, context: AppContext, session: Session) -> None:
    """`/remind`, `/remind off`, `/remind HH:MM [time zone]` — without a zone the current one (else UTC) stays."""
    store = context.services.reminders
    arg = context.args[0] if context.args else ""
    current = await store.get(session.user_id)
    if not arg:
        await reply(update, texts.REMIND_CURRENT.format(time=current.hhmm, tz=current.tz) if current
                    else texts.REMIND_NONE)
        return
    if arg.lower() == "off":
        await store.remove(session.user_id)
        cancel_reminder(context.application, session.user_id)
        await reply(update, texts.REMIND_OFF)
        return
    parsed = parse_hhmm(arg)
    if parsed is None:
        await reply(update, texts.REMIND_BAD_TIME)
        return
    zone_text = " ".join(context.args[1:])
    tz = parse_timezone(zone_text) if zone_text else (current.tz if current else "UTC")
    if tz is None:
        await reply(update, texts.REMIND_BAD_ZONE.format(zone=html.escape(zone_text)))
        return
    reminder = await store.set(session.user_id, update.effective_user.id, update.effective_chat.id, *parsed, tz,
                               now=context.services.clock.now())
    schedule_reminder(context.application, reminder)
    await reply(update, texts.REMIND_SET.format(time=reminder.hhmm, tz=reminder.tz))
