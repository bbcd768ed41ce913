"""Instructors: /share (lesson deep links), /addcase (image → correct class → explanation) and
/mycases (their cases with anonymous answer counts, and a Remove button each).

An instructor is an account the operator promoted with `ecg-bot grant-instructor EMAIL`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.error import TelegramError
from telegram.ext import CallbackQueryHandler, ConversationHandler, MessageHandler, filters

from accounts.models import Session
from content.lessons import all_lessons
from content.practice import EXPLANATION_LIMIT
from handlers import texts
from handlers.access import instructors_only
from handlers.callbacks import CaseLabel, RemoveCase
from handlers.context import AppContext
from handlers.diagnosis import image_refused_text
from handlers.limits import MAX_DOWNLOAD_BYTES
from handlers.steps import ANSWER, conversation, reply, typed_text
from inference.image_io import ImageRejected, check_image, preview_jpeg
from inference.labels import DISPLAY_NAMES, LABELS
from storage.mongo import sha256_hex

CASE_IMAGE, CASE_LABEL, CASE_EXPLANATION = range(3)
DRAFT = "new_case"
LIST_CHUNK = 3500


def deep_link(bot_username: str, payload: str) -> str:
    return f"https://t.me/{bot_username}?start={payload}"


# --- /share ---------------------------------------------------------------------------------------
@instructors_only
async def share(update: Update, context: AppContext, session: Session) -> None:
    lines = [texts.SHARE_HEADER]
    for lesson in all_lessons():
        link = deep_link(context.bot.username, lesson.deep_link_payload)
        lines.append(texts.SHARE_LINE.format(title=html.escape(lesson.title), link=link))
    await reply(update, "\n\n".join(lines), link_preview_options=LinkPreviewOptions(is_disabled=True))


# --- /addcase -------------------------------------------------------------------------------------
@instructors_only
async def start(update: Update, context: AppContext, session: Session) -> int:
    context.user_data[DRAFT] = {}
    await reply(update, texts.ADDCASE_ASK_IMAGE)
    return CASE_IMAGE


def _label_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(DISPLAY_NAMES[label], callback_data=CaseLabel(label).pack())] for label in LABELS]
    )


async def receive_image(update: Update, context: AppContext) -> int:
    message = update.effective_message
    source = message.photo[-1] if message.photo else message.document
    if source.file_size and source.file_size > MAX_DOWNLOAD_BYTES:
        await reply(update, texts.FILE_TOO_LARGE.format(size_mb=source.file_size / 1024 / 1024))
        return CASE_IMAGE
    data = bytes(await (await context.bot.get_file(source.file_id)).download_as_bytearray())
    # The chat's own limits, from the header before anything is decoded (JPEG/PNG by content, size, shape),
    # then shown back as the diagnosis shows it: a photo as itself, a file as a preview JPEG at most
    # PREVIEW_SIDE a side (Telegram would not take every picture within our limits as a photo, e.g.
    # 11 000 x 4 000 px or damaged after its header). The case keeps the original's hash; its file_id is
    # that of the photo shown, which the quiz re-sends.
    try:
        if message.photo:
            await asyncio.to_thread(check_image, data)
            picture: str | bytes = source.file_id
        else:
            picture = await asyncio.to_thread(preview_jpeg, data)
    except ImageRejected as exc:
        await reply(update, image_refused_text(exc))
        return CASE_IMAGE
    shown = await update.effective_chat.send_photo(picture, caption=texts.ADDCASE_ASK_LABEL,
                                                   reply_markup=_label_keyboard())
    context.user_data[DRAFT] = {"file_id": shown.photo[-1].file_id, "sha256": sha256_hex(data)}
    return CASE_LABEL


async def not_an_image(update: Update, context: AppContext) -> int:
    await reply(update, texts.ADDCASE_NOT_IMAGE)
    return CASE_IMAGE


async def receive_label(update: Update, context: AppContext) -> int:
    query = update.callback_query
    label = CaseLabel.parse(query.data).label
    await query.answer()
    if "file_id" not in context.user_data.get(DRAFT, {}):
        return CASE_LABEL
    context.user_data[DRAFT]["label"] = label
    with contextlib.suppress(TelegramError):
        await query.edit_message_caption(f"{texts.ADDCASE_ASK_LABEL}\n→ <b>{DISPLAY_NAMES[label]}</b>", reply_markup=None)
    await reply(update, texts.ADDCASE_ASK_EXPLANATION.format(label=DISPLAY_NAMES[label], limit=EXPLANATION_LIMIT))
    return CASE_EXPLANATION


async def press_a_button(update: Update, context: AppContext) -> int:
    await reply(update, texts.ADDCASE_PRESS_BUTTON)
    return CASE_LABEL


async def receive_explanation(update: Update, context: AppContext) -> int:
    explanation = typed_text(update).strip()
    if not explanation or len(explanation) > EXPLANATION_LIMIT:
        await reply(update, texts.ADDCASE_EXPLANATION_BAD.format(limit=EXPLANATION_LIMIT))
        return CASE_EXPLANATION
    return await _save_case(update, context, context.user_data.pop(DRAFT, {}), explanation)


@instructors_only
async def _save_case(update: Update, context: AppContext, session: Session, draft: dict, explanation: str) -> int:
    services = context.services
    case = await services.cases.add(
        session.user_id, draft["file_id"], draft["sha256"], draft["label"], explanation, services.clock.now()
    )
    await reply(update, texts.ADDCASE_SAVED.format(id=case.id, label=DISPLAY_NAMES[case.label]))
    return ConversationHandler.END


def build() -> ConversationHandler:
    image = filters.PHOTO | filters.Document.IMAGE
    return conversation(
        "addcase", "addcase", start,
        {
            CASE_IMAGE: [MessageHandler(image, receive_image), MessageHandler(ANSWER, not_an_image)],
            CASE_LABEL: [
                CallbackQueryHandler(receive_label, pattern=CaseLabel.matches),
                MessageHandler(ANSWER, press_a_button),
            ],
            CASE_EXPLANATION: [MessageHandler(ANSWER, receive_explanation)],
        },
        DRAFT,
    )


# --- /mycases -------------------------------------------------------------------------------------
def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@instructors_only
async def my_cases(update: Update, context: AppContext, session: Session) -> None:
    store = context.services.cases
    cases = await store.by_author(session.user_id)
    if not cases:
        await reply(update, texts.MYCASES_NONE)
        return
    chunks: list[tuple[list[str], list]] = [([texts.MYCASES_HEADER.format(n=len(cases))], [])]
    for case in cases:
        counts = await store.answer_counts(case.id)
        parts = [f"{DISPLAY_NAMES[label]} {n}" for label, n in counts.items() if n]
        entry = texts.MYCASES_LINE.format(
            id=case.id,
            label=DISPLAY_NAMES[case.label],
            date=case.created_at.strftime("%Y-%m-%d"),
            explanation=html.escape(_short(case.explanation)),
            total=sum(counts.values()),
            right=counts[case.label],
            breakdown=texts.MYCASES_BREAKDOWN.format(parts=" · ".join(parts)) if parts else "",
        )
        lines, buttons = chunks[-1]
        if sum(len(x) + 1 for x in lines) + len(entry) > LIST_CHUNK:
            chunks.append(([], []))
            lines, buttons = chunks[-1]
        lines.append(entry)
        buttons.append([InlineKeyboardButton(texts.MYCASES_REMOVE_BUTTON.format(id=case.id),
                                             callback_data=RemoveCase(case.id).pack())])
    for lines, buttons in chunks:
        await reply(update, "\n".join(lines), reply_markup=InlineKeyboardMarkup(buttons))


@instructors_only
async def remove_case(update: Update, context: AppContext, session: Session) -> None:
    query = update.callback_query
    await query.answer()
    case_id = RemoveCase.parse(query.data).case_id
    removed = await context.services.cases.remove(case_id, session.user_id)
    markup = query.message.reply_markup if query.message else None
    if markup is not None:
        rows = [row for row in markup.inline_keyboard if all(b.callback_data != query.data for b in row)]
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(InlineKeyboardMarkup(rows) if rows else None)
    await reply(update, texts.MYCASES_REMOVED.format(id=html.escape(case_id)) if removed else texts.MYCASES_NOT_FOUND)
