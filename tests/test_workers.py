"""Analyses on workers: a real redis-server, real `ecg-bot worker` subprocesses, the bot's client
(`workers.client.RemoteAnalyses`) and, end to end, the real bot against the Bot API emulator."""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
import uuid

import pytest
import redis
from PIL import Image

from _processes import RedisServer, Worker
from workers.client import BrokerUnavailable, RemoteAnalyses
from workers.payload import ATTEMPTS_KEY, RESULT_KEY, AnalysisFailed


def blank_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 850), "white").save(buffer, "PNG")
    return buffer.getvalue()


def ecg_page() -> bytes:
    """A 12-lead page rendered in the print layout from known signals (training.page_render)."""
    from training.page_render import render_random_page

    return render_random_page(3).jpeg_bytes()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def workers(tmp_path, redis_server):
    started: list[Worker] = []

    def start(name: str, **kwargs) -> Worker:
        worker = Worker(redis_server.url, tmp_path / f"{name}.log", name=name, **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def new_id() -> str:
    return uuid.uuid4().hex[:12]


async def test_a_worker_analyses_and_reports_its_progress(redis_server, workers):
    remote = RemoteAnalyses(redis_server.url, poll_interval=0.1)
    seen: list = []

    async def on_position(position):
        seen.append(("position", position))

    async def on_stage(stage):
        seen.append(("stage", stage))

    analysis_id = new_id()
    task = asyncio.create_task(remote.analyse(analysis_id, blank_png(), on_position=on_position, on_stage=on_stage))
    await asyncio.sleep(1.0)
    assert seen and seen[0] == ("position", 1), seen  # no worker yet: first in the queue
    worker = workers("w1")
    analysis = await asyncio.wait_for(task, 120)
    assert not analysis.result.is_ecg and analysis.result.reason_code  # a blank page, refused by the reading
    assert analysis.heatmap is None and analysis.digitized is None
    assert ("stage", "digitizing") in seen or ("stage", "started") in seen, seen
    # idempotent by analysis id: the same id again gives the stored outcome, nothing runs again
    client = redis.Redis.from_url(redis_server.url)
    assert int(client.get(ATTEMPTS_KEY.format(analysis_id))) == 1
    again = await asyncio.wait_for(remote.analyse(analysis_id, blank_png()), 30)
    assert again.result == analysis.result
    assert int(client.get(ATTEMPTS_KEY.format(analysis_id))) == 1
    assert worker.proc.poll() is None
    remote.close()


async def test_a_worker_killed_mid_analysis_its_analysis_runs_on_another_once(redis_server, workers):
    """SIGKILL of a whole worker (main process and its pool) while it classifies: the message was not
    acknowledged, Redis hands it to the other worker after the visibility timeout, one outcome comes back."""
    w1, w2 = workers("w1", visibility=4), workers("w2", visibility=4)
    w1.wait_ready()
    w2.wait_ready()
    remote = RemoteAnalyses(redis_server.url, poll_interval=0.1)
    analysis_id = new_id()
    stages: list[str] = []
    busy = asyncio.Event()

    async def on_stage(stage):
        stages.append(stage)
        if stage == "classifying":  # the worker is loading the models or running them: mid-analysis
            busy.set()

    task = asyncio.create_task(remote.analyse(analysis_id, ecg_page(), on_stage=on_stage))
    await asyncio.wait_for(busy.wait(), 120)
    state, info = remote._state(analysis_id)
    pid = int(info["worker"].rsplit(":", 1)[1])
    victim = next(w for w in (w1, w2) if os.getpgid(pid) == w.proc.pid)
    survivor = w2 if victim is w1 else w1
    victim.kill()
    killed_at = time.monotonic()
    analysis = await asyncio.wait_for(task, 300)
    assert analysis.result.is_ecg and analysis.result.label, analysis.result
    assert analysis.heatmap and analysis.digitized is not None
    client = redis.Redis.from_url(redis_server.url)
    stored = json.loads(client.get(RESULT_KEY.format(analysis_id)))
    assert stored["attempt"] == 2 and int(client.get(ATTEMPTS_KEY.format(analysis_id))) == 2
    assert os.getpgid(int(stored["worker"].rsplit(":", 1)[1])) == survivor.proc.pid
    assert stages.count("classifying") >= 2  # shown again as the retry ran
    print(f"retried and answered {time.monotonic() - killed_at:.1f} s after the kill")
    remote.close()


def test_an_analysis_whose_workers_died_twice_is_given_up_not_run_a_third_time(redis_server):
    from workers.tasks import run_analysis
    from workers.payload import IMAGE_KEY

    client = redis.Redis.from_url(redis_server.url)
    analysis_id = new_id()
    client.set(IMAGE_KEY.format(analysis_id), blank_png())
    client.set(ATTEMPTS_KEY.format(analysis_id), 2)  # two runs began, neither finished
    ran: list[str] = []
    payload = run_analysis(client, analysis_id, ran.append)
    assert payload == {"status": "failed", "reason": "worker_lost"} and ran == []
    with pytest.raises(AnalysisFailed) as failed:
        from workers.payload import decode

        decode(payload)
    assert failed.value.reason == "worker_lost"
    # and the stored outcome is the answer from now on, even for a run that would have worked
    client.set(ATTEMPTS_KEY.format(analysis_id), 0)
    assert run_analysis(client, analysis_id, ran.append) == payload and ran == []


async def test_broker_down_the_analysis_waits_says_so_and_runs_when_it_is_back(redis_server, workers):
    """The bot does not fall back to analysing itself: the analysis waits for Redis (the user is told), is
    submitted when Redis is back, and a worker runs it. Past `broker_wait` it gives up."""
    remote = RemoteAnalyses(redis_server.url, poll_interval=0.1, retry_interval=0.3)
    worker = workers("w1")
    worker.wait_ready()
    redis_server.stop()
    stages: list[str] = []

    async def on_stage(stage):
        stages.append(stage)

    task = asyncio.create_task(remote.analyse(new_id(), blank_png(), on_stage=on_stage))
    for _ in range(100):
        if stages:
            break
        await asyncio.sleep(0.1)
    assert stages == ["broker_down"]
    await asyncio.sleep(1.5)
    assert not task.done()
    redis_server.start()  # same port, same directory
    analysis = await asyncio.wait_for(task, 120)
    assert not analysis.result.is_ecg
    assert stages.count("broker_down") == 1

    redis_server.stop()
    impatient = RemoteAnalyses(redis_server.url, retry_interval=0.2, broker_wait=1.0)
    with pytest.raises(BrokerUnavailable):
        await asyncio.wait_for(impatient.analyse(new_id(), blank_png()), 30)
