"""Instructors end to end: promotion by the operator's CLI, /addcase (image → class → explanation),
/mycases with anonymous answer counts after students answered in /quiz, and removal."""

from __future__ import annotations

import asyncio
import hashlib
import io

from bot import cli
from storage.practice import CASES
from handlers import texts
from handlers.diagnosis import image_refused_text
from handlers.limits import MAX_DOWNLOAD_BYTES
from inference.image_io import ImageRejected
from inference.labels import DISPLAY_NAMES


def _png(color=(250, 220, 220)) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1200, 800), color)
    draw = ImageDraw.Draw(image)
    for x in range(0, 1200, 40):
        draw.line([(x, 0), (x, 800)], fill=(230, 120, 120))
    draw.line([(0, 400), (300, 400), (320, 200), (340, 600), (360, 400), (1200, 400)], fill=(0, 0, 0), width=3)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


async def _account(harness, uid, name, role="Medical student", instructor=False):
    user = harness.user(uid, name.capitalize())
    await harness.signed_up(user, role=role, username=name, email=f"{name}@example.com")
    if instructor:
        await harness.runtime.services.accounts.grant_instructor(f"{name}@example.com")
    return user


async def _add_case(user, image: bytes, label: str, explanation: str, *, as_document=True) -> str:
    await user.send_text("/addcase")
    await user.wait_for_text("ECG image")
    if as_document:
        await user.send_document(image, "ecg.png", "image/png")
    else:
        await user.send_photo(image)
    ask = await user.wait_for(lambda m: m.kind == "photo")
    assert ask.raw_caption == texts.ADDCASE_ASK_LABEL
    assert ask.button_texts == [DISPLAY_NAMES[k] for k in ("myocardial_infarction", "abnormal_heartbeat", "history_of_mi", "normal")]
    await user.press(DISPLAY_NAMES[label], message_id=ask.message_id)
    await user.wait_for_text("explanation")
    await user.send_text(explanation)
    saved = await user.wait_for_text("saved")
    return saved.text.split("Case ", 1)[1].split(" ", 1)[0]


async def _case_question(user, attempts=25):
    """/quiz until a diagnosis case comes up (a case and a fresh drill are equally likely)."""
    for _ in range(attempts):
        await user.send_text("/quiz")
        message = await user.wait_for(lambda m: m.kind == "photo" and (m.caption or "").startswith("❓"))
        if message.caption == texts.QUIZ_CASE_CAPTION:
            return message
    raise AssertionError("no case question in %d tries" % attempts)


async def test_addcase_refuses_bombs_and_disguised_formats_with_the_chats_message_and_stores_nothing(harness):
    """/addcase checks an upload with the diagnosis's header limits (inference.image_io.check_image) and
    says why in the same words; nothing is shown back, kept or stored, and the next good image is taken."""
    from test_image_limits import encoded, png_claiming

    ines = await _account(harness, 4001, "ines", role="Healthcare professional", instructor=True)
    await ines.send_text("/addcase")
    await ines.wait_for_text("ECG image")
    for data, name, mime, code in (
        (png_claiming(60_000, 60_000), "ecg.png", "image/png", "too_large"),  # a decompression bomb of 60 bytes
        (encoded("TIFF"), "ecg.jpg", "image/jpeg", "not_image"),  # the content decides, not the name
    ):
        await ines.send_document(data, name, mime)
        refused = await ines.wait_for()
        assert refused.raw_text == image_refused_text(ImageRejected(code, "")), name
    assert not any(m.kind == "photo" for m in ines.bot_messages())  # no label question shown
    assert await harness.db[CASES].count_documents({}) == 0
    await ines.send_document(_png(), "ecg.png", "image/png")  # still waiting for the image
    ask = await ines.wait_for(lambda m: m.kind == "photo")
    assert ask.raw_caption == texts.ADDCASE_ASK_LABEL
    await ines.send_text("/cancel")
    await ines.wait_for()
    assert await harness.db[CASES].count_documents({}) == 0


def _wide_png(size=(11_000, 4_000)) -> bytes:
    """A picture within the chat's limits (44 MP, aspect 2.75) but not within Telegram's for a photo
    (width + height over 10 000 px); one colour and a line, so the file is small."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, (250, 220, 220))
    ImageDraw.Draw(image).line([(0, size[1] // 2), (size[0], size[1] // 2)], fill=(0, 0, 0), width=9)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _no_internal_error(user) -> None:
    assert not any(texts.INTERNAL_ERROR in (m.raw_text or "") for m in user.bot_messages())


async def test_addcase_previews_a_picture_telegram_would_not_take_as_a_photo_and_keeps_the_original(harness):
    """11 000 x 4 000 px passes the chat's header check but not Telegram's photo limits: the label question
    shows a preview (inference.image_io.preview_jpeg), not 'Something went wrong', and the case keeps the
    original's hash."""
    ines = await _account(harness, 4006, "ines", role="Healthcare professional", instructor=True)
    wide = _wide_png()
    assert len(wide) < 1024 * 1024
    await ines.send_text("/addcase")
    await ines.wait_for_text("ECG image")
    await ines.send_document(wide, "ecg.png", "image/png")
    ask = await ines.wait_for(timeout=30)  # the next message, whatever it is
    _no_internal_error(ines)
    assert ask.kind == "photo" and ask.raw_caption == texts.ADDCASE_ASK_LABEL
    assert (ask.photo[-1]["width"], ask.photo[-1]["height"]) == (1280, 465)
    await ines.press(DISPLAY_NAMES["normal"], message_id=ask.message_id)
    await ines.wait_for_text("explanation")
    await ines.send_text("A wide scan of a normal ECG.")
    saved = await ines.wait_for_text("saved")
    case_id = saved.text.split("Case ", 1)[1].split(" ", 1)[0]
    doc = await harness.db[CASES].find_one({"_id": case_id})
    assert doc["image_sha256"] == hashlib.sha256(wide).hexdigest()  # the original, not the preview
    assert doc["file_id"] == ask.photo[-1]["file_id"]  # what the quiz re-sends: the photo shown
    _no_internal_error(ines)


async def test_addcase_refuses_a_png_damaged_after_its_header_in_the_chats_words(harness):
    """The header passes check_image, the pixels cannot be decoded: refused like the diagnosis refuses it,
    not 'Something went wrong', and the next good image is taken."""
    ines = await _account(harness, 4008, "ines", role="Healthcare professional", instructor=True)
    await ines.send_text("/addcase")
    await ines.wait_for_text("ECG image")
    good = _png()
    await ines.send_document(good[: len(good) // 2], "ecg.png", "image/png")  # the header intact, the data cut
    refused = await ines.wait_for()
    assert refused.raw_text == image_refused_text(ImageRejected("not_image", ""))
    _no_internal_error(ines)
    assert not any(m.kind == "photo" for m in ines.bot_messages())
    await ines.send_document(good, "ecg.png", "image/png")  # still waiting for the image
    assert (await ines.wait_for(lambda m: m.kind == "photo")).raw_caption == texts.ADDCASE_ASK_LABEL
    assert await harness.db[CASES].count_documents({}) == 0


async def test_addcase_too_large_file_gets_the_size_text(harness):
    """A file over the download limit is refused with the diagnosis's size text, not 'send a photo'."""
    ines = await _account(harness, 4007, "ines", role="Healthcare professional", instructor=True)
    await ines.send_text("/addcase")
    await ines.wait_for_text("ECG image")
    size = MAX_DOWNLOAD_BYTES + 1024 * 1024
    await ines.send_document(b"\0" * size, "ecg.png", "image/png")
    refused = await ines.wait_for()
    assert refused.raw_text == texts.FILE_TOO_LARGE.format(size_mb=size / 1024 / 1024)
    assert "21 MB" in refused.raw_text and "20 MB" in refused.raw_text
    await ines.send_document(_png(), "ecg.png", "image/png")  # still waiting for the image
    assert (await ines.wait_for(lambda m: m.kind == "photo")).raw_caption == texts.ADDCASE_ASK_LABEL
    _no_internal_error(ines)


async def test_addcase_list_answer_counts_and_removal(harness):
    ines = await _account(harness, 4001, "ines", role="Healthcare professional", instructor=True)
    image = _png()
    # wrong kinds of answers are caught at each step
    await ines.send_text("/addcase")
    await ines.wait_for_text("ECG image")
    await ines.send_text("here it comes")
    assert (await ines.wait_for()).raw_text == texts.ADDCASE_NOT_IMAGE
    await ines.send_document(b"not an image", "ecg.png", "image/png")
    assert (await ines.wait_for()).raw_text == image_refused_text(ImageRejected("not_image", ""))
    await ines.send_document(image, "ecg.png", "image/png")
    ask = await ines.wait_for(lambda m: m.kind == "photo")
    await ines.send_text("MI")
    assert (await ines.wait_for()).raw_text == texts.ADDCASE_PRESS_BUTTON
    await ines.press(DISPLAY_NAMES["myocardial_infarction"], message_id=ask.message_id)
    await ines.wait_for_text("explanation")
    await ines.send_text("x" * 701)
    assert "1 to 700 characters" in (await ines.wait_for()).text
    await ines.send_text("<b>ST</b> elevation in V1–V4 with reciprocal ST depression in II, III, aVF.")
    saved = await ines.wait_for_text("saved")
    case_id = saved.text.split("Case ", 1)[1].split(" ", 1)[0]
    doc = await harness.db[CASES].find_one({"_id": case_id})
    assert doc["label"] == "myocardial_infarction" and doc["image_sha256"] == hashlib.sha256(image).hexdigest()
    assert doc["file_id"] and "image" not in doc  # Telegram keeps the image; we keep its hash
    # a second case, sent as a photo
    other_id = await _add_case(ines, _png((240, 240, 255)), "normal", "Sinus rhythm 70/min, normal axis.", as_document=False)
    await ines.send_text("/mycases")
    listing = await ines.wait_for()
    assert listing.text.count("Answers: 0 (0 right)") == 2
    assert listing.button_texts == [f"🗑 Remove {case_id}", f"🗑 Remove {other_id}"]

    # two students answer the MI case: one wrong, one right
    sam = await _account(harness, 4002, "sam")
    question = await _case_question(sam)
    assert question.button_texts == [DISPLAY_NAMES[k] for k in ("myocardial_infarction", "abnormal_heartbeat", "history_of_mi", "normal")]
    item = question.buttons[0][0][1].split(":", 3)[3]
    if item != f"case:{case_id}":  # the other case came first: answer it right, get the next
        await sam.press(DISPLAY_NAMES["normal"], message_id=question.message_id)
        await sam.wait_for_text("Score")
        question = await _case_question(sam)
    await sam.press(DISPLAY_NAMES["normal"], message_id=question.message_id)
    feedback = await sam.wait_for_text("Score")
    assert feedback.text.startswith("❌ Not quite. You chose Normal ECG; the answer is Myocardial infarction.")
    assert "Why: <b>ST</b> elevation in V1–V4" in feedback.text  # shown as typed, not as markup
    assert "Read more: Acute myocardial infarction" in feedback.text
    kim = await _account(harness, 4003, "kim")
    while True:
        question = await _case_question(kim)
        if question.buttons[0][0][1].endswith(f"case:{case_id}"):
            break
        await kim.press(DISPLAY_NAMES["normal"], message_id=question.message_id)
        await kim.wait_for_text("Score")
    await kim.press(DISPLAY_NAMES["myocardial_infarction"], message_id=question.message_id)
    assert (await kim.wait_for_text("Score")).text.startswith("✅ Right! Myocardial infarction")

    await ines.send_text("/mycases")
    listing = await ines.wait_for()
    mi_entry = listing.text.split(case_id, 1)[1].split(other_id, 1)[0]
    assert "Answers: 2 (1 right) — chose: Myocardial infarction 1 · Normal ECG 1" in mi_entry
    for name in ("sam", "kim", "Sam", "Kim"):
        assert name not in listing.text  # counts, not names

    # removal
    await ines.press(f"🗑 Remove {case_id}", message_id=listing.message_id)
    assert (await ines.wait_for()).text == f"Case {case_id} removed."
    assert ines.message(listing.message_id).button_texts == [f"🗑 Remove {other_id}"]
    await ines.send_text("/mycases")
    listing = await ines.wait_for()
    assert case_id not in listing.text and other_id in listing.text
    assert await harness.db[CASES].find_one({"_id": case_id}) is None
    # an instructor practises too, but never on their own cases (only other_id is left, and it is hers)
    for _ in range(3):
        await ines.send_text("/quiz")
        question = await ines.wait_for(lambda m: m.kind == "photo")
        assert question.caption.startswith("❓") and question.caption != texts.QUIZ_CASE_CAPTION


async def test_addcase_cancel_keeps_nothing(harness):
    ines = await _account(harness, 4004, "ines", instructor=True)
    await ines.send_text("/addcase")
    await ines.wait_for_text("ECG image")
    await ines.send_photo(_png())
    await ines.wait_for(lambda m: m.kind == "photo")
    await ines.send_text("/cancel")
    assert (await ines.wait_for()).raw_text == texts.CANCELLED
    assert await harness.db[CASES].count_documents({}) == 0
    await ines.send_text("/mycases")
    assert (await ines.wait_for()).raw_text == texts.MYCASES_NONE


async def test_grant_and_revoke_instructor_from_the_cli(harness, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MONGODB_URI", harness.mongo_uri)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("JWT_SECRET", "cli-test-secret-0123456789abcdef0123")
    sam = await _account(harness, 4005, "sam", role="Healthcare professional")
    await sam.send_text("/share")
    assert (await sam.wait_for()).raw_text == texts.INSTRUCTORS_ONLY

    assert await asyncio.to_thread(cli.main, ["grant-instructor", "SAM@example.com"]) == 0
    assert "sam@example.com (sam) is now an instructor" in capsys.readouterr().out
    await sam.send_text("/share")  # at once, in the open session
    assert "?start=lesson-" in (await sam.wait_for()).text
    await sam.send_text("/me")
    assert "instructor" in (await sam.wait_for()).text

    assert await asyncio.to_thread(cli.main, ["revoke-instructor", "sam@example.com"]) == 0
    assert "no longer an instructor" in capsys.readouterr().out
    await sam.send_text("/share")
    assert (await sam.wait_for()).raw_text == texts.INSTRUCTORS_ONLY

    assert await asyncio.to_thread(cli.main, ["grant-instructor", "nobody@example.com"]) == 1
    captured = capsys.readouterr()
    assert "No account with the email nobody@example.com." in captured.err and "Traceback" not in captured.err
