"""ECG upload → preview with Confirm / Cancel → progress → diagnosis with heat map and what was
measured → the digitized ECG (PNG + CSV) on demand; /history.

Nothing of the image is kept but Telegram's file id while a preview waits, and the image's hash in
the history once analysed. The digitized signals (not the image) are kept 24 hours for the export
button, for their owner only (`storage.digitized`). The reading and the model run in
`services.analysis_queue` (a bounded queue off the event loop), so one user's analysis never delays
another user's replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import math
import secrets
from pathlib import PurePath
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError

from accounts.models import Role, Session
from handlers import texts
from handlers.access import require_login
from handlers.callbacks import ExportDigitized, OpenLesson, PreviewAction
from handlers.context import AppContext
from handlers.limits import MAX_DOWNLOAD_BYTES, PREVIEW_TTL, SMALL_PHOTO_PX
from handlers.steps import is_readable_image, reply
from inference.labels import DISPLAY_NAMES
from inference.queue import QueueFull
from storage.history import AnalysisRecord
from storage.mongo import sha256_hex

if TYPE_CHECKING:
    from inference.analysis import Analysis

log = logging.getLogger(__name__)

PENDING = "pending_ecg"  # user_data key: the image waiting for Confirm / Cancel
PHOTO_TIP_SHOWN = "photo_tip_shown"
ALLOWED_EXTENSIONS = {".jpg", ".jpeg", ".png"}
ALLOWED_MIME_TYPES = {"image/jpeg", "image/png", "image/jpg"}
BAR_WIDTH = 10


# --- receiving an image ---------------------------------------------------------------------------
@require_login
async def receive_photo(update: Update, context: AppContext, session: Session) -> None:
    photo = update.message.photo[-1]
    await _preview(update, context, photo.file_id, kind="photo")
    longest = max(photo.width, photo.height)
    if longest < SMALL_PHOTO_PX:
        await reply(update, texts.PHOTO_TOO_SMALL.format(width=photo.width, height=photo.height))
    elif not context.user_data.get(PHOTO_TIP_SHOWN):
        await reply(update, texts.PHOTO_TIP)
    context.user_data[PHOTO_TIP_SHOWN] = True


@require_login
async def receive_document(update: Update, context: AppContext, session: Session) -> None:
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
                InlineKeyboardButton(texts.CONFIRM_BUTTON, callback_data=PreviewAction("confirm", preview_id).pack()),
                InlineKeyboardButton(texts.CANCEL_BUTTON, callback_data=PreviewAction("cancel", preview_id).pack()),
            ]
        ]
    )


async def _preview(update: Update, context: AppContext, file_id: str, kind: str) -> None:
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
    now = context.services.clock.now()
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


async def _retire_preview(context: AppContext, chat_id: int, pending: dict, note: str) -> None:
    """Take the buttons off an old preview and say why."""
    for job in context.job_queue.get_jobs_by_name(f"preview:{pending['id']}"):
        job.schedule_removal()
    with contextlib.suppress(TelegramError):
        await context.bot.edit_message_caption(chat_id, pending["message_id"], caption=note, reply_markup=None)


async def _expire_preview_job(context: AppContext) -> None:
    pending = context.user_data.get(PENDING)
    if pending and pending["id"] == context.job.data:
        context.user_data.pop(PENDING)
        await _retire_preview(context, context.job.chat_id, pending, texts.PREVIEW_EXPIRED)
        await context.application.update_persistence()


# --- Confirm / Cancel -----------------------------------------------------------------------------
async def answer_preview(update: Update, context: AppContext) -> None:
    query = update.callback_query
    pressed = PreviewAction.parse(query.data)
    preview_id = pressed.preview_id
    pending = context.user_data.get(PENDING)
    if not pending or pending["id"] != preview_id:
        await query.answer(texts.PREVIEW_GONE)
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(None)
        return
    context.user_data.pop(PENDING)  # a double press must not analyse twice
    for job in context.job_queue.get_jobs_by_name(f"preview:{preview_id}"):
        job.schedule_removal()
    if context.services.clock.now().timestamp() > pending["expires_at"]:
        await query.answer()
        await _retire_preview(context, update.effective_chat.id, pending, texts.PREVIEW_EXPIRED)
        return
    if pressed.action == "cancel":
        await query.answer()
        await _retire_preview(context, update.effective_chat.id, pending, texts.PREVIEW_CANCELLED)
        return
    await _confirmed(update, context, pending)


@require_login
async def _confirmed(update: Update, context: AppContext, session: Session, pending: dict) -> None:
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
    result, heatmap = outcome.result, outcome.heatmap
    export_id = await _keep_digitized(context, session, outcome)
    await _edit(progress, texts.PROGRESS_DONE)
    await _send_result(update, context, session, result, heatmap, export_id)
    if result.is_ecg and result.uncertain and pending["kind"] == "photo":
        await reply(update, texts.PHOTO_TIP)  # an unclear photo: a file is the usual cure
    await context.services.history.add(
        session.user_id,
        AnalysisRecord(
            created_at=context.services.clock.now(),
            is_ecg=result.is_ecg,
            label=result.label,
            display_name=result.display_name,
            confidence=result.confidence,
            uncertain=result.uncertain,
            image_sha256=sha256_hex(data),
        ),
    )


async def _keep_digitized(context: AppContext, session: Session, outcome: Analysis) -> str | None:
    """Store the digitized signals for the export button; its analysis id, or None (nothing to offer)."""
    services = context.services
    if outcome.digitized is None or not outcome.result.is_ecg:
        return None
    from inference.export import to_npz_bytes

    try:
        return await services.digitized.add(session.user_id, to_npz_bytes(outcome.digitized),
                                            outcome.result.measurements, services.clock.now())
    except Exception:  # the diagnosis still goes out; only the export button is missing
        log.exception("could not keep the digitized ECG")
        return None


async def _download(context: AppContext, file_id: str, progress: Message) -> bytes | None:
    try:
        telegram_file = await context.bot.get_file(file_id)
        return bytes(await telegram_file.download_as_bytearray())
    except TelegramError as exc:
        log.warning("ECG download failed: %s", exc)
        await _edit(progress, texts.DOWNLOAD_FAILED)
        return None


async def _analyse_with_progress(update: Update, context: AppContext, data: bytes,
                                 progress: Message) -> Analysis | None:
    """Queue the analysis, show the place in the queue, then "analysing" with a chat action kept
    alive until the result is in. Returns the `inference.analysis.Analysis`, or None after telling
    the user what went wrong."""
    services = context.services
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
        return await services.analysis_queue.run(analyse, data, on_position=on_position)
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


async def _keep_typing(chat_id: int, context: AppContext) -> None:
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


def refusal_text(code: str | None, detail: str | None) -> str:
    """Why the picture was not read and how to retake it, from the reading's reason code."""
    why, tips = texts.REFUSALS.get(code or "", texts.REFUSAL_FALLBACK)
    why = why.format(detail=html.escape(detail or texts.UNREADABLE_DETAIL))
    if code == "not_ecg" and detail:
        why = f"{why[:-1]} ({html.escape(texts.NOT_ECG_REASONS.get(detail, detail))})."
    return texts.NOT_AN_ECG_DETAILS.format(reason=why, tips=tips)


def _finite(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def measured_block(measurements: dict | None, findings: list[dict]) -> str:
    """The "What I measured" lines: only what was measured, nothing filled in."""
    if not measurements:
        return ""
    g = measurements
    lines = [texts.MEASURED_HEADER]
    bpm = _finite(g.get("heart_rate_bpm"))
    rhythm = None
    if g.get("irregularly_irregular"):
        rhythm = texts.MEASURED_RHYTHM["irregularly_irregular"]
    elif g.get("rhythm_regular") is True:
        rhythm = texts.MEASURED_RHYTHM["regular"]
    elif g.get("rhythm_regular") is False:
        rhythm = texts.MEASURED_RHYTHM["irregular"]
    if bpm is not None:
        lines.append(texts.MEASURED_RATE_RHYTHM.format(bpm=bpm, rhythm=rhythm) if rhythm
                     else texts.MEASURED_RATE.format(bpm=bpm))
    elif rhythm:
        lines.append(texts.MEASURED_RHYTHM_ONLY.format(rhythm=rhythm))
    intervals = [texts.MEASURED_INTERVAL.format(name=name, ms=v)
                 for key, name in (("pr_ms", "PR"), ("qrs_ms", "QRS")) if (v := _finite(g.get(key))) is not None]
    qt, qtc = _finite(g.get("qt_ms")), _finite(g.get("qtc_bazett_ms"))
    if qt is not None:
        intervals.append(texts.MEASURED_QT.format(qt=qt, qtc=qtc) if qtc is not None else texts.MEASURED_QT_ONLY.format(qt=qt))
    if intervals:
        lines.append(" · ".join(intervals))
    if (axis := _finite(g.get("axis_deg"))) is not None:
        lines.append(texts.MEASURED_AXIS.format(axis=axis))
    for f in findings or []:
        territory = texts.MEASURED_TERRITORIES.get(f["territory"], f["territory"])
        leads = ", ".join(f["leads"])
        if f["kind"] == "pathological_q":
            lines.append(texts.MEASURED_Q.format(territory=territory, leads=leads))
        elif f["kind"] in texts.MEASURED_KINDS:
            lines.append(texts.MEASURED_FINDING.format(kind=texts.MEASURED_KINDS[f["kind"]], territory=territory,
                                                       leads=leads, mm=f["max_mm"]))
    if len(lines) == 1:
        lines.append(texts.MEASURED_NOTHING)
    return "\n".join(lines)


def why_block(reasons: list[dict]) -> str:
    """The "Why" lines: the measured signs behind the diagnosis (inference.explain)."""
    lines = [texts.WHY[r["key"]].format(**r["values"]) for r in reasons or [] if r["key"] in texts.WHY]
    return "\n".join([texts.WHY_HEADER] + [f"• {line}" for line in lines]) if lines else ""


async def _send_result(update, context, session: Session, result, heatmap: bytes | None,
                       export_id: str | None = None) -> None:
    chat = update.effective_chat
    if not result.is_ecg:
        await chat.send_message(
            f"<b>{texts.NOT_AN_ECG}</b>\n\n{refusal_text(result.reason_code, result.reason)}\n\n{texts.DISCLAIMER}"
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
    for block in (why_block(result.reasons), measured_block(result.measurements, result.findings)):
        if block:
            text = f"{text}\n\n{block}"
    rows = []
    lesson = _lesson_for(context, result.label)
    if session.role == Role.STUDENT and lesson:
        rows.append([InlineKeyboardButton(texts.EXPLAIN_BUTTON, callback_data=OpenLesson(lesson).pack())])
    if export_id:
        rows.append([InlineKeyboardButton(texts.EXPORT_BUTTON, callback_data=ExportDigitized(export_id).pack())])
    markup = InlineKeyboardMarkup(rows) if rows else None
    await chat.send_message(f"{text}\n\n{texts.DISCLAIMER}", reply_markup=markup)
    if heatmap:
        await chat.send_action(ChatAction.UPLOAD_PHOTO)
        await chat.send_photo(heatmap, caption=texts.HEATMAP_CAPTION.format(name=result.display_name))


# --- the digitized ECG (PNG + CSV) ----------------------------------------------------------------
def _export_files(npz: bytes, measurements: dict | None) -> tuple[bytes, bytes, str | None]:
    from inference.export import from_npz_bytes, plot_png, to_csv

    d = from_npz_bytes(npz)
    return plot_png(d, measurements), to_csv(d).encode(), d.rhythm_lead


@require_login
async def send_digitized(update: Update, context: AppContext, session: Session) -> None:
    """"Digitized ECG": the owner gets the re-plotted 12-lead as a photo and the CSV as a document;
    anyone else, or a stale id, gets a toast."""
    query = update.callback_query
    analysis_id = ExportDigitized.parse(query.data).analysis_id
    services = context.services
    stored = await services.digitized.get(analysis_id, session.user_id, services.clock.now())
    if stored is None:
        await query.answer(texts.EXPORT_GONE)
        return
    await query.answer()
    chat = update.effective_chat
    await chat.send_action(ChatAction.UPLOAD_PHOTO)
    png, csv, rhythm_lead = await asyncio.to_thread(_export_files, stored.npz, stored.measurements)
    await chat.send_photo(png, caption=texts.EXPORT_CAPTION)
    lead = texts.EXPORT_RHYTHM_LEAD.format(lead=html.escape(rhythm_lead)) if rhythm_lead else ""
    await chat.send_document(csv, filename=f"ecg-{analysis_id}.csv",
                             caption=texts.EXPORT_CSV_CAPTION.format(rhythm_lead=lead))


def _lesson_for(context: AppContext, label: str | None) -> str | None:
    """The lesson explaining a diagnosis, once lessons are served; None keeps the button away."""
    return context.services.lesson_for_label.get(label) if label else None


# --- /history ---------------------------------------------------------------------------------------
@require_login
async def history(update: Update, context: AppContext, session: Session) -> None:
    store = context.services.history
    if context.args and context.args[0].lower() == "clear":
        removed = await store.clear(session.user_id)
        await reply(update, texts.HISTORY_CLEARED.format(n=removed))
        return
    records = await store.recent(session.user_id)
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
