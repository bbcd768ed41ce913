"""Telegram's sending limits, kept by the bot itself: at most 30 calls a second overall and one call a
second to any one chat, and a `RetryAfter` from the server waited out and retried.

PTB's `AIORateLimiter` (the `rate-limiter` extra) limits private chats only by the overall rate (its
per-chat limiter is for groups) and its leaky bucket lets up to twice the rate through in one second
after a pause; this one holds both limits in every window, so the Bot API server (or the emulator,
which counts the calls) never sees more. `getUpdates` (the long poll) is not limited.

- Per chat (any call with a `chat_id`): calls to one chat go out in order, each at least
  `per_chat_interval` (+ `guard`) after the previous one's answer came back; a call waiting for its
  chat holds nothing shared.
- Overall: at most `overall_per_second` calls in any `1 + guard` seconds, counted from when a call is
  let through until its answer is back (`SlidingWindow`), so the server counts no more either.
- `RetryAfter`: that chat (or, for a call without a chat, every call) waits the time the server asked,
  then the call is made again, up to `max_retries` times; then the error reaches the caller.

`guard` widens each window a little so the server, which sees the calls a few milliseconds later and
not quite evenly, counts no more than the limit either.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TelegramLimits:
    overall_per_second: int = 30  # Telegram: "no more than 30 messages per second" to different users
    per_chat_interval: float = 1.0  # Telegram: "avoid sending more than one message per second" to a chat
    guard: float = 0.15  # seconds added to each window (see the module docstring)
    max_retries: int = 5  # RetryAfter retries of one call


PRODUCTION = TelegramLimits()
RELAXED = TelegramLimits(overall_per_second=100_000, per_chat_interval=0.0, guard=0.0)  # tests of everything else
UNPOLLED = frozenset({"getupdates"})
PRUNE_ABOVE = 1000  # chats remembered before the spacing of idle ones is forgotten


class SlidingWindow:
    """At most `limit` calls in any `period` seconds *as the server sees them*: a call holds its slot from
    the moment it is let through until `period` after its answer came back. The server receives a call
    somewhere between those two instants, so however late or bunched the calls travel (a busy event
    loop, a slow network), any `limit + 1` of them arrive more than `period` apart. Waiters are served
    first come, first served."""

    def __init__(self, limit: int, period: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.period, self._clock = limit, period, clock
        self._in_flight = 0
        self._ended: deque[float] = deque()  # answer times of finished calls, oldest first
        self._lock = asyncio.Lock()
        self._changed: asyncio.Future | None = None

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                while self._ended and now - self._ended[0] >= self.period:
                    self._ended.popleft()
                if self._in_flight + len(self._ended) < self.limit:
                    self._in_flight += 1
                    return
                if self._ended:
                    await asyncio.sleep(self.period - (now - self._ended[0]))
                else:  # every slot is a call still on its way: wait for one to come back
                    self._changed = asyncio.get_running_loop().create_future()
                    await self._changed

    def release(self) -> None:
        self._in_flight -= 1
        self._ended.append(self._clock())
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)


class ChatRateLimiter(BaseRateLimiter[None]):
    def __init__(self, limits: TelegramLimits = PRODUCTION) -> None:
        self.limits = limits
        self._overall = SlidingWindow(limits.overall_per_second, 1.0 + limits.guard)
        self._chats: dict[object, asyncio.Lock] = {}
        self._chat_waiting: dict[object, int] = {}
        self._last_call: dict[object, float] = {}
        self._resume_at = 0.0  # a RetryAfter on a call without a chat pauses everything until then

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict | list[dict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict | list[dict]:
        if endpoint.lower() in UNPOLLED:
            return await callback(*args, **kwargs)
        chat = data.get("chat_id")
        if chat is None:
            return await self._send(None, callback, args, kwargs)
        key = str(chat)
        lock = self._chats.setdefault(key, asyncio.Lock())
        self._chat_waiting[key] = self._chat_waiting.get(key, 0) + 1
        try:
            async with lock:
                return await self._send(key, callback, args, kwargs)
        finally:
            self._chat_waiting[key] -= 1
            if not self._chat_waiting[key]:  # forget idle chats (the spacing has passed by the next call)
                del self._chat_waiting[key]
                self._chats.pop(key, None)
            if len(self._last_call) > PRUNE_ABOVE:
                self._prune()

    def _prune(self) -> None:
        """Forget the last call of chats whose spacing has passed (the dict would grow with every chat)."""
        horizon = time.monotonic() - self.limits.per_chat_interval - self.limits.guard
        self._last_call = {k: t for k, t in self._last_call.items() if t > horizon or k in self._chats}

    async def _send(self, key: str | None, callback, args, kwargs):
        attempt = 0
        while True:
            await self._wait_turn(key)
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                self._done(key)
                attempt += 1
                if attempt > self.limits.max_retries:
                    raise
                wait = exc.retry_after.total_seconds() if hasattr(exc.retry_after, "total_seconds") else float(exc.retry_after)
                log.warning("Telegram asked to wait %.1f s (attempt %d); retrying", wait, attempt)
                if key is None:
                    self._resume_at = max(self._resume_at, time.monotonic() + wait)
                await asyncio.sleep(wait + 0.1)
                continue
            except BaseException:
                self._done(key)
                raise
            self._done(key)
            return result

    def _done(self, key: str | None) -> None:
        """A call came back: its overall slot and its chat's spacing count from now (see SlidingWindow)."""
        self._overall.release()
        if key is not None:
            self._last_call[key] = time.monotonic()

    async def _wait_turn(self, key: str | None) -> None:
        pause = self._resume_at - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        if key is not None:
            last = self._last_call.get(key)
            if last is not None:
                wait = last + self.limits.per_chat_interval + self.limits.guard - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
        await self._overall.acquire()
