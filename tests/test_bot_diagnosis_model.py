"""The ECG flow with the real model: real ECG images from ../shared, generated non-ECG images."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from inference.analysis import classify
from inference.labels import DISPLAY_NAMES
from content.lessons import LESSON_FOR_LABEL, get_lesson
from handlers import texts

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ecg-images"
needs_images = pytest.mark.skipif(not SHARED.is_dir(), reason=f"ECG images not available at {SHARED}")


def ecg_images(count: int) -> list[bytes]:
    files = sorted(SHARED.rglob("*.jpg"))
    step = max(1, len(files) // count)
    return [files[i * step].read_bytes() for i in range(count)]


def landscape() -> bytes:
    """A sky-and-grass picture with noise: colourful, no grid, nothing like an ECG page."""
    rng = np.random.default_rng(1)
    pixels = np.zeros((900, 1400, 3), np.uint8)
    pixels[:450] = (110, 160, 230)
    pixels[450:] = (60, 140, 50)
    pixels = np.clip(pixels + rng.normal(0, 18, pixels.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG")
    return buffer.getvalue()


def text_page() -> bytes:
    image = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(image)
    for row in range(60):
        draw.text((80, 60 + row * 27), "Lorem ipsum dolor sit amet, consectetur adipiscing elit " * 2, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def preview_of(message) -> bool:
    return message.reply_markup is not None and "Confirm" in str(message.reply_markup)


async def analyse(user, data: bytes, *, as_photo: bool, name: str = "ecg.jpg", mime: str = "image/jpeg"):
    """Send, confirm, and return (progress, result message, heat map message or None). The progress is the
    preview itself (its caption, from Confirm on), returned once it says it is done: after the result."""
    if as_photo:
        await user.send_photo(data)
    else:
        await user.send_document(data, name, mime)
    preview = await user.wait_for(preview_of, timeout=30)
    await user.press("Confirm", preview.message_id)
    result = await user.wait_for(
        lambda m: "confidence" in m.content or "Uncertain" in m.content or texts.NOT_AN_ECG in m.content, timeout=120
    )
    heatmap = None
    if texts.NOT_AN_ECG not in result.content:
        heatmap = await user.wait_for(lambda m: m.kind == "photo" and m.caption.startswith("Heat map"), timeout=60)
    await user.wait_for_edit(preview.message_id, lambda m: m.raw_caption == texts.PROGRESS_DONE, timeout=30)
    return preview, result, heatmap


@needs_images
async def test_real_ecg_file_gets_a_diagnosis_with_progress_heatmap_and_lesson_button(harness):
    data = ecg_images(1)[0]
    expected = classify(data)
    assert expected.is_ecg, expected.reason
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    sent_at = time.time()
    progress, result, heatmap = await analyse(ann, data, as_photo=False)
    # the preview is the progress display: shown only when the answer takes longer than PROGRESS_FIRST_DELAY
    # (a loaded machine), then coalesced, at most one edit per PROGRESS_EDIT_INTERVAL; every text shown is a
    # stage of the pipeline, in its order, and the last says it is done (its buttons gone)
    pipeline = [texts.PROGRESS_DOWNLOADING, texts.PROGRESS_CHECKING, texts.PROGRESS_ANALYSING, texts.PROGRESS_DONE]
    plain = [t.replace("<b>", "").replace("</b>", "") for t in pipeline]
    stages = [version.caption for version in progress.edits] + [progress.caption]
    assert stages[0] == texts.PREVIEW_CAPTION and progress.reply_markup is None, stages
    order = [plain.index(s) for s in stages[1:] if "queue" not in s]
    assert order == sorted(order) and order[-1] == 3, stages
    assert progress.caption == plain[-1]
    # after the preview: the progress if any, the result, then the heat map, then "analysed" (off the result's
    # path); no chat action spent
    calls = [r for r in list(harness.emulator.core.requests)
             if r.time >= sent_at and str(r.params.get("chat_id")) == str(ann.chat_id)]
    assert calls[0].method == "sendPhoto" and calls[0].params.get("caption") == texts.PREVIEW_CAPTION
    calls = calls[1:]
    methods = [r.method for r in calls]
    sent = methods.index("sendMessage")
    shown = methods.index("sendPhoto")
    done = next(i for i, r in enumerate(calls) if r.params.get("caption") == texts.PROGRESS_DONE)
    assert set(methods[:sent]) <= {"editMessageCaption"} and sent < shown < done, methods
    assert "sendChatAction" not in methods and not ann.chat_actions, methods
    # the answer is the model's, with all four probabilities and the disclaimer
    if expected.uncertain:
        assert "Uncertain" in result.text
    else:
        assert expected.display_name in result.text and f"{expected.confidence:.0%}" in result.text
    for name in DISPLAY_NAMES.values():
        assert name in result.text
    assert "not a medical device" in result.text
    assert result.button_texts == [texts.EXPLAIN_BUTTON, texts.EXPORT_BUTTON]  # a medical student
    assert heatmap.photo_bytes[:3] == b"\xff\xd8\xff"
    # the caption names the outlined leads, when the answer rests on measured signs
    caption = texts.HEATMAP_CAPTION.format(name=expected.display_name)
    if expected.marked_leads:
        caption += texts.HEATMAP_MARKED.format(leads=", ".join(expected.marked_leads))
    assert heatmap.caption == caption
    await ann.press(texts.EXPLAIN_BUTTON, result.message_id)
    lesson = get_lesson(LESSON_FOR_LABEL[expected.label])
    await ann.wait_for_text(lesson.title, timeout=30)
    # history keeps the result and the image hash, never the image
    await ann.send_text("/history")
    line = await ann.wait_for_text("Your last analyses")
    assert expected.display_name in line.text
    doc = await harness.db["analyses"].find_one({})
    assert len(doc["image_sha256"]) == 64 and not any(isinstance(v, bytes) for v in doc.values())
    await ann.send_text("/history clear")
    assert "1 removed" in (await ann.wait_for()).text


@needs_images
async def test_professionals_get_no_lesson_button(harness):
    data = ecg_images(1)[0]
    doc = harness.user(2002, "Doc")
    await harness.signed_up(doc, role="Healthcare professional", username="doc", email="doc@example.com")
    _, result, _ = await analyse(doc, data, as_photo=True)
    assert result.button_texts == [texts.EXPORT_BUTTON]  # the export, but no lesson


@pytest.mark.parametrize("make", [landscape, text_page], ids=["landscape", "text-page"])
async def test_a_non_ecg_image_gets_no_diagnosis(harness, make):
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    _, result, heatmap = await analyse(ann, make(), as_photo=False, name="picture.png", mime="image/png")
    assert result.text.startswith(texts.NOT_AN_ECG)
    assert "Why:" in result.text and "Tips:" in result.text
    assert heatmap is None
    for name in DISPLAY_NAMES.values():
        assert name not in result.text


@needs_images
async def test_several_users_confirm_at_once_and_each_gets_their_own_answer(harness):
    images = ecg_images(3)
    expected = [classify(data) for data in images]
    users = [harness.user(3000 + i, f"User{i}") for i in range(3)]
    for i, user in enumerate(users):
        await harness.signed_up(user, username=f"user{i}", email=f"user{i}@example.com")
    outcomes = await asyncio.gather(*(analyse(u, d, as_photo=False) for u, d in zip(users, images)))
    for user, want, (_, result, _) in zip(users, expected, outcomes):
        assert result.chat_id == user.id
        top = want.top_two[0][0]
        assert DISPLAY_NAMES[top] in result.text
        assert f"{want.probabilities[top]:.0%}" in result.text
    # while they waited, everyone else was answered at once
    other = harness.user(3999, "Other")
    await other.send_text("/help")
    assert "/register" in (await other.wait_for(timeout=5)).text
