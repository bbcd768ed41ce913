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
import time
from collections.abc import Awaitable, Callable
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from accounts.models import Role, Session
from handlers import texts
from handlers.access import require_login
from handlers.callbacks import ExportDigitized, OpenLesson, PreviewAction
from handlers.context import AppContext, services_of
from handlers.limits import (DELIVERY_MAX_BACKOFF, MAX_DOWNLOAD_BYTES, PREVIEW_TTL, PROGRESS_EDIT_INTERVAL,
                             PROGRESS_FIRST_DELAY, SMALL_PHOTO_PX)
from handlers.remote_analysis import analyse_remotely
from handlers.steps import reply
from inference.image_io import ImageRejected, check_image, preview_jpeg
from inference.labels import DISPLAY_NAMES
from inference.queue import QueueFull
from storage.history import AnalysisRecord
from storage.inflight import InFlight
from storage.mongo import sha256_hex

if TYPE_CHECKING:
    from inference.analysis import Analysis

log = logging.getLogger(__name__)

PENDING = "pending_ecg"  # user_data key: the image waiting for Confirm / Cancel
PHOTO_TIP_SHOWN = "photo_tip_shown"
ALLOWED_EXTENSIONS = {".jpg", ".jpeg", ".png"}
ALLOWED_MIME_TYPES = {"image/jpeg", "image/png", "image/jpg"}
BAR_WIDTH = 10
FINAL_TRIES = 3  # a progress display's last text: tries when Telegram says "retry after"


# --- receiving an image ---------------------------------------------------------------------------
@require_login
async def receive_photo(update: Update, context: AppContext, session: Session) -> None:
    photo = update.message.photo[-1]
    await _preview(update, context, photo.file_id, kind="photo", picture=photo.file_id)
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
    # The preview shows the picture itself (a file would show as a file): downloaded, checked against the
    # image limits before anything is decoded, shrunk, sent as a photo. The original file is what Confirm
    # analyses.
    try:
        data = await _fetch(context, document.file_id)
    except TelegramError as exc:
        log.warning("ECG download for the preview failed: %s", exc)
        await reply(update, texts.DOWNLOAD_FAILED)
        return
    try:
        picture = await asyncio.to_thread(preview_jpeg, data)
    except ImageRejected as exc:
        await reply(update, image_refused_text(exc))
        return
    await _preview(update, context, document.file_id, kind="document", picture=picture)


def image_refused_text(exc: ImageRejected) -> str:
    return texts.IMAGE_REFUSED.format(details=refusal_text(exc.code, exc.detail))


def _preview_keyboard(preview_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(texts.CONFIRM_BUTTON, callback_data=PreviewAction("confirm", preview_id).pack()),
                InlineKeyboardButton(texts.CANCEL_BUTTON, callback_data=PreviewAction("cancel", preview_id).pack()),
            ]
        ]
    )


async def _preview(update: Update, context: AppContext, file_id: str, kind: str, picture: str | bytes) -> None:
    """Show the picture back as a photo with Confirm / Cancel (`picture`: a photo's file id, or a JPEG);
    `file_id` is what Confirm analyses. A newer image replaces a waiting one."""
    old = context.user_data.pop(PENDING, None)
    if old:
        await _retire_preview(context, update.effective_chat.id, old, texts.PREVIEW_REPLACED)
        await reply(update, texts.PREVIEW_REPLACED)
    preview_id = secrets.token_urlsafe(6)
    keyboard = _preview_keyboard(preview_id)
    chat = update.effective_chat
    message = await chat.send_photo(picture, caption=texts.PREVIEW_CAPTION, reply_markup=keyboard)
    shown = message.photo[-1].file_id if message.photo else file_id
    _keep_pending(context.application, context.user_data, chat.id, update.effective_user.id,
                  preview_id, file_id, shown, kind, message.message_id)


def _keep_pending(application: Application, user_data: dict, chat_id: int, telegram_id: int, preview_id: str,
                  file_id: str, preview_file_id: str, kind: str, message_id: int) -> None:
    """Remember the preview waiting for Confirm / Cancel (file ids only) and schedule its expiry."""
    now = services_of(application).clock.now()
    user_data[PENDING] = {
        "id": preview_id,
        "file_id": file_id,
        "preview_file_id": preview_file_id,
        "kind": kind,
        "message_id": message_id,
        "expires_at": (now + PREVIEW_TTL).timestamp(),
    }
    application.job_queue.run_once(
        _expire_preview_job,
        when=PREVIEW_TTL,
        name=f"preview:{preview_id}",
        chat_id=chat_id,
        user_id=telegram_id,
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
    """The analysis, recorded as in flight until its answer is out: a bot killed meanwhile tells the user
    at start-up and offers Confirm again (`offer_again`).

    Telegram takes about one call a second to a chat (`bot.telegram_limits`), so every call to the chat
    before the result costs the user a second. The callback is answered at once with "analysing" (no
    chat, not limited); the download and the analysis start; an answer ready within PROGRESS_FIRST_DELAY
    (one user: 0.5-1.1 s) is the first call to the chat. Only a longer wait (a queue, workers far away)
    turns the preview's caption into the progress display first. The progress's last text ("analysed",
    which also takes the buttons off) comes after the result and the heat map. No chat actions."""
    await update.callback_query.answer(texts.CONFIRM_ANSWER)
    services = context.services
    chat_id = update.effective_chat.id
    record = InFlight(
        id=pending["id"],
        user_id=session.user_id,
        telegram_id=update.effective_user.id,
        chat_id=chat_id,
        file_id=pending["file_id"],
        preview_file_id=pending.get("preview_file_id", pending["file_id"]),
        kind=pending["kind"],
        started_at=services.clock.now(),
    )
    await services.in_flight.start(record)
    progress = Progress(_caption_editor(context, chat_id, pending["message_id"]),
                        notice=lambda text: reply(update, text), first_delay=PROGRESS_FIRST_DELAY.total_seconds())
    progress.show(texts.PROGRESS_DOWNLOADING)  # shown only if the answer is not ready by then; not awaited
    try:
        delivered = await _analyse_confirmed(update, context, session, pending, progress)
    except Exception:
        progress.hold()
        await services.in_flight.finish(record.id)
        raise
    # (cancelled by a shutdown: the record stays, and the user is told after the restart)
    await services.in_flight.finish(record.id)
    if delivered is None:
        return  # refused or failed: progress.final has said so
    await progress.final(texts.PROGRESS_DONE, notice=False)  # off the critical path: after the heat map
    if delivered.is_ecg and delivered.uncertain and pending["kind"] == "photo":
        await reply(update, texts.PHOTO_TIP)  # an unclear photo: a file is the usual cure


async def _analyse_confirmed(update: Update, context: AppContext, session: Session, pending: dict,
                             progress: Progress):
    """Download, check, analyse, store, send the result and the heat map. Returns the result sent, or
    None after `progress.final` told the user why there is none."""
    services = context.services
    data = await _download(context, pending["file_id"], progress)
    if data is None:
        return None
    progress.show(texts.PROGRESS_CHECKING)
    try:
        await asyncio.to_thread(check_image, data)
    except ImageRejected as exc:
        await progress.final(image_refused_text(exc))
        return None
    outcome = await _analyse_with_progress(update, context, data, progress,
                                           analysis_id=f"{update.effective_chat.id}-{pending['id']}")
    if outcome is None:
        return None
    progress.hold()  # a progress edit waiting for its turn would come before the result: dropped
    result, heatmap = outcome.result, outcome.heatmap
    export_id = await _keep_digitized(context, session, outcome)
    # in /history before it is sent: a result that cannot be delivered at once is not lost
    await services.history.add(
        session.user_id,
        AnalysisRecord(
            created_at=services.clock.now(),
            is_ecg=result.is_ecg,
            label=result.label,
            display_name=result.display_name,
            confidence=result.confidence,
            uncertain=result.uncertain,
            image_sha256=sha256_hex(data),
        ),
    )
    await _send_result(update, context, session, result, heatmap, export_id)
    return result


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


async def _fetch(context: AppContext, file_id: str) -> bytes:
    telegram_file = await context.bot.get_file(file_id)
    return bytes(await telegram_file.download_as_bytearray())


async def _download(context: AppContext, file_id: str, progress: Progress) -> bytes | None:
    try:
        return await _fetch(context, file_id)
    except TelegramError as exc:
        log.warning("ECG download failed: %s", exc)
        await progress.final(texts.DOWNLOAD_FAILED)
        return None


async def _analyse_with_progress(update: Update, context: AppContext, data: bytes,
                                 progress: Progress, analysis_id: str = "") -> Analysis | None:
    """Queue the analysis, show the place in the queue (when it changes), then "analysing" until the
    result is in. Returns the `inference.analysis.Analysis`, or None after telling the user what went
    wrong. With workers (ANALYSIS_BROKER_URL): `handlers.remote_analysis`."""
    services = context.services
    if services.remote_analyses is not None:
        return await analyse_remotely(services.remote_analyses, analysis_id or secrets.token_hex(8), data, progress)
    loop = asyncio.get_running_loop()
    started = asyncio.Event()

    def analyse(image: bytes):
        loop.call_soon_threadsafe(started.set)
        return services.analyse(image)

    async def on_position(position: int) -> None:
        if not started.is_set():
            progress.show(texts.PROGRESS_QUEUED.format(position=position))  # coalesced: see Progress

    async def show_analysing() -> None:
        await started.wait()
        progress.show(texts.PROGRESS_ANALYSING)

    indicator = asyncio.create_task(show_analysing())
    try:
        return await services.analysis_queue.run(analyse, data, on_position=on_position)
    except QueueFull:
        await progress.final(texts.QUEUE_FULL)
    except FileNotFoundError:
        log.error("diagnosis model file missing")
        await progress.final(texts.MODEL_UNAVAILABLE)
    except Exception:
        log.exception("analysis failed")
        await progress.final(texts.ANALYSIS_FAILED)
    finally:
        indicator.cancel()
    return None


def _caption_editor(context: AppContext, chat_id: int, message_id: int) -> Callable[[str], Awaitable[Any]]:
    """Edits the preview's caption (its Confirm / Cancel buttons go with the first edit)."""
    async def edit(text: str) -> None:
        await context.bot.edit_message_caption(chat_id, message_id, caption=text, reply_markup=None)

    return edit


class Progress:
    """The progress display: one message's text or caption, changed through `edit`, at most once per
    `PROGRESS_EDIT_INTERVAL` and only when its text changes. `show` asks for a text (the latest asked wins,
    so a queue position that moved three times in the interval costs one edit; the first is shown
    `first_delay` seconds after the display was made, at once by default); `hold` drops what waits (the
    answer goes out now; an edit already on its way goes on: calls to a chat go out in order); `final`
    shows its text after any edit on its way. When the message cannot be edited (deleted), a final text
    is sent as a new message through `notice`, unless `notice=False`."""

    def __init__(self, edit: Callable[[str], Awaitable[Any]], interval: float = PROGRESS_EDIT_INTERVAL.total_seconds(),
                 notice: Callable[[str], Awaitable[Any]] | None = None, first_delay: float = 0.0) -> None:
        self._edit_call = edit
        self._notice = notice
        self.interval = interval
        self._shown: str | None = None  # what the message shows, or is being changed to
        self._wanted: str | None = None
        self._last = time.monotonic() + first_delay - interval if first_delay > 0 else -math.inf
        self._task: asyncio.Task | None = None
        self._editing = False
        self._held = False

    def show(self, text: str) -> None:
        if self._held:
            return
        self._wanted = text
        if self._wanted != self._shown and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._wanted != self._shown and not self._held:
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue  # the wanted text may have changed meanwhile
            text = self._wanted
            self._shown, self._last = text, time.monotonic()
            self._editing = True
            try:
                await self._edit(text)
            finally:
                self._editing = False
                self._last = time.monotonic()  # the interval counts from when it was shown (it may wait its turn)

    def hold(self) -> None:
        self._held = True
        if self._task is not None and not self._task.done() and not self._editing:
            self._task.cancel()

    async def final(self, text: str, *, notice: bool = True) -> None:
        """Show the last text (it also takes the buttons off: often the display's only edit, when the answer
        came before the first delay), after any edit on its way; a RetryAfter the limiter gave up on is
        waited out, up to FINAL_TRIES times."""
        self.hold()
        if self._task is not None and not self._task.done():
            await asyncio.wait({self._task})  # the edit on its way lands first (a waiting one was dropped)
        self._wanted = text
        if text != self._shown:
            self._shown, self._last = text, time.monotonic()
            if not await self._edit(text, tries=FINAL_TRIES) and notice and self._notice is not None:
                await self._notice(text)

    async def _edit(self, text: str, tries: int = 1) -> bool:
        """False when the message cannot be edited (deleted: a bad request); "not modified", a network error,
        a RetryAfter the limiter gave up on (after `tries` waits) or a blocked chat are logged and left at that."""
        for attempt in range(1, tries + 1):
            try:
                await self._edit_call(text)
            except RetryAfter as exc:
                if attempt < tries:
                    await asyncio.sleep(retry_seconds(exc) + 0.1)
                    continue
                log.warning("progress not shown: %s", exc)
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    return True
                log.warning("progress not shown: %s", exc)
                return False
            except TelegramError as exc:
                log.warning("progress not shown: %s", exc)
            return True
        return True


def retry_seconds(exc: RetryAfter) -> float:
    """How long Telegram asked to wait (a timedelta in PTB 22, seconds before)."""
    return exc.retry_after.total_seconds() if hasattr(exc.retry_after, "total_seconds") else float(exc.retry_after)


async def deliver(context: AppContext, chat_id: int, send: Callable[[], Awaitable[Any]]) -> bool:
    """Make one call that must reach the user (a result), however long Telegram or the network need:
    RetryAfter is waited out, network errors and timeouts retried with back-off. False when the user
    has blocked the bot (marked, not retried); a bad request is a bug and raised."""
    backoff = 1.0
    while True:
        try:
            await send()
            return True
        except RetryAfter as exc:
            wait = retry_seconds(exc)
            log.warning("result delayed: Telegram asked to wait %.1f s", wait)
            await asyncio.sleep(wait + 0.1)
        except Forbidden:
            await context.services.blocked_chats.mark(chat_id, context.services.clock.now())
            log.warning("result not delivered: the user blocked the bot")
            return False
        except BadRequest:
            raise
        except NetworkError as exc:  # TimedOut included
            log.warning("result delayed by a network error (%s); retrying in %.0f s", type(exc).__name__, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, DELIVERY_MAX_BACKOFF.total_seconds())


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
        text = f"<b>{texts.NOT_AN_ECG}</b>\n\n{refusal_text(result.reason_code, result.reason)}\n\n{texts.DISCLAIMER}"
        await deliver(context, chat.id, lambda: chat.send_message(text))
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
    if not await deliver(context, chat.id, lambda: chat.send_message(f"{text}\n\n{texts.DISCLAIMER}", reply_markup=markup)):
        return
    if heatmap:
        caption = texts.HEATMAP_CAPTION.format(name=result.display_name)
        if result.marked_leads:
            caption += texts.HEATMAP_MARKED.format(leads=", ".join(result.marked_leads))
        await deliver(context, chat.id, lambda: chat.send_photo(heatmap, caption=caption))


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


# --- after a restart ----------------------------------------------------------------------------------
async def offer_again(application: Application, record: InFlight) -> None:
    """An analysis the bot was stopped in the middle of: the preview comes back (the same picture, kept by
    its file id) saying so, with Confirm / Cancel, as a new pending preview of that user."""
    preview_id = secrets.token_urlsafe(6)
    message = await application.bot.send_photo(
        record.chat_id, record.preview_file_id, caption=texts.ANALYSIS_INTERRUPTED,
        reply_markup=_preview_keyboard(preview_id),
    )
    user_data = application.user_data[record.telegram_id]
    _keep_pending(application, user_data, record.chat_id, record.telegram_id, preview_id, record.file_id,
                  record.preview_file_id, record.kind, message.message_id)
    application.mark_data_for_update_persistence(user_ids=[record.telegram_id])
