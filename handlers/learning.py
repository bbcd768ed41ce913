"""/learn: the lessons of content/lessons as inline buttons, read in pages with Back / Next;
lesson deep links (`/start lesson-<slug>`, also remembered across /login) and the
"Explain this diagnosis" button of a result.

A page is one text message (title, page number, the page, the buttons), edited in place when the
reader moves to a page without a figure. A page with a figure gets the figure first, as a photo
with its caption (≤ 1024 characters), then the page text as a new message (≤ 4096); the previous
page keeps its text and loses its buttons, so the chat reads top to bottom.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from accounts.models import Session
from content.figures import render_figure
from content.lessons import MESSAGE_LIMIT, Lesson, all_lessons, get_lesson
from handlers import texts
from handlers.access import STUDENTS, admitted, peek_session, students_only
from handlers.callbacks import LessonList, LessonPage, OpenLesson
from handlers.context import AppContext
from handlers.steps import reply

log = logging.getLogger(__name__)

PENDING_LESSON = "pending_lesson"  # user_data: a lesson link opened while logged out


def lesson_list_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(lesson.title, callback_data=OpenLesson(lesson.slug).pack())] for lesson in all_lessons()]
    )


def page_text(lesson: Lesson, n: int) -> str:
    """The HTML of page ``n``: a title line, then the page (the title is dropped if it would not fit)."""
    body = lesson.pages[n].html
    header = texts.LESSON_PAGE_HEADER.format(title=html.escape(lesson.title), page=n + 1, pages=len(lesson.pages))
    return header + body if len(header) + len(body) <= MESSAGE_LIMIT else body


def page_keyboard(lesson: Lesson, n: int) -> InlineKeyboardMarkup:
    nav = []
    if n > 0:
        nav.append(InlineKeyboardButton(texts.LESSON_BACK, callback_data=LessonPage(n - 1, lesson.slug).pack()))
    if n < len(lesson.pages) - 1:
        nav.append(InlineKeyboardButton(texts.LESSON_NEXT, callback_data=LessonPage(n + 1, lesson.slug).pack()))
    rows = [nav] if nav else []
    rows.append([InlineKeyboardButton(texts.LESSON_ALL, callback_data=LessonList().pack())])
    return InlineKeyboardMarkup(rows)


async def _send_figure(context: AppContext, chat_id: int, name: str, caption: str) -> None:
    """Upload the figure once; later sends reuse Telegram's file_id."""
    ids = context.services.figure_file_ids
    photo = ids.get(name)
    if photo is None:
        photo = await asyncio.to_thread(render_figure, name)
    message = await context.bot.send_photo(chat_id, photo, caption=caption)
    if message.photo:
        ids[name] = message.photo[-1].file_id


async def send_page(context: AppContext, chat_id: int, lesson: Lesson, n: int) -> Message:
    page = lesson.pages[n]
    if page.figure is not None:
        await _send_figure(context, chat_id, page.figure, page.caption_html)
    return await context.bot.send_message(chat_id, page_text(lesson, n), reply_markup=page_keyboard(lesson, n))


async def open_lesson(context: AppContext, chat_id: int, slug: str) -> None:
    lesson = get_lesson(slug)
    if lesson is None:
        await context.bot.send_message(chat_id, texts.LESSON_UNKNOWN)
        return
    await send_page(context, chat_id, lesson, 0)


# --- /learn and the buttons -----------------------------------------------------------------------
@students_only
async def learn(update: Update, context: AppContext, session: Session) -> None:
    await reply(update, texts.LEARN_HEADER, reply_markup=lesson_list_keyboard())


@students_only
async def show_lesson_list(update: Update, context: AppContext, session: Session) -> None:
    await update.callback_query.answer()
    await reply(update, texts.LEARN_HEADER, reply_markup=lesson_list_keyboard())


@students_only
async def open_lesson_button(update: Update, context: AppContext, session: Session) -> None:
    query = update.callback_query
    await query.answer()
    await open_lesson(context, update.effective_chat.id, OpenLesson.parse(query.data).slug)


@students_only
async def turn_page(update: Update, context: AppContext, session: Session) -> None:
    query = update.callback_query
    await query.answer()
    pressed = LessonPage.parse(query.data)
    lesson = get_lesson(pressed.slug)
    if lesson is None or pressed.page >= len(lesson.pages):
        await reply(update, texts.LESSON_UNKNOWN)
        return
    message, chat_id, n = query.message, update.effective_chat.id, pressed.page
    if message is not None and lesson.pages[n].figure is None and message.text is not None:
        try:
            await message.edit_text(page_text(lesson, n), reply_markup=page_keyboard(lesson, n))
            return
        except TelegramError as exc:  # too old to edit, or gone: send it anew
            log.info("lesson page not edited in place: %s", exc)
    if message is not None:
        with contextlib.suppress(TelegramError):
            await message.edit_reply_markup(None)
    await send_page(context, chat_id, lesson, n)


# --- deep links -----------------------------------------------------------------------------------
async def open_from_link(update: Update, context: AppContext, slug: str) -> None:
    """`/start lesson-<slug>`: open it now, or remember it until the user has logged in."""
    lesson = get_lesson(slug)
    if lesson is None:
        await reply(update, texts.LESSON_UNKNOWN)
        return
    session = await peek_session(update, context)
    if session is None:
        context.user_data[PENDING_LESSON] = slug
        await reply(update, texts.LESSON_LINK_LOGIN.format(title=html.escape(lesson.title)))
        return
    if await admitted(update, session, STUDENTS):
        await send_page(context, update.effective_chat.id, lesson, 0)


async def open_pending_lesson(update: Update, context: AppContext, session: Session) -> None:
    """Right after a successful login: open the lesson a link asked for, without asking again."""
    slug = context.user_data.pop(PENDING_LESSON, None)
    if slug and await admitted(update, session, STUDENTS):
        await open_lesson(context, update.effective_chat.id, slug)
