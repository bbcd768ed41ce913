"""Process updates of different chats concurrently, each chat's updates in order, and fairly.

PTB's default processes one update at a time, so a slow step in one chat would stall every other
chat; plain `concurrent_updates=True` would let two messages of one user race through a
conversation. One lock per chat gives both properties.

Fairness: PTB's own limit (a semaphore taken before `do_process_update`) would be held by updates that
only wait for their own chat's lock, so one chat's burst of hundreds of messages took every slot and
delayed everyone else (measured: 11 s for another chat's single message). Here that limit is set out
of reach and the real one, `max_chats_in_flight`, is taken *after* the chat's lock: a chat occupies at
most one slot, however many of its updates wait. A chat with `max_queued_per_chat` updates already
waiting gets no more queued: the excess is dropped (logged), so a flood costs neither memory nor time.
(The per-user message rate limit, `handlers.throttle`, answers the sender; this is the hard stop below it.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)

MAX_CHATS_IN_FLIGHT = 64  # chats whose update is being handled at once
MAX_QUEUED_PER_CHAT = 30  # updates of one chat waiting (the one being handled included)
_OUT_OF_REACH = 1_000_000  # PTB's semaphore: never the limit (see the module docstring)


class PerChatUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_chats_in_flight: int = MAX_CHATS_IN_FLIGHT,
                 max_queued_per_chat: int = MAX_QUEUED_PER_CHAT) -> None:
        super().__init__(_OUT_OF_REACH)
        self.max_chats_in_flight = max_chats_in_flight
        self.max_queued_per_chat = max_queued_per_chat
        self._slots = asyncio.Semaphore(max_chats_in_flight)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self.dropped = 0  # updates dropped because their chat had too many waiting

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = self._key(update)
        if key is None:
            async with self._slots:
                await coroutine
            return
        if self._waiting.get(key, 0) >= self.max_queued_per_chat:
            self._drop(key, coroutine)
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                async with self._slots:
                    await coroutine
        finally:
            self._waiting[key] -= 1
            if self._waiting[key] == 0:  # forget idle chats so the dict doesn't grow forever
                del self._waiting[key]
                self._locks.pop(key, None)

    def _drop(self, key: int, coroutine: Awaitable[Any]) -> None:
        close = getattr(coroutine, "close", None)
        if close is not None:
            close()  # never awaited, on purpose
        self.dropped += 1
        if self.dropped % 100 == 1:
            log.warning("a chat has %d updates waiting: dropping its excess (%d dropped so far)",
                        self.max_queued_per_chat, self.dropped)

    @staticmethod
    def _key(update: object) -> int | None:
        if isinstance(update, Update):
            if update.effective_chat is not None:
                return update.effective_chat.id
            if update.effective_user is not None:
                return update.effective_user.id
        return None

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""
