"""/quiz, the answer buttons, /progress and /remind (a daily practice question via the job queue).

Questions are measurement drills (content.drills, right by construction) and instructors' diagnosis
cases (content.store.CaseStore); which comes next is content.practice's spaced-repetition choice.
The question a user is expected to answer is kept in the database, so one question scores once and
an old question's buttons do nothing after a newer one was asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import random
from datetime import time as dtime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from accounts.models import Session
from bot.services import Services, get_services
from content import drills
from content.lessons import LESSON_FOR_LABEL, get_lesson
from content.practice import case_item, parse_item, pick_next, practice_candidates, record_answer, top_missed_topics
from content.store import CASE_LABELS, CaseStore, PracticeStore, Reminder, ReminderStore, parse_hhmm, parse_timezone
from handlers import texts
from handlers.chat import reply
from handlers.learning import OPEN as LESSON_OPEN, can_learn
from handlers.sessions import require_login
from inference.labels import DISPLAY_NAMES

log = logging.getLogger(__name__)

CALLBACK = "quiz:"
ANSWER = "quiz:a:"  # quiz:a:<option index>:<item id>
NEXT = "quiz:next"
REMINDER_JOB_PREFIX = "reminder:"


# --- wiring ---------------------------------------------------------------------------------------
async def install(services: Services) -> None:
    """Create the practice repositories on the services (called once at start-up)."""
    cases = CaseStore(services.db)
    await cases.ensure_indexes()
    services.practice = PracticeStore(services.db)
    services.cases = cases
    services.reminders = ReminderStore(services.db)
    services.lesson_for_label = dict(LESSON_FOR_LABEL)


def _stores(services: Services) -> tuple[PracticeStore, CaseStore, ReminderStore]:
    return services.practice, services.cases, services.reminders


# --- asking ---------------------------------------------------------------------------------------
def _options_keyboard(item: str, options: list[str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=f"{ANSWER}{i}:{item}")] for i, text in enumerate(options)]
    )


async def send_question(bot, services: Services, chat_id: int, user_id: str, rng: random.Random | None = None) -> str:
    """Choose this user's next item, send it with its answer buttons, remember it as pending."""
    practice, cases, _ = _stores(services)
    rng = rng or random.Random()
    now = services.clock.now()
    state = await practice.load(user_id)
    active = {c.id: c for c in await cases.active() if c.author_id != user_id}
    candidates = practice_candidates(state, [case_item(cid) for cid in active], rng)
    item = pick_next(state, candidates, now, rng)
    kind, ident = parse_item(item)
    if kind == "case" and ident not in active:  # defensive: only active cases are candidates
        item = f"drill:{drills.new_drill_id(rng)}"
        kind, ident = parse_item(item)
    old_item, old_message = await practice.pending(user_id)
    if old_item and old_message:  # the question it replaces can no longer be answered
        with contextlib.suppress(TelegramError):
            await bot.edit_message_reply_markup(chat_id, old_message, reply_markup=None)
    await practice.set_pending(user_id, item)
    if kind == "case":
        keyboard = _options_keyboard(item, [DISPLAY_NAMES[label] for label in CASE_LABELS])
        message = await bot.send_photo(chat_id, active[ident].file_id, caption=texts.QUIZ_CASE_CAPTION, reply_markup=keyboard)
    else:
        drill = await asyncio.to_thread(drills.drill_from_id, ident)
        message = await bot.send_photo(
            chat_id,
            drill.image_png,
            caption=texts.QUIZ_DRILL_CAPTION.format(question=html.escape(drill.question)),
            reply_markup=_options_keyboard(item, drill.options),
        )
    await practice.set_pending(user_id, item, message.message_id)
    return item


@require_login
async def quiz(update: Update, context: ContextTypes.DEFAULT_TYPE, session: Session) -> None:
    if not can_learn(session):
        await reply(update, texts.LESSONS_STUDENTS_ONLY)
        return
    await send_question(context.bot, get_services(context), update.effective_chat.id, session.user_id)


# --- answering ------------------------------------------------------------------------------------
@require_login
async def button(update: Update, context: ContextTypes.DEFAULT_TYPE, session: Session) -> None:
    query = update.callback_query
    services = get_services(context)
    if not can_learn(session):
        await query.answer()
        await reply(update, texts.LESSONS_STUDENTS_ONLY)
        return
    if query.data == NEXT:
        await query.answer()
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(None)
        await send_question(context.bot, services, update.effective_chat.id, session.user_id)
        return
    index, _, item = query.data.removeprefix(ANSWER).partition(":")
    practice, cases, _ = _stores(services)
    if not index.isdigit() or not await practice.take_pending(session.user_id, item):
        await query.answer(texts.QUIZ_STALE)
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(None)
        return
    await query.answer()
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(None)
    chosen_index = int(index)
    now = services.clock.now()
    kind, ident = parse_item(item)
    if kind == "drill":
        correct, drill = drills.check_answer(ident, chosen_index)
        topic, options, right = drill.kind, drill.options, drill.correct_option
        explanation, lesson_slug = drill.explanation, drill.lesson_slug
    else:
        case = await cases.get(ident)
        if case is None or chosen_index >= len(CASE_LABELS):
            await reply(update, texts.QUIZ_CASE_GONE)
            return
        chosen_label = CASE_LABELS[chosen_index]
        correct = chosen_label == case.label
        topic, options, right = case.label, [DISPLAY_NAMES[x] for x in CASE_LABELS], DISPLAY_NAMES[case.label]
        explanation, lesson_slug = case.explanation, LESSON_FOR_LABEL.get(case.label, "")
        await cases.record_answer(case.id, chosen_label, correct, now)
    state = record_answer(await practice.load(session.user_id), item, topic, correct, now)
    await practice.save(session.user_id, state)
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
        buttons.append([InlineKeyboardButton(texts.QUIZ_LESSON_BUTTON, callback_data=LESSON_OPEN + lesson.slug)])
    lines.append(
        texts.QUIZ_SCORE.format(score=state.score, streak=state.streak, correct=state.correct, answered=state.answered)
    )
    buttons.append([InlineKeyboardButton(texts.QUIZ_NEXT_BUTTON, callback_data=NEXT)])
    await reply(update, "\n\n".join(lines), reply_markup=InlineKeyboardMarkup(buttons))


@require_login
async def progress(update: Update, context: ContextTypes.DEFAULT_TYPE, session: Session) -> None:
    if not can_learn(session):
        await reply(update, texts.LESSONS_STUDENTS_ONLY)
        return
    practice, _, _ = _stores(get_services(context))
    state = await practice.load(session.user_id)
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


# --- daily reminders ------------------------------------------------------------------------------
def reminder_job_name(user_id: str) -> str:
    return f"{REMINDER_JOB_PREFIX}{user_id}"


def schedule_reminder(application: Application, reminder: Reminder) -> None:
    cancel_reminder(application, reminder.user_id)
    application.job_queue.run_daily(
        reminder_job,
        time=dtime(reminder.hour, reminder.minute, tzinfo=reminder.zone),
        name=reminder_job_name(reminder.user_id),
        chat_id=reminder.chat_id,
        user_id=reminder.telegram_id,
        data=reminder.user_id,
    )


def cancel_reminder(application: Application, user_id: str) -> None:
    for job in application.job_queue.get_jobs_by_name(reminder_job_name(user_id)):
        job.schedule_removal()


async def reminder_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    services = get_services(context)
    user_id = context.job.data
    if await services.reminders.get(user_id) is None:  # switched off meanwhile
        return
    try:
        await context.bot.send_message(context.job.chat_id, texts.REMIND_INTRO)
        await send_question(context.bot, services, context.job.chat_id, user_id)
    except TelegramError as exc:  # blocked the bot, say: the next days may work again
        log.warning("daily practice question not delivered: %s", exc)


async def restore_reminders(application: Application) -> None:
    """At start-up: schedule every stored reminder again (jobs live in memory only)."""
    for reminder in await application.bot_data["services"].reminders.all():
        schedule_reminder(application, reminder)


@require_login
async def remind(update: Update, context: ContextTypes.DEFAULT_TYPE, session: Session) -> None:
    """`/remind`, `/remind off`, `/remind HH:MM [time zone]` — without a zone the current one (else UTC) stays."""
    if not can_learn(session):
        await reply(update, texts.LESSONS_STUDENTS_ONLY)
        return
    store = get_services(context).reminders
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
    reminder = await store.set(session.user_id, update.effective_user.id, update.effective_chat.id, *parsed, tz)
    schedule_reminder(context.application, reminder)
    await reply(update, texts.REMIND_SET.format(time=reminder.hhmm, tz=reminder.tz))
