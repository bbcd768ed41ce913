"""The chat side of the reading: "What I measured" under the diagnosis, the export button (PNG photo +
CSV document), only for the owner, and refusals worded per reason code. Real model, real pages."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest

from handlers import texts
from handlers.callbacks import ExportDigitized
from handlers.diagnosis import measured_block, refusal_text
from inference import layout as L
from inference.model_def import MODEL_FILE

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ecg-images"
needs_images = pytest.mark.skipif(not SHARED.is_dir(), reason=f"ECG images not available at {SHARED}")
needs_model = pytest.mark.skipif(not MODEL_FILE.exists(), reason=f"shipped model file absent: {MODEL_FILE}")


def preview_of(message) -> bool:
    return message.reply_markup is not None and "Confirm" in str(message.reply_markup)


async def _result(user, data: bytes):
    await user.send_document(data, "ecg.jpg", "image/jpeg")
    preview = await user.wait_for(preview_of, timeout=30)
    await user.press("Confirm", preview.message_id)
    return await user.wait_for(lambda m: "confidence" in m.content or "Uncertain" in m.content
                               or texts.NOT_AN_ECG in m.content, timeout=120)


@needs_images
@needs_model
async def test_measured_block_export_and_only_the_owner_gets_it(harness):
    data = sorted(SHARED.rglob("*.jpg"))[200].read_bytes()
    ann, ben = harness.user(2001, "Ann"), harness.user(2002, "Ben")
    await harness.signed_up(ann)
    await harness.signed_up(ben, username="ben", email="ben@example.com", role="Healthcare professional")
    result = await _result(ann, data)
    assert "What I measured" in result.text
    assert texts.WHY_HEADER.replace("<b>", "").replace("</b>", "") in result.text  # the signs behind it
    assert result.text.index("Why") < result.text.index("What I measured")
    assert re.search(r"Heart rate: \d+ bpm", result.text)
    assert "QRS" in result.text and "not a medical device" in result.text
    assert texts.EXPORT_BUTTON in result.button_texts
    await ann.wait_for(lambda m: m.kind == "photo" and m.caption.startswith("Heat map"), timeout=60)
    callback = result.find_button(texts.EXPORT_BUTTON)["callback_data"]
    assert ExportDigitized.parse(callback) is not None and len(callback.encode()) <= 64
    # the signals are kept, not the image
    doc = await harness.db["digitized"].find_one({})
    assert doc["analysis_id"] == ExportDigitized.parse(callback).analysis_id and 5_000 < len(doc["npz"]) < 80_000

    query = await ann.press(texts.EXPORT_BUTTON, result.message_id)
    photo = await ann.wait_for(lambda m: m.kind == "photo" and m.caption == texts.EXPORT_CAPTION, timeout=30)
    # sent as a PNG photo; like Telegram, the emulator keeps it as re-encoded JPEG sizes
    from PIL import Image

    shown = Image.open(io.BytesIO(photo.photo_bytes))
    assert shown.width >= 1000 and abs(shown.width / shown.height - 1608 / 1038) < 0.02
    r, g, b = (float(v) for v in shown.convert("RGB").resize((1, 1), Image.BOX).getpixel((0, 0)))
    assert r > g and r > b  # the pink grid paper
    document = await ann.wait_for(lambda m: m.kind == "document", timeout=30)
    assert document.document["file_name"].endswith(".csv")
    rows = list(csv.reader(io.StringIO(document.document_bytes.decode())))
    assert rows[0] == ["t_s", *L.LEADS, "rhythm"] and len(rows) == 5001
    assert (await ann.wait_for_answer(query)).answer_text in (None, "")

    # Ben forges Ann's callback from his own chat: a toast, no files
    await ben.send_text("/me")
    own = await ben.wait_for()
    forged = ben._core.user_press(ben._bot, ben.record, own.message_id, callback)
    assert (await ben.wait_for_answer(forged)).answer_text == texts.EXPORT_GONE
    await ben.expect_silence(0.5)
    # an unknown id: the same toast
    stale = ann._core.user_press(ann._bot, ann.record, result.message_id, ExportDigitized("nope").pack())
    assert (await ann.wait_for_answer(stale)).answer_text == texts.EXPORT_GONE

    # after 24 hours the entry is gone, and it is dropped when the next one is written
    harness.clock.advance(timedelta(hours=25))
    await ann.send_text("/login")  # the session expired with the clock: log in again
    await ann.wait_for_text("email")
    await ann.send_text("alice@example.com")
    await ann.wait_for_text("password")
    from conftest import STRONG_PASSWORD

    await ann.send_text(STRONG_PASSWORD)
    await ann.wait_for_text("Welcome")
    late = await ann.press(texts.EXPORT_BUTTON, result.message_id)
    assert (await ann.wait_for_answer(late)).answer_text == texts.EXPORT_GONE
    await harness.runtime.services.digitized.add("someone", b"x", None, harness.clock.now())
    assert await harness.db["digitized"].count_documents({"user_id": {"$ne": "someone"}}) == 0


async def test_a_refused_picture_says_what_is_wrong_and_how_to_retake_it(harness):
    from PIL import Image

    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    buffer = io.BytesIO()
    Image.new("RGB", (3000, 600), "white").save(buffer, "PNG")  # a strip, not a page
    await ann.send_document(buffer.getvalue(), "strip.png", "image/png")
    result = await ann.wait_for(timeout=30)  # refused from its header, before a preview or the queue
    assert texts.REFUSALS["bad_aspect"][0] in result.text and "Tips:" in result.text
    assert result.reply_markup is None
    await ann.expect_silence(0.3)  # no preview, no heat map, no export


def test_every_reason_code_has_a_text():
    from inference.reading import REASON_CODES

    for code in REASON_CODES:
        text = refusal_text(code, "technical detail")
        assert text.startswith("Why: ") and "Tips: " in text and "{" not in text
    assert "flat" in refusal_text("blurred", None) and "8-bit" in refusal_text("deep_image", None)
    assert "strange &lt;thing&gt;" in refusal_text("unknown_code", "strange <thing>")


def test_measured_block_leaves_out_what_was_not_measured():
    assert measured_block(None, []) == ""
    block = measured_block({"heart_rate_bpm": 71.6, "rhythm_regular": True, "irregularly_irregular": False,
                            "pr_ms": None, "qrs_ms": 96.0, "qt_ms": 380.0, "qtc_bazett_ms": 414.2, "axis_deg": None},
                           [{"kind": "st_elevation", "territory": "inferior", "leads": ["II", "III", "aVF"], "max_mm": 2.1},
                            {"kind": "pathological_q", "territory": "anterior", "leads": ["V1", "V2"], "max_mm": 5.0}])
    assert "Heart rate: 72 bpm, regular" in block and "QRS: 96 ms" in block and "QT/QTc: 380/414 ms" in block
    assert "PR" not in block and "Axis" not in block
    assert "ST elevation ≥ 1 mm, inferior (II, III, aVF): up to 2.1 mm" in block
    assert "Pathological Q waves, anterior (V1, V2)" in block
    af = measured_block({"heart_rate_bpm": 118.0, "rhythm_regular": False, "irregularly_irregular": True}, [])
    assert "irregularly irregular" in af
    assert texts.MEASURED_NOTHING in measured_block({"heart_rate_bpm": None}, [])
