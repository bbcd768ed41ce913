"""The ECG flow end to end: upload → preview → Confirm / Cancel → progress → result; /history."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import timedelta

import pytest
from PIL import Image

from handlers import texts
from handlers.limits import PROGRESS_FIRST_DELAY


def image_bytes(width=1600, height=1200, fmt="JPEG", color="white") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, fmt)
    return buffer.getvalue()


def preview_of(message) -> bool:
    return message.reply_markup is not None and "Confirm" in str(message.reply_markup)


async def test_not_logged_in_image_is_refused_and_not_kept(harness):
    ann = harness.user(2001, "Ann")
    await ann.send_photo(image_bytes())
    assert (await ann.wait_for()).raw_text == texts.PLEASE_LOGIN
    await ann.send_document(image_bytes(fmt="PNG"), "ecg.png", "image/png")
    assert (await ann.wait_for()).raw_text == texts.PLEASE_LOGIN
    await harness.settled()
    assert not await harness.db["ptb_user_data"].find_one({"owner_id": 2001, "data.pending_ecg": {"$exists": True}})


async def test_wrong_file_type_and_too_large(harness):
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    await ann.send_document(b"%PDF-1.4 not an image", "ecg.pdf", "application/pdf")
    refused = await ann.wait_for()
    assert refused.raw_text.startswith("image file extension is not allowed")
    assert "JPG, JPEG or PNG" in refused.raw_text
    await ann.send_document(image_bytes(fmt="GIF"), "ecg.gif", "image/gif")
    assert (await ann.wait_for()).raw_text.startswith("image file extension is not allowed")
    big = b"\xff\xd8" + b"\0" * (21 * 1024 * 1024)
    await ann.send_document(big, "huge.jpg", "image/jpeg")
    assert "up to 20 MB" in (await ann.wait_for()).text


async def test_photo_preview_cancel_and_first_time_tip(harness):
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    await ann.send_photo(image_bytes())
    preview = await ann.wait_for(preview_of)
    assert preview.kind == "photo" and preview.caption == texts.PREVIEW_CAPTION
    assert [b[0] for row in preview.buttons for b in row] == ["Confirm", "Cancel"]
    assert "as a file" in (await ann.wait_for()).text  # told once how to send a sharper file
    await ann.press("Cancel", preview.message_id)
    edited = await ann.wait_for_edit(preview.message_id, lambda m: m.caption == texts.PREVIEW_CANCELLED)
    assert edited.reply_markup is None
    await ann.send_document(image_bytes(fmt="PNG"), "ecg.png", "image/png")
    second = await ann.wait_for(preview_of)
    assert second.kind == "photo"  # a file is previewed as the picture it is
    await ann.expect_silence(0.3)  # the tip is not repeated


async def test_small_photo_gets_advice(harness):
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    await ann.send_photo(image_bytes(600, 400))
    await ann.wait_for(preview_of)
    assert "too small" in (await ann.wait_for()).text


async def test_new_image_replaces_the_waiting_one(harness):
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    await ann.send_document(image_bytes(fmt="PNG"), "first.png", "image/png")
    first = await ann.wait_for(preview_of)
    await ann.send_document(image_bytes(fmt="PNG", color="gray"), "second.png", "image/png")
    assert (await ann.wait_for()).raw_text == texts.PREVIEW_REPLACED
    await ann.wait_for(preview_of)
    assert first.caption == texts.PREVIEW_REPLACED and first.reply_markup is None
    with pytest.raises(LookupError):  # the old buttons are gone
        await ann.press("Confirm", first.message_id)


async def test_unanswered_preview_expires(harness):
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    await ann.send_document(image_bytes(fmt="PNG"), "ecg.png", "image/png")
    preview = await ann.wait_for(preview_of)
    harness.clock.advance(timedelta(minutes=11))
    jobs = []
    for _ in range(100):  # the handler schedules the job right after sending the preview
        jobs = [j for j in harness.application.job_queue.jobs() if j.name.startswith("preview:")]
        if jobs:
            break
        await asyncio.sleep(0.02)
    assert len(jobs) == 1
    await jobs[0].run(harness.application)
    await ann.wait_for_edit(preview.message_id, lambda m: m.caption == texts.PREVIEW_EXPIRED)
    assert preview.reply_markup is None


async def test_history_empty_and_requires_login(harness):
    ann = harness.user(2001, "Ann")
    await ann.send_text("/history")
    assert (await ann.wait_for()).raw_text == texts.PLEASE_LOGIN
    await harness.signed_up(ann)
    await ann.send_text("/history")
    assert (await ann.wait_for()).raw_text == texts.HISTORY_EMPTY


async def _confirm(user, data: bytes, name: str = "ecg.png", mime: str = "image/png"):
    """Send, press Confirm; the preview (a live message: it becomes the progress display)."""
    await user.send_document(data, name, mime)
    preview = await user.wait_for(preview_of)
    await user.press("Confirm", preview.message_id)
    return preview


def caption_is(text: str):
    return lambda m: m.raw_caption == text


async def test_unreadable_image_gets_a_clear_message(harness):
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    await ann.send_document(b"\xff\xd8\xff garbage, not really a JPEG", "broken.jpg", "image/jpeg")
    refused = await ann.wait_for()
    assert refused.raw_text.startswith("⚠️ I can't analyse this image.") and "not a JPEG or PNG" in refused.text
    await ann.expect_silence(0.3)  # no preview of what cannot be read


async def test_download_failure_can_be_retried(harness):
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    harness.emulator.inject_error("getFile", 500, "Internal Server Error")
    await ann.send_document(image_bytes(fmt="PNG"), "ecg.png", "image/png")
    assert (await ann.wait_for()).raw_text == texts.DOWNLOAD_FAILED  # the file, fetched for its preview
    await ann.send_document(image_bytes(fmt="PNG"), "ecg.png", "image/png")
    preview = await ann.wait_for(preview_of)
    harness.emulator.inject_error("getFile", 500, "Internal Server Error")  # now when Confirm fetches it
    await ann.press("Confirm", preview.message_id)
    await ann.wait_for_edit(preview.message_id, caption_is(texts.DOWNLOAD_FAILED))  # told on the preview itself
    assert preview.reply_markup is None
    await _confirm(ann, image_bytes(fmt="PNG"))  # sent again: analysed (a blank page: refused)
    assert texts.NOT_AN_ECG in (await ann.wait_for_text(texts.NOT_AN_ECG, timeout=60)).text


async def test_model_failure_is_reported_and_the_bot_keeps_serving(harness):
    """The one place a stand-in is used: a crashing model cannot be provoked with a real one."""
    ann, ben = harness.user(2001, "Ann"), harness.user(2002, "Ben")
    await harness.signed_up(ann)

    def broken_model(data: bytes):
        raise RuntimeError("model exploded")

    harness.runtime.services.analyse = broken_model
    preview = await _confirm(ann, image_bytes(fmt="PNG"))
    await ann.wait_for_edit(preview.message_id, caption_is(texts.ANALYSIS_FAILED))
    await ben.send_text("/start")
    assert "ECG Analyzer" in (await ben.wait_for()).text
    await ann.send_text("/history")
    assert (await ann.wait_for()).raw_text == texts.HISTORY_EMPTY  # nothing half-saved


def chat_calls(harness, user, since: float) -> list:
    """The bot's calls to the user's chat (the emulator's record) from `since` on, oldest first."""
    return [r for r in list(harness.emulator.core.requests)
            if r.time >= since and str(r.params.get("chat_id")) == str(user.chat_id)]


async def test_a_quick_answer_is_the_first_call_to_the_chat_after_confirm(harness):
    """An analysis done within PROGRESS_FIRST_DELAY needs no progress: the button press is answered
    "analysing" (not a chat call), the result is the bot's first call to the chat, and the preview's
    caption says "analysed" (its buttons gone) after it; no chat action is spent."""
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    await ann.send_document(image_bytes(fmt="PNG"), "ecg.png", "image/png")
    preview = await ann.wait_for(preview_of)
    pressed = time.time()
    query = await ann.press("Confirm", preview.message_id)
    assert (await ann.wait_for_answer(query)).answer_text == texts.CONFIRM_ANSWER
    result = await ann.wait_for_text(texts.NOT_AN_ECG, timeout=60)  # a blank page: refused, as a result
    await ann.wait_for_edit(preview.message_id, caption_is(texts.PROGRESS_DONE), timeout=30)
    assert preview.reply_markup is None
    shown = [v.caption for v in preview.edits] + [preview.caption]
    assert shown == [texts.PREVIEW_CAPTION, texts.PROGRESS_DONE], shown
    assert result.message_id > preview.message_id
    calls = chat_calls(harness, ann, pressed)
    methods = [r.method for r in calls]
    assert methods[0] == "sendMessage" and texts.NOT_AN_ECG in calls[0].params["text"], methods
    assert methods[-1] == "editMessageCaption" and calls[-1].params["caption"] == texts.PROGRESS_DONE, methods
    assert "sendChatAction" not in methods and "editMessageReplyMarkup" not in methods, methods
    assert not ann.chat_actions


async def test_a_slow_answer_turns_the_preview_into_the_progress_then_the_result_then_done(harness):
    """An analysis that takes longer (a queue, a slow machine: here the real one, 2.5 s late) turns the
    preview into the progress display after PROGRESS_FIRST_DELAY (its buttons gone, its caption the
    stages in order); the result comes before the last stage ("analysed")."""
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    real = harness.runtime.services.analyse

    def slow_model(data: bytes):
        time.sleep(2.5)
        return real(data)

    harness.runtime.services.analyse = slow_model
    await ann.send_document(image_bytes(fmt="PNG"), "ecg.png", "image/png")
    preview = await ann.wait_for(preview_of)
    pressed = time.time()
    await ann.press("Confirm", preview.message_id)
    await ann.wait_for_edit(preview.message_id, lambda m: m.reply_markup is None)
    assert time.time() - pressed >= PROGRESS_FIRST_DELAY.total_seconds() - 0.1  # not before the first delay
    result = await ann.wait_for_text(texts.NOT_AN_ECG, timeout=60)
    await ann.wait_for_edit(preview.message_id, caption_is(texts.PROGRESS_DONE), timeout=30)
    shown = [v.caption for v in preview.edits] + [preview.caption]
    pipeline = [texts.PROGRESS_DOWNLOADING, texts.PROGRESS_CHECKING, texts.PROGRESS_ANALYSING, texts.PROGRESS_DONE]
    assert shown[0] == texts.PREVIEW_CAPTION and shown[1] in pipeline[:3], shown
    order = [pipeline.index(s) for s in shown[1:] if "queue" not in s]
    assert order == sorted(order) and order[-1] == 3 and len(order) >= 2, shown
    assert result.message_id > preview.message_id
    calls = chat_calls(harness, ann, pressed)
    methods = [r.method for r in calls]
    sent = next(i for i, r in enumerate(calls) if r.method == "sendMessage" and texts.NOT_AN_ECG in r.params["text"])
    done = next(i for i, r in enumerate(calls) if r.method == "editMessageCaption"
                and r.params["caption"] == texts.PROGRESS_DONE)
    assert 0 < sent < done, methods  # progress first, "analysed" after the result, off its path
    assert "sendChatAction" not in methods and "editMessageReplyMarkup" not in methods, methods


class FakeMessage:
    """A progress display's edits as (time, text); `fail` makes the next edits raise it."""

    def __init__(self, slow: float = 0.0) -> None:
        self.edits: list[tuple[float, str]] = []
        self.slow, self.fail = slow, None

    async def edit(self, text: str) -> None:
        await asyncio.sleep(self.slow)  # the call's trip (and its wait for the chat's turn)
        if self.fail is not None:
            raise self.fail
        self.edits.append((time.monotonic(), text))


async def test_progress_coalesces_holds_and_shows_the_final_text_last():
    from telegram.error import BadRequest, Forbidden

    from handlers.diagnosis import Progress

    message, notices = FakeMessage(slow=0.05), []

    async def notice(text):
        notices.append(text)

    progress = Progress(message.edit, interval=0.3, notice=notice)
    progress.show("one")  # at once
    await asyncio.sleep(0.01)  # on its way
    progress.show("two")
    progress.show("three")  # within the interval: only the latest is shown, once
    await asyncio.sleep(0.5)
    assert [t for _, t in message.edits] == ["one", "three"]
    assert message.edits[1][0] - message.edits[0][0] >= 0.29
    progress.show("four")  # waits for its interval ...
    progress.hold()  # ... and is dropped: the answer goes out now
    await asyncio.sleep(0.4)
    assert [t for _, t in message.edits] == ["one", "three"]
    progress.show("five")  # held: nothing more but the final text
    await progress.final("done", notice=False)
    assert [t for _, t in message.edits] == ["one", "three", "done"] and not notices

    # an edit on its way when the answer is ready is not cut off; the final text comes after it
    message = FakeMessage(slow=0.2)
    progress = Progress(message.edit, interval=0.3, notice=notice)
    progress.show("downloading")
    await asyncio.sleep(0.05)
    progress.hold()
    await progress.final("done")
    assert [t for _, t in message.edits] == ["downloading", "done"]

    # with a first delay: nothing is shown before it, and an answer ready by then drops the text asked for
    message = FakeMessage()
    progress = Progress(message.edit, interval=0.3, notice=notice, first_delay=0.2)
    progress.show("downloading")
    await asyncio.sleep(0.1)
    assert message.edits == []
    progress.hold()
    await asyncio.sleep(0.2)
    await progress.final("done", notice=False)
    assert [t for _, t in message.edits] == ["done"]
    message = FakeMessage()
    progress = Progress(message.edit, interval=0.3, notice=notice, first_delay=0.2)
    made = time.monotonic()
    progress.show("downloading")
    await asyncio.sleep(0.3)
    assert [t for _, t in message.edits] == ["downloading"] and message.edits[0][0] - made >= 0.19

    # "not modified" is harmless; a message that cannot be edited any more gets the final text as a notice
    message = FakeMessage()
    progress = Progress(message.edit, interval=0.3, notice=notice)
    message.fail = BadRequest("Message is not modified")
    await progress.final("same")
    assert notices == []
    message.fail = BadRequest("Message to edit not found")
    await progress.final(texts.ANALYSIS_FAILED)
    assert notices == [texts.ANALYSIS_FAILED]
    await progress.final(texts.PROGRESS_DONE, notice=False)
    assert notices == [texts.ANALYSIS_FAILED]
    message.fail = Forbidden("Forbidden: bot was blocked by the user")  # nobody to tell: logged only
    await progress.final(texts.QUEUE_FULL)
    assert notices == [texts.ANALYSIS_FAILED]
