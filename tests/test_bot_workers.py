"""The bot with ANALYSIS_BROKER_URL set, end to end: the real bot against the Bot API emulator submits to a
real redis-server, real `ecg-bot worker` subprocesses analyse; the user sees the worker's stages in the
progress message and gets one result, even when the worker analysing it is killed."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid

import pytest
import pytest_asyncio

from _processes import RedisServer, Worker
from conftest import BotHarness
from handlers import remote_analysis, texts
from test_bot_diagnosis import image_bytes, preview_of
from test_workers import ecg_page


class WorkerBotHarness(BotHarness):
    broker_url = ""

    async def start_bot(self) -> None:
        self.settings = dataclasses.replace(self.settings, analysis_broker_url=self.broker_url)
        await super().start_bot()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest_asyncio.fixture
async def bot(tmp_path, nx_server, cheap_hashing, redis_server):
    h = WorkerBotHarness(tmp_path, f"{nx_server.rstrip('/')}/e2e_{uuid.uuid4().hex[:12]}")
    h.broker_url = redis_server.url
    await h.start()
    started: list[Worker] = []

    def worker(name: str, **kwargs) -> Worker:
        w = Worker(redis_server.url, tmp_path / f"{name}.log", name=name, **kwargs)
        started.append(w)
        return w

    h.worker = worker
    try:
        yield h
    finally:
        await h.stop()
        for w in started:
            w.stop()


def plain(text: str) -> str:
    return text.replace("<b>", "").replace("</b>", "")


def is_result(m) -> bool:
    return "confidence" in m.content or "Uncertain" in m.content or texts.NOT_AN_ECG in m.content


async def test_worker_killed_mid_analysis_the_user_gets_one_result_with_the_workers_progress(bot):
    assert bot.runtime.services.remote_analyses is not None
    w1, w2 = bot.worker("w1", visibility=4), bot.worker("w2", visibility=4)
    w1.wait_ready()
    w2.wait_ready()
    ann = bot.user(2001, "Ann")
    await bot.signed_up(ann)
    await ann.send_document(ecg_page(), "ecg.jpg", "image/jpeg")
    preview = await ann.wait_for(preview_of, timeout=30)
    await ann.press("Confirm", preview.message_id)
    progress = await ann.wait_for_edit(preview.message_id, timeout=30)  # the preview is the progress display now
    remote = bot.runtime.services.remote_analyses
    for _ in range(600):  # until a worker classifies (it loads the models then: mid-analysis)
        keys = [k.decode() for k in remote.redis.keys("celery-task-meta-*")]
        states = [remote._state(k.removeprefix("celery-task-meta-")) for k in keys]
        busy = [info for state, info in states if state == "PROGRESS" and info.get("stage") == "classifying"]
        if busy:
            break
        await asyncio.sleep(0.2)
    assert busy, "no worker reached the classifying stage"
    pid = int(busy[0]["worker"].rsplit(":", 1)[1])
    victim = next(w for w in (w1, w2) if os.getpgid(pid) == w.proc.pid)
    victim.kill()
    result = await ann.wait_for(is_result, timeout=300)
    assert "confidence" in result.content or "Uncertain" in result.content, result.content
    assert result.button_texts[-1] == texts.EXPORT_BUTTON  # the digitized signals came back from the worker
    heatmap = await ann.wait_for(lambda m: m.kind == "photo" and m.caption.startswith("Heat map"), timeout=60)
    assert heatmap.photo_bytes[:3] == b"\xff\xd8\xff"
    await ann.wait_for_edit(preview.message_id, lambda m: m.raw_caption == texts.PROGRESS_DONE, timeout=30)
    shown = [plain(v.caption) for v in progress.edits] + [plain(progress.caption)]
    assert plain(remote_analysis.PROGRESS_CLASSIFYING) in shown, shown
    assert not ann.chat_actions  # the caption says it; no chat action takes a turn before the result
    await ann.expect_silence(3)  # one result, not two
    assert sum(1 for m in ann.bot_messages() if is_result(m)) == 1
    await ann.press(texts.EXPORT_BUTTON, result.message_id)
    await ann.wait_for(lambda m: m.kind == "document", timeout=60)


async def test_broker_down_the_user_is_told_and_the_analysis_runs_when_it_is_back(bot, redis_server):
    worker = bot.worker("w1")
    worker.wait_ready()
    ann = bot.user(2002, "Ann")
    await bot.signed_up(ann)
    redis_server.stop()
    await ann.send_document(image_bytes(fmt="PNG"), "ecg.png", "image/png")
    preview = await ann.wait_for(preview_of, timeout=30)
    await ann.press("Confirm", preview.message_id)
    progress = await ann.wait_for_edit(preview.message_id, timeout=30)  # the preview is the progress display now
    for _ in range(100):
        if "can't be reached" in (progress.caption or ""):
            break
        await asyncio.sleep(0.1)
    assert plain(progress.caption) == plain(remote_analysis.PROGRESS_BROKER_DOWN)
    await ann.expect_silence(2)
    redis_server.start()
    result = await ann.wait_for(is_result, timeout=120)
    assert texts.NOT_AN_ECG in result.content  # a blank page: the worker's reading refused it
    await ann.wait_for_edit(preview.message_id, lambda m: m.raw_caption == texts.PROGRESS_DONE, timeout=30)
