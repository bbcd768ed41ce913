"""Asking a practice question: the next item of a user's spaced repetition, sent with its answer buttons
and remembered as the one question that user may answer (from /quiz, "Next question" and the daily
reminder)."""

from __future__ import annotations

import asyncio
import contextlib
import html
import random

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from content import drills
from content.practice import case_item, drill_item, parse_item, pick_next, practice_candidates
from handlers import texts
from handlers.callbacks import QuizAnswer
from handlers.context import Services
from inference.labels import DISPLAY_NAMES, LABELS


def options_keyboard(item: str, options: list[str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=QuizAnswer(i, item).pack())] for i, text in enumerate(options)]
    )


async def send_question(bot: Bot, services: Services, chat_id: int, user_id: str,
                        rng: random.Random | None = None) -> str:
    """Choose this user's next item, send it with its answer buttons, remember it as pending."""
    rng = rng or random.Random()
    now = services.clock.now()
    state = await services.practice.load(user_id)
    active = {c.id: c for c in await services.cases.active() if c.author_id != user_id}
    candidates = practice_candidates(state, [case_item(cid) for cid in active], rng)
    item = pick_next(state, candidates, now, rng)
    kind, ident = parse_item(item)
    if kind == "case" and ident not in active:  # defensive: only active cases are candidates
        item = drill_item(drills.new_drill_id(rng))
        kind, ident = parse_item(item)
    old_item, old_message = await services.practice.pending(user_id)
    if old_item and old_message:  # the question it replaces can no longer be answered
        with contextlib.suppress(TelegramError):
            await bot.edit_message_reply_markup(chat_id, old_message, reply_markup=None)
    await services.practice.set_pending(user_id, item)
    if kind == "case":
        keyboard = options_keyboard(item, [DISPLAY_NAMES[label] for label in LABELS])
        message = await bot.send_photo(chat_id, active[ident].file_id, caption=texts.QUIZ_CASE_CAPTION,
                                       reply_markup=keyboard)
    else:
        drill = await asyncio.to_thread(drills.drill_from_id, ident)
        message = await bot.send_photo(
            chat_id,
            drill.image_png,
            caption=texts.QUIZ_DRILL_CAPTION.format(question=html.escape(drill.question)),
            reply_markup=options_keyboard(item, drill.options),
        )
    await services.practice.set_pending(user_id, item, message.message_id)
    return item
