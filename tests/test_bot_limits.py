"""Issue 12, part A, end to end against the emulator and the real analyser: fair scheduling under a flood,
the per-user message limit, Telegram's sending limits with 50 users waiting (the emulator counts every
call), a RetryAfter on the result, a bot killed with SIGKILL mid-analysis, files previewed as photos,
and what /history pins (each user's own analyses, the hash of the analysed bytes)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from PIL import Image

from bot.telegram_limits import PRODUCTION, TelegramLimits
from handlers import texts
from handlers.limits import MESSAGE_BURST, PROGRESS_EDIT_INTERVAL
from handlers.throttle import MESSAGE_RATE

ROOT = Path(__file__).resolve().parents[1]


def page(color="white", size=(1600, 1200), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def preview_of(message) -> bool:
    return message.reply_markup is not None and "Confirm" in str(message.reply_markup)


def is_result(message) -> bool:
    content = message.content or ""
    return texts.NOT_AN_ECG in content or "confidence" in content


async def confirm(user, data: bytes, name="ecg.png", mime="image/png", timeout=30.0):
    await user.send_document(data, name, mime)
    preview = await user.wait_for(preview_of, timeout=timeout)
    await user.press("Confirm", preview.message_id)
    return preview


# --- fair scheduling and the message limit -----------------------------------------------------------
async def test_a_flood_from_one_chat_does_not_delay_another(harness):
    """1000 messages from Ann: Ben's replies stay fast; Ann is answered up to the burst, told once to slow
    down, and the rest is dropped (the token bucket is in MongoDB)."""
    harness.message_rate = MESSAGE_RATE  # the real per-user limit
    await harness.restart_bot()
    ann, ben = harness.user(3001, "Ann"), harness.user(3002, "Ben")
    for i in range(1000):
        await ann.send_text(f"spam {i}")
    latencies = []
    for _ in range(5):
        before = len(ben.bot_messages())
        started = time.monotonic()
        await ben.send_text("/help")
        await ben.wait_for(lambda m: len(ben.bot_messages()) > before, timeout=10)
        latencies.append(time.monotonic() - started)
        await asyncio.sleep(0.2)
    assert max(latencies) < 1.0, latencies
    slow = await ann.wait_for_text("faster than I can answer", timeout=30)
    await harness.settled(timeout=30)
    answers = [m for m in ann.bot_messages() if m.message_id != slow.message_id]
    assert len(answers) <= MESSAGE_BURST + 1  # the burst, and a token refilled meanwhile at most
    assert sum("faster than I can answer" in (m.content or "") for m in ann.bot_messages()) == 1
    assert await harness.db["rate_limits"].find_one({"_id": "msg:tg:3001"})
    # the bucket outlives a restart: still refused right after it
    await harness.restart_bot()
    await ann.send_text("again")
    await ann.expect_silence(1.0)


async def test_queued_updates_of_a_chat_are_capped(harness):
    """Updates of one chat beyond the cap are dropped at once (the per-chat queue), without holding a slot."""
    from bot.update_processor import MAX_QUEUED_PER_CHAT

    harness.telegram_limits = PRODUCTION  # one reply a second: Ann's updates pile up behind her chat's lock
    await harness.restart_bot()
    ann, ben = harness.user(3001, "Ann"), harness.user(3002, "Ben")
    for i in range(300):
        await ann.send_text(f"spam {i}")
    processor = harness.application.update_processor
    await harness.emulator.core.wait_until(lambda: processor.dropped >= 300 - MAX_QUEUED_PER_CHAT - 5, timeout=20)
    assert processor.current_concurrent_updates <= MAX_QUEUED_PER_CHAT
    started = time.monotonic()
    await ben.send_text("/help")
    await ben.wait_for(timeout=5)
    assert time.monotonic() - started < 1.5  # Ann's waiting updates hold no slot Ben needs


# --- Telegram's limits --------------------------------------------------------------------------------
def windows_exceeded(times: list[float], limit: int, period: float = 1.0) -> list[tuple[float, int]]:
    """Every (start, count) where more than `limit` of the sorted `times` fall within `period` seconds."""
    times = sorted(times)
    bad, j = [], 0
    for i, t in enumerate(times):
        while times[j] <= t - period:
            j += 1
        if i - j + 1 > limit:
            bad.append((times[j], i - j + 1))
    return bad


async def test_fifty_users_waiting_never_exceed_telegrams_limits(harness):
    users = [harness.user(4000 + i, f"U{i}") for i in range(50)]
    for chunk in range(0, 50, 5):  # signed up five at a time (the embedded database and outbox are slow)
        await asyncio.gather(*(harness.signed_up(u, username=f"user{i:02d}", email=f"u{i}@example.com")
                               for i, u in enumerate(users) if chunk <= i < chunk + 5))
    harness.telegram_limits = PRODUCTION
    await harness.restart_bot()
    start = time.time()
    await asyncio.gather(*(confirm(u, page(), timeout=120) for u in users))
    results = await asyncio.gather(*(u.wait_for(is_result, timeout=240) for u in users))
    assert all(texts.NOT_AN_ECG in r.content for r in results)  # blank pages, each answered
    calls = [r for r in harness.emulator.core.requests if r.time >= start and r.method.lower() != "getupdates"]
    assert len(calls) > 300
    worst = windows_exceeded([r.time for r in calls], 30)
    if worst:
        t0 = worst[0][0]
        print("WORST", Counter(r.method for r in calls if t0 <= r.time < t0 + 1))
    assert worst == []
    per_chat = defaultdict(list)
    for r in calls:
        if r.params.get("chat_id") is not None:
            per_chat[str(r.params["chat_id"])].append(r.time)
    assert len(per_chat) == 50
    assert {c: w for c, t in per_chat.items() if (w := windows_exceeded(t, 1))} == {}
    # progress edits (the preview's caption) coalesced: a queue position shown at most once per interval per user
    queued = Counter(str(r.params["chat_id"]) for r in calls
                     if r.method == "editMessageCaption" and "place" in str(r.params.get("caption")))
    elapsed = time.time() - start
    assert max(queued.values(), default=0) <= elapsed / PROGRESS_EDIT_INTERVAL.total_seconds() + 1


@pytest.mark.parametrize("limits", [PRODUCTION, TelegramLimits(100_000, 0.0, 0.0, max_retries=0)],
                         ids=["rate-limiter-retries", "handler-retries"])
async def test_retry_after_on_the_result_delays_it_and_loses_nothing(harness, limits):
    harness.telegram_limits = limits
    await harness.restart_bot()
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    await ann.send_document(page(), "ecg.png", "image/png")
    preview = await ann.wait_for(preview_of, timeout=30)
    # the result is refused twice, and the preview's caption edit after it ("analysed", buttons off) once:
    # the limiter retries them, or the handler waits them out
    harness.emulator.inject_error("sendMessage", 429, "Too Many Requests: retry after 2", times=2, retry_after=2)
    harness.emulator.inject_error("editMessageCaption", 429, "Too Many Requests: retry after 2", times=1, retry_after=2)
    injected = time.monotonic()
    await ann.press("Confirm", preview.message_id)
    result = await ann.wait_for(is_result, timeout=60)
    assert time.monotonic() - injected >= 4  # both waits were honoured
    await ann.wait_for_edit(preview.message_id, lambda m: m.raw_caption == texts.PROGRESS_DONE, timeout=30)
    assert preview.reply_markup is None
    assert not any(texts.INTERNAL_ERROR in (m.content or "") for m in ann.bot_messages())
    assert sum(is_result(m) for m in ann.bot_messages()) == 1 and texts.NOT_AN_ECG in result.content
    assert await harness.db["analyses"].count_documents({}) == 1
    assert await harness.db["analyses_in_flight"].count_documents({}) == 0


async def test_after_confirm_the_result_is_the_first_call_to_the_chat(harness):
    """Telegram takes about one call a second to a chat (kept by the bot's limiter), so each call to the chat
    before the result costs the user about a second. After Confirm: the callback's answer (no chat), then
    the result (an analysis done within PROGRESS_FIRST_DELAY shows no progress first); the last progress
    text ("analysed", buttons off) after it; no chat action. Counted by the emulator, with the production
    limits."""
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    harness.telegram_limits = PRODUCTION
    await harness.restart_bot()
    limited = time.time()
    await ann.send_document(page(), "ecg.png", "image/png")
    preview = await ann.wait_for(preview_of, timeout=30)
    pressed = time.time()
    query = await ann.press("Confirm", preview.message_id)  # at once, as the benchmark does
    result = await ann.wait_for(is_result, timeout=60)  # a blank page: "not an ECG" is its result

    def to_chat() -> list:
        return [r for r in list(harness.emulator.core.requests)
                if r.time >= pressed and str(r.params.get("chat_id")) == str(ann.chat_id)]

    calls = to_chat()
    sent = next(i for i, r in enumerate(calls) if r.method == "sendMessage" and texts.NOT_AN_ECG in r.params["text"])
    assert sent == 0, [r.method for r in calls]  # the result: the first call to the chat after Confirm
    assert (await ann.wait_for_answer(query)).answered
    await ann.wait_for_edit(preview.message_id, lambda m: m.raw_caption == texts.PROGRESS_DONE, timeout=30)
    calls = to_chat()
    methods = [r.method for r in calls]
    assert methods[-1] == "editMessageCaption" and calls[-1].params["caption"] == texts.PROGRESS_DONE
    assert str(calls[-1].params["message_id"]) == str(preview.message_id) and "reply_markup" not in calls[-1].params
    assert "sendChatAction" not in methods, methods
    # and still never more than one call a second to the chat (the preview included)
    times = [r.time for r in harness.emulator.core.requests if str(r.params.get("chat_id")) == str(ann.chat_id)
             and r.time >= limited]
    assert len(times) == len(calls) + 1 and windows_exceeded(times, 1) == [], methods
    assert result.message_id > preview.message_id


# --- files are previewed as photos; what /history pins ------------------------------------------------
async def test_a_file_is_previewed_as_a_photo_and_the_original_is_analysed(harness):
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    original = page("gray", (3000, 2200), "PNG")
    preview = await confirm(ann, original)
    assert preview.kind == "photo"
    shown = Image.open(io.BytesIO(preview.photo_bytes))
    assert max(shown.size) <= 1280  # the picture, shrunk; not the file
    await ann.wait_for(is_result, timeout=60)
    doc = await harness.db["analyses"].find_one({})
    assert doc["image_sha256"] == hashlib.sha256(original).hexdigest()  # the analysed bytes: the original


async def test_bombs_and_disguised_formats_are_refused_before_a_preview(harness):
    from test_image_limits import apng, encoded, png16, png_claiming

    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    for data, name, words in (
        (png_claiming(40_000, 4), "ecg.png", "too large"),
        (png_claiming(11_000, 500), "ecg.png", "shape of a page"),
        (png_claiming(60_000, 60_000), "ecg.png", "too large"),
        (encoded("TIFF"), "ecg.jpg", "not a JPEG or PNG"),
        (encoded("GIF"), "ecg.png", "not a JPEG or PNG"),
        (png16(), "ecg.png", "16-bit"),
        (apng(), "ecg.png", "animated"),
    ):
        await ann.send_document(data, name, "image/png" if name.endswith("png") else "image/jpeg")
        refused = await ann.wait_for()
        assert refused.text.startswith("⚠️ I can't analyse this image.") and words in refused.text, name
    assert not any(preview_of(m) for m in ann.bot_messages())
    assert await harness.db["analyses_in_flight"].count_documents({}) == 0


async def test_two_users_side_by_side_each_see_only_their_own_history(harness):
    ann, ben = harness.user(2001, "Ann"), harness.user(2002, "Ben")
    await harness.signed_up(ann)
    await harness.signed_up(ben, username="ben", email="ben@example.com")
    ann_page, ben_page = page("white"), page("gray")
    await asyncio.gather(confirm(ann, ann_page), confirm(ben, ben_page))
    await asyncio.gather(ann.wait_for(is_result, timeout=60), ben.wait_for(is_result, timeout=60))
    await confirm(ann, page("black"))
    await ann.wait_for(lambda m: sum(is_result(x) for x in ann.bot_messages()) == 2, timeout=60)
    await ann.send_text("/history")
    ann_history = await ann.wait_for_text("Your last analyses")
    await ben.send_text("/history")
    ben_history = await ben.wait_for_text("Your last analyses")
    assert ann_history.text.count("\n") == 2 and ben_history.text.count("\n") == 1
    hashes = defaultdict(set)
    async for doc in harness.db["analyses"].find({}):
        hashes[doc["user_id"]].add(doc["image_sha256"])
    assert sorted(len(h) for h in hashes.values()) == [1, 2]
    ben_hashes = next(h for h in hashes.values() if len(h) == 1)
    assert ben_hashes == {hashlib.sha256(ben_page).hexdigest()}
    await ben.send_text("/history clear")
    assert "1 removed" in (await ben.wait_for()).text
    await ann.send_text("/history")
    assert (await ann.wait_for_text("Your last analyses")).text.count("\n") == 2  # Ann's untouched


# --- killed mid-analysis -------------------------------------------------------------------------------
SLOW_BOT = """
import asyncio, json, sys, time
from bot.app import BotRuntime
from bot.config import Settings
from bot.telegram_limits import RELAXED

async def main():
    s = json.loads(sys.argv[1])
    settings = Settings(**{**s, "data_dir": __import__("pathlib").Path(s["data_dir"])})
    runtime = BotRuntime(settings, poll_timeout=1, telegram_limits=RELAXED)
    await runtime.start()
    def stuck(data):  # an analysis that takes longer than the bot lives
        time.sleep(600)
    runtime.services.analyse = stuck
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_killed_mid_analysis_the_user_is_told_and_can_confirm_again(harness, tmp_path):
    ann = harness.user(2001, "Ann")
    await harness.signed_up(ann)
    await harness.stop_bot()
    s = harness.settings
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in s.__dict__.items()}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_BOT, json.dumps(settings)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "ready"
        data = page("gray")
        preview = await confirm(ann, data)
        await ann.wait_for_edit(preview.message_id, lambda m: "Analysing" in (m.caption or ""),
                                timeout=30)  # in the (stuck) analyser now: said in the preview's caption
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    from storage.mongo import connect

    client = connect(harness.mongo_uri)
    try:  # the bot is down: asked directly
        assert await client.get_default_database()["analyses_in_flight"].count_documents({}) == 1
    finally:
        await client.close()
    await harness.start_bot()
    told = await ann.wait_for(lambda m: m.caption and "interrupted" in m.caption, timeout=30)
    assert told.kind == "photo" and preview_of(told)
    assert told.photo_bytes == preview.photo_bytes  # the same picture, by its file id
    await ann.press("Confirm", told.message_id)
    result = await ann.wait_for(is_result, timeout=60)
    assert texts.NOT_AN_ECG in result.content
    doc = await harness.db["analyses"].find_one({})
    assert doc["image_sha256"] == hashlib.sha256(data).hexdigest()
    await harness.settled()  # the record is removed once the heat map is out too, a moment after the result
    assert await harness.db["analyses_in_flight"].count_documents({}) == 0
    await harness.restart_bot()  # told once, not at every start
    await ann.expect_silence(1.0)


async def test_a_chat_that_blocked_the_bot_is_marked_once_and_not_retried(harness):
    from datetime import timedelta

    ann, ben = harness.user(2001, "Ann"), harness.user(2002, "Ben")
    await harness.signed_up(ann)
    await harness.signed_up(ben, username="ben", email="ben@example.com")
    ben.block()
    await harness.stop_bot()
    harness.clock.advance(timedelta(hours=30))  # both sessions expire while the bot is down
    sent_before = len(harness.emulator.core.requests)
    await harness.start_bot()
    assert (await ann.wait_for()).raw_text == texts.SESSION_EXPIRED
    await harness.restart_bot()
    await asyncio.sleep(1.0)
    await harness.restart_bot()
    await asyncio.sleep(1.0)
    tries = [r for r in list(harness.emulator.core.requests)[sent_before:]
             if r.method == "sendMessage" and str(r.params.get("chat_id")) == str(ben.chat_id)]
    assert len(tries) == 1  # tried once, then marked: not at every restart
    assert await harness.db["blocked_chats"].count_documents({}) == 1
