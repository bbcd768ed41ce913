"""The analysis task `ecg-bot worker` runs: idempotent by analysis id, at most two runs.

    run_analysis(redis, analysis_id, report) -> payload dict (workers.payload)

1. A result already stored for this id is returned as it is: a message delivered twice (a worker that
   died after storing but before acknowledging, a visibility timeout passed) gives the same answer.
2. The run is counted (`ecg:attempts:<id>`); past `MAX_ATTEMPTS` (the first run and one retry after a
   worker died) the analysis fails as `worker_lost` instead of killing worker after worker.
3. The picture is read (`report("digitizing")`), then diagnosed with its heat map (`report("classifying")`),
   and the outcome is stored with SET NX: the first stored outcome is the one every run returns.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable

from workers.payload import (ATTEMPTS_KEY, IMAGE_KEY, MAX_ATTEMPTS, RESULT_KEY, RESULT_TTL, encode)

log = logging.getLogger(__name__)


def _store(redis, analysis_id: str, payload: dict) -> dict:
    key = RESULT_KEY.format(analysis_id)
    redis.set(key, json.dumps(payload), nx=True, ex=RESULT_TTL)
    stored = redis.get(key)
    return json.loads(stored) if stored is not None else payload


def run_analysis(redis, analysis_id: str, report: Callable[[str], None]) -> dict:
    stored = redis.get(RESULT_KEY.format(analysis_id))
    if stored is not None:
        log.info("analysis %s: already done, the stored result is returned", analysis_id)
        return json.loads(stored)
    attempts = redis.incr(ATTEMPTS_KEY.format(analysis_id))
    redis.expire(ATTEMPTS_KEY.format(analysis_id), RESULT_TTL)
    if attempts > MAX_ATTEMPTS:
        log.error("analysis %s: run %d, its workers died %d times: given up", analysis_id, attempts, attempts - 1)
        return _store(redis, analysis_id, {"status": "failed", "reason": "worker_lost"})
    image = redis.get(IMAGE_KEY.format(analysis_id))
    if image is None:
        return _store(redis, analysis_id, {"status": "failed", "reason": "image_gone"})
    from inference.analysis import analyse_reading
    from inference.reading import read_ecg

    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        report("digitizing")
        reading = read_ecg(image)
        if reading.ok:
            report("classifying")
        payload = encode(analyse_reading(reading), attempt=attempts, worker=worker)
    except FileNotFoundError:
        log.error("analysis %s: the diagnosis model file is missing", analysis_id)
        payload = {"status": "failed", "reason": "model_missing"}
    except Exception:
        log.exception("analysis %s failed", analysis_id)
        payload = {"status": "failed", "reason": "error"}
    result = _store(redis, analysis_id, payload)
    redis.delete(IMAGE_KEY.format(analysis_id))
    return result


def register(app, redis_factory: Callable[[], object]):
    """The task on `app`, with a Redis client per worker process (made on first use, after a fork)."""
    from workers.celery_app import TASK_NAME

    clients: dict[int, object] = {}

    @app.task(name=TASK_NAME, bind=True)
    def analyse_task(self, analysis_id: str) -> dict:
        redis = clients.get(os.getpid())
        if redis is None:
            redis = clients[os.getpid()] = redis_factory()
        worker = f"{socket.gethostname()}:{os.getpid()}"

        def report(stage: str) -> None:
            self.update_state(state="PROGRESS", meta={"stage": stage, "worker": worker})

        return run_analysis(redis, analysis_id, report)

    return analyse_task
