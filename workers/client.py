"""The bot's side of the worker queue: submit an analysis, follow it, get its outcome.

    remote = RemoteAnalyses("redis://…")
    analysis = await remote.analyse(analysis_id, image, on_position=…, on_stage=…)

Blocking Redis calls run in threads, so the event loop keeps serving chats. Progress comes from the
broker and the result backend: the place in the Redis queue while the message waits (`on_position`), then
the worker's stages (`on_stage`: "started", "digitizing", "classifying"). While Redis cannot be reached,
`on_stage("broker_down")` is called once and the analysis *waits* (submitting or following is retried
every few seconds) until Redis is back or `broker_wait` has passed (then `BrokerUnavailable`): the bot
never falls back to analysing itself, so a bot machine never needs the models' memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from inference.queue import tell_progress
from workers.payload import IMAGE_KEY, IMAGE_TTL, SUBMITTED_KEY, AnalysisFailed, decode

log = logging.getLogger(__name__)

PositionCallback = Callable[[int], Awaitable[None]]
StageCallback = Callable[[str], Awaitable[None]]


class BrokerUnavailable(Exception):
    """Redis stayed unreachable for longer than the analysis may wait."""


class RemoteAnalyses:
    def __init__(self, broker_url: str, *, poll_interval: float = 0.5, broker_wait: float = 600.0,
                 retry_interval: float = 2.0, give_up_after: float = 1800.0) -> None:
        import redis

        from workers.celery_app import make_app

        self.broker_url = broker_url
        self.app = make_app(broker_url)
        self.redis = redis.Redis.from_url(broker_url, socket_connect_timeout=3, socket_timeout=10)
        self.poll_interval = poll_interval
        self.broker_wait = broker_wait
        self.retry_interval = retry_interval
        self.give_up_after = give_up_after
        self._connection_errors = self._errors()

    @staticmethod
    def _errors() -> tuple[type[BaseException], ...]:
        import kombu.exceptions
        import redis

        return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, kombu.exceptions.OperationalError,
                ConnectionError, OSError)

    # --- blocking parts (in threads) ------------------------------------------------------------
    def _submit(self, analysis_id: str, image: bytes) -> None:
        """Picture first, then the message; a second call for the same id sends nothing again."""
        from workers.celery_app import QUEUE, TASK_NAME

        if self.redis.get(SUBMITTED_KEY.format(analysis_id)) is not None:
            return
        self.redis.set(IMAGE_KEY.format(analysis_id), image, ex=IMAGE_TTL)
        self.app.send_task(TASK_NAME, args=[analysis_id], task_id=analysis_id, queue=QUEUE)
        self.redis.set(SUBMITTED_KEY.format(analysis_id), b"1", ex=IMAGE_TTL * 24)

    def _state(self, analysis_id: str) -> tuple[str, Any]:
        result = self.app.AsyncResult(analysis_id)
        return result.state, result.info

    def queue_position(self, analysis_id: str) -> int | None:
        """1 for the next message a worker takes; None when it is not waiting in the queue (taken)."""
        from workers.celery_app import QUEUE

        waiting = self.redis.lrange(QUEUE, 0, -1)  # LPUSHed, BRPOPed: the oldest is last
        for index, raw in enumerate(reversed(waiting), start=1):
            try:
                if json.loads(raw).get("headers", {}).get("id") == analysis_id:
                    return index
            except (ValueError, AttributeError):
                continue
        return None

    def ping(self) -> bool:
        """Redis reachable (for /readyz)."""
        try:
            return bool(self.redis.ping())
        except self._connection_errors:
            return False

    # --- the analysis ---------------------------------------------------------------------------
    async def analyse(self, analysis_id: str, image: bytes, *, on_position: PositionCallback | None = None,
                      on_stage: StageCallback | None = None) -> Any:
        """Submit (once) and wait for the outcome: an `inference.analysis.Analysis`; `AnalysisFailed` when
        the workers gave up on it, `BrokerUnavailable` when Redis stayed down too long."""
        told_down = False

        async def broker_down(since: float) -> None:
            nonlocal told_down
            if time.monotonic() - since > self.broker_wait:
                raise BrokerUnavailable()
            if not told_down:
                told_down = True
                log.warning("analysis broker unreachable; analysis %s waits for it", analysis_id)
                await tell_progress(on_stage, "broker_down")
            await asyncio.sleep(self.retry_interval)

        down_since = None
        while True:
            try:
                await asyncio.to_thread(self._submit, analysis_id, image)
                break
            except self._connection_errors:
                down_since = down_since or time.monotonic()
                await broker_down(down_since)
        started = time.monotonic()
        last_position, last_stage, down_since = None, None, None
        while True:
            try:
                state, info = await asyncio.to_thread(self._state, analysis_id)
                position = await asyncio.to_thread(self.queue_position, analysis_id) if state == "PENDING" else None
            except self._connection_errors:
                down_since = down_since or time.monotonic()
                await broker_down(down_since)
                continue
            if down_since is not None:  # back: show where it stands again
                down_since, told_down, last_position, last_stage = None, False, None, None
            if state == "SUCCESS":
                return decode(info)
            if state in ("FAILURE", "REVOKED"):
                raise AnalysisFailed("error")
            if position is not None and position != last_position:
                last_position = position
                await tell_progress(on_position, position)
            stage = info.get("stage") if state == "PROGRESS" and isinstance(info, dict) else \
                ("started" if state == "STARTED" else None)
            if stage is not None and stage != last_stage:
                last_stage = stage
                await tell_progress(on_stage, stage)
            if time.monotonic() - started > self.give_up_after:
                raise AnalysisFailed("timeout")
            await asyncio.sleep(self.poll_interval)

    def close(self) -> None:
        try:
            self.redis.close()
        except Exception:
            pass
