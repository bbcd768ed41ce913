"""A bounded, first-come-first-served queue that runs CPU-heavy analyses off the event loop.

The bot awaits `AnalysisQueue.run(...)`; the work runs in a small thread pool (TensorFlow and
NumPy release the GIL), so chat replies of other users keep flowing while a model runs. Waiting
callers learn their place in the queue through `on_position`, which the bot shows in the progress
message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
PositionCallback = Callable[[int], Awaitable[None]]


class QueueFull(Exception):
    """More analyses are waiting than the queue accepts; the user should retry shortly."""


class AnalysisQueue:
    def __init__(self, workers: int = 1, max_waiting: int = 200) -> None:
        self.workers = workers
        self.max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analysis")
        self._running = 0
        self._waiting: list[tuple[asyncio.Future, PositionCallback | None]] = []

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def run(self, fn: Callable[..., T], *args: Any, on_position: PositionCallback | None = None) -> T:
        """Run `fn(*args)` in the pool when a worker is free; raise QueueFull if too many wait."""
        await self._acquire(on_position)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        finally:
            self._release()

    async def _acquire(self, on_position: PositionCallback | None) -> None:
        if self._running < self.workers and not self._waiting:
            self._running += 1
            return
        if len(self._waiting) >= self.max_waiting:
            raise QueueFull()
        ticket = asyncio.get_running_loop().create_future()
        self._waiting.append((ticket, on_position))
        await tell_progress(on_position, len(self._waiting))
        try:
            await ticket
        except asyncio.CancelledError:
            if ticket.done() and not ticket.cancelled():  # a slot was handed to us: pass it on
                self._release()
            else:
                self._waiting = [(t, cb) for t, cb in self._waiting if t is not ticket]
            raise

    def _release(self) -> None:
        if self._waiting:
            ticket, _ = self._waiting.pop(0)
            ticket.set_result(None)  # the slot passes straight to the next caller
            for position, (_, callback) in enumerate(self._waiting, start=1):
                asyncio.ensure_future(tell_progress(callback, position))
        else:
            self._running -= 1

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


async def tell_progress(callback: Callable[[Any], Awaitable[Any]] | None, value: Any) -> None:
    """Call a progress callback (a queue position, a stage); a progress message that cannot be edited
    must not break the queue or the analysis."""
    if callback is None:
        return
    try:
        await callback(value)
    except Exception:
        log.warning("progress update failed", exc_info=True)
