"""ECG upload → preview with Confirm / Cancel → progress → diagnosis with heat map; /history.

Nothing of the image is kept but Telegram's file id while a preview waits, and the image's hash in
the history once analysed. The model runs in `services.analysis` (a bounded queue off the event
loop), so one user's analysis never delays another user's replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import secrets
from datetime import timedelta
from pathlib import PurePath

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from accounts.models import Role, Session
from bot.services import get_services
from handlers import texts
from handlers.chat import is_readable_image, reply
from handlers.sessions import current_session, require_login
from inference.history import AnalysisRecord, image_hash
from inference.queue import QueueFull

log = logging.getLogger(__name__)

PENDING = "pending_ecg"  # user_data key: the image waiting for Confirm / Cancel
PHOTO_TIP_SHOWN = "photo_tip_shown"
CALLBACK = "ecg:"  # ecg:confirm:<id> / ecg:cancel:<id>
PREVIEW_TTL = timedelta(minutes=10)
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # Bot API getFile limit
SMALL_PHOTO_PX = 1000  # longest side below which a photo is probably too small to read
ALLOWED_EXTENSIONS = {".jpg", ".jpeg", ".png"}
ALLOWED_MIME_TYPES = {"image/jpeg", "image/png", "image/jpg"}
EXPLAIN_CALLBACK = "learn:open:"  # handled by the lessons handlers
BAR_WIDTH = 10


# --- receiving an image ---------------------------------------------------------------------------
async def receive_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if await current_session(update, context) is None:
        return  # answered "Please /login first"; nothing was kept
    photo = update.message.photo[-1]
    await _preview(update, context, photo.file_id, kind="photo")
    longest = max(photo.width, photo.height)
    if longest < SMALL_PHOTO_PX:
        await reply(update, texts.PHOTO_TOO_SMALL.format(width=photo.width, height=photo.height))
    elif not context.user_data.get(PHOTO_TIP_SHOWN):
        await reply(update, texts.PHOTO_TIP)
    context.user_data[PHOTO_TIP_SHOWN] = True


async def receive_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    if await current_session(update, context) is None:
        return
    document = update.message.document
    extension = PurePath(document.file_name or "").suffix.lower()
    if extension not in ALLOWED_EXTENSIONS or (
        document.mime_type and document.mime_type.lower() not in ALLOWED_MIME_TYPES
    ):
        await reply(update, f"{texts.EXTENSION_NOT_ALLOWED}\n{texts.ACCEPTED_FORMATS}")
        return
    if document.file_size and document.file_size > MAX_DOWNLOAD_BYTES:
        await reply(update, texts.FILE_TOO_LARGE.format(size_mb=document.file_size / 1024 / 1024))
        return
    await _preview(update, context, document.file_id, kind="document")


def _preview_keyboard(preview_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(texts.CONFIRM_BUTTON, callback_data=f"{CALLBACK}confirm:{preview_id}"),
                InlineKeyboardButton(texts.CANCEL_BUTTON, callback_data=f"{CALLBACK}cancel:{preview_id}"),
            ]
        ]
    )


async def _preview(update: Update, context: ContextTypes.DEFAULT_TYPE, file_id: str, kind: str) -> None:
    """Show the image back with Confirm / Cancel; a newer image replaces a waiting one."""
    old = context.user_data.pop(PENDING, None)
    if old:
        await _retire_preview(context, update.effective_chat.id, old, texts.PREVIEW_REPLACED)
        await reply(update, texts.PREVIEW_REPLACED)
    preview_id = secrets.token_urlsafe(6)
    keyboard = _preview_keyboard(preview_id)
    chat = update.effective_chat
    if kind == "photo":
        message = await chat.send_photo(file_id, caption=texts.PREVIEW_CAPTION, reply_markup=keyboard)
    else:
        message = await chat.send_document(file_id, caption=texts.PREVIEW_CAPTION, reply_markup=keyboard)
    now = get_services(context).clock.now()
    context.user_data[PENDING] = {
        "id": preview_id,
        "file_id": file_id,
        "kind": kind,
        "message_id": message.message_id,
        "expires_at": (now + PREVIEW_TTL).timestamp(),
    }
    context.job_queue.run_once(
        _expire_preview_job,
        when=PREVIEW_TTL,
        name=f"preview:{preview_id}",
        chat_id=chat.id,
        user_id=update.effective_user.id,
        data=preview_id,
    )


async def _retire_preview(context: ContextTypes.DEFAULT_TYPE, chat_id: int, pending: dict, note: str) -> None:
    """Take the buttons off an old preview and say why."""
    for job in context.job_queue.get_jobs_by_name(f"preview:{pending['id']}"):
        job.schedule_removal()
    with contextlib.suppress(TelegramError):
        await context.bot.edit_message_caption(chat_id, pending["message_id"], caption=note, reply_markup=None)


async def _expire_preview_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    pending = context.user_data.get(PENDING)
    if pending and pending["id"] == context.job.data:
        context.user_data.pop(PENDING)
        await _retire_preview(context, context.job.chat_id, pending, texts.PREVIEW_EXPIRED)
        await context.application.update_persistence()


# --- Confirm / Cancel -----------------------------------------------------------------------------
async def preview_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    _, action, preview_id = query.data.split(":", 2)
    pending = context.user_data.get(PENDING)
    if not pending or pending["id"] != preview_id:
        await query.answer(texts.PREVIEW_GONE)
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(None)
        return
    context.user_data.pop(PENDING)  # a double press must not analyse twice
    for job in context.job_queue.get_jobs_by_name(f"preview:{preview_id}"):
        job.schedule_removal()
    if get_services(context).clock.now().timestamp() > pending["expires_at"]:
        await query.answer()
        await _retire_preview(context, update.effective_chat.id, pending, texts.PREVIEW_EXPIRED)
        return
    if action == "cancel":
        await query.answer()
        await _retire_preview(context, update.effective_chat.id, pending, texts.PREVIEW_CANCELLED)
        return
    await _confirmed(update, context, pending)


@require_login
async def _confirmed(update: Update, context: ContextTypes.DEFAULT_TYPE, session: Session, pending: dict) -> None:
    await update.callback_query.answer()
    with contextlib.suppress(TelegramError):
        await update.callback_query.edit_message_reply_markup(None)
    progress = await reply(update, texts.PROGRESS_DOWNLOADING)
    data = await _download(context, pending["file_id"], progress)
    if data is None:
        return
    await _edit(progress, texts.PROGRESS_CHECKING)
    if not await asyncio.to_thread(is_readable_image, data):
        await _edit(progress, texts.UNREADABLE_IMAGE)
        return
    outcome = await _analyse_with_progress(update, context, data, progress)
    if outcome is None:
        return
    result, heatmap = outcome
    await _edit(progress, texts.PROGRESS_DONE)
    await _send_result(update, context, session, result, heatmap)
    if result.is_ecg and result.uncertain and pending["kind"] == "photo":
        await reply(update, texts.PHOTO_TIP)  # an unclear photo: a file is the usual cure
    await get_services(context).history.add(
        session.user_id,
        AnalysisRecord(
            created_at=get_services(context).clock.now(),
            is_ecg=result.is_ecg,
            label=result.label,
            display_name=result.display_name,
            confidence=result.confidence,
            uncertain=result.uncertain,
            image_sha256=image_hash(data),
        ),
    )


async def _download(context: ContextTypes.DEFAULT_TYPE, file_id: str, progress: Message) -> bytes | None:
    try:
        telegram_file = await context.bot.get_file(file_id)
        return bytes(await telegram_file.download_as_bytearray())
    except TelegramError as exc:
        log.warning("ECG download failed: %s", exc)
        await _edit(progress, texts.DOWNLOAD_FAILED)
        return None


async def _analyse_with_progress(update: Update, context: ContextTypes.DEFAULT_TYPE, data: bytes, progress: Message):
    """Queue the analysis, show the place in the queue, then "analysing" with a chat action kept
    alive until the result is in. Returns (result, heat map PNG or None), or None after telling
    the user what went wrong."""
    services = get_services(context)
    loop = asyncio.get_running_loop()
    started = asyncio.Event()

    def analyse(image: bytes):
        loop.call_soon_threadsafe(started.set)
        return services.analyse(image)

    async def on_position(position: int) -> None:
        if not started.is_set():
            await _edit(progress, texts.PROGRESS_QUEUED.format(position=position))

    async def show_analysing() -> None:
        await started.wait()
        await _edit(progress, texts.PROGRESS_ANALYSING)
        await _keep_typing(update.effective_chat.id, context)

    indicator = asyncio.create_task(show_analysing())
    try:
        return await services.analysis.run(analyse, data, on_position=on_position)
    except QueueFull:
        await _edit(progress, texts.QUEUE_FULL)
    except FileNotFoundError:
        log.error("diagnosis model file missing")
        await _edit(progress, texts.MODEL_UNAVAILABLE)
    except Exception:
        log.exception("analysis failed")
        await _edit(progress, texts.ANALYSIS_FAILED)
    finally:
        indicator.cancel()
    return None


async def _keep_typing(chat_id: int, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Telegram shows a chat action for about 5 seconds; repeat it until cancelled."""
    while True:
        with contextlib.suppress(TelegramError):
            await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
        await asyncio.sleep(4)


async def _edit(message: Message, text: str) -> None:
    with contextlib.suppress(TelegramError):  # "not modified" and the like are harmless here
        await message.edit_text(text)


# --- the result -----------------------------------------------------------------------------------
def probability_chart(probabilities: dict[str, float], display_names: dict[str, str]) -> str:
    """A compact text bar chart, one line a class, widest name padded."""
    width = max(len(display_names[key]) for key in probabilities)
    lines = []
    for key, p in sorted(probabilities.items(), key=lambda item: -item[1]):
        filled = round(p * BAR_WIDTH)
        lines.append(f"{display_names[key]:<{width}} {'█' * filled}{'░' * (BAR_WIDTH - filled)} {p:4.0%}")
    return html.escape("\n".join(lines))


async def _send_result(update, context, session: Session, result, heatmap: bytes | None) -> None:
    from inference import DISPLAY_NAMES

    chat = update.effective_chat
    if not result.is_ecg:
        await chat.send_message(
            f"<b>{texts.NOT_AN_ECG}</b>\n\n{texts.NOT_AN_ECG_DETAILS.format(reason=html.escape(result.reason or ''))}"
            f"\n\n{texts.DISCLAIMER}"
        )
        return
    chart = probability_chart(result.probabilities, DISPLAY_NAMES)
    if result.uncertain:
        (k1, p1), (k2, p2) = result.top_two[:2]
        text = texts.RESULT_UNCERTAIN.format(
            first=DISPLAY_NAMES[k1], p1=p1, second=DISPLAY_NAMES[k2], p2=p2, chart=chart
        )
    else:
        text = texts.RESULT.format(name=result.display_name, confidence=result.confidence, chart=chart)
    markup = None
    lesson = _lesson_for(context, result.label)
    if session.role == Role.STUDENT and lesson:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(texts.EXPLAIN_BUTTON, callback_data=EXPLAIN_CALLBACK + lesson)]])
    await chat.send_message(f"{text}\n\n{texts.DISCLAIMER}", reply_markup=markup)
    if heatmap:
        await chat.send_action(ChatAction.UPLOAD_PHOTO)
        await chat.send_photo(heatmap, caption=texts.HEATMAP_CAPTION.format(name=result.display_name))


def _lesson_for(context: ContextTypes.DEFAULT_TYPE, label: str | None) -> str | None:
    """The lesson explaining a diagnosis, once lessons are served; None keeps the button away."""
    return get_services(context).lesson_for_label.get(label) if label else None


# --- /history ---------------------------------------------------------------------------------------
@require_login
async def history(update: Update, context: ContextTypes.DEFAULT_TYPE, session: Session) -> None:
    store = get_services(context).history
    if context.args and context.args[0].lower() == "clear":
        removed = await store.clear(session.user_id)
        await reply(update, texts.HISTORY_CLEARED.format(n=removed))
        return
    records = await store.recent(session.user_id, 10)
    if not records:
        await reply(update, texts.HISTORY_EMPTY)
        return
    lines = [texts.HISTORY_HEADER]
    for record in records:
        lines.append(
            texts.HISTORY_LINE.format(
                date=record.created_at.strftime("%Y-%m-%d %H:%M"),
                name=record.display_name if record.is_ecg else texts.HISTORY_NOT_ECG,
                confidence=f"{record.confidence:.0%}" if record.confidence is not None else "—",
            )
        )
    await reply(update, "\n".join(lines))
