"""Active / standby: one lease document in MongoDB decides which bot process is the leader.

Any number of bot processes may run against the same database. The one holding the lease polls Telegram (or
registers the webhook), runs the job queue (session expiry, daily reminders, notices after a restart) and sends
the mail outbox; the others wait as standbys, ready to take over.

The lease is one document, `{_id: "bot", holder, expires_at (epoch ms), since}` in the collection `leases`:

- taking it is one conditional update (`holder` is me, or `expires_at` has passed) or, when there is no document
  yet, one insert (a duplicate key means another process won): atomic on the server, so two processes can never
  both hold it (no upserts: the nx-27017 portability rule of `storage.mongo`);
- the leader renews it every `ttl / 4` seconds; a renewal that finds another holder makes it step down at
  once. A leader that cannot reach the database at all keeps serving (it answers "database down", and a standby
  cannot take the lease without the database either) for `stale_after` (3 × ttl) and then steps down; only a
  leader cut off from the database while a standby still reaches it can overlap with its successor, for at
  most `stale_after - ttl` seconds (Telegram then answers the second poller with 409 Conflict, and the jobs
  need the database, which that leader cannot reach);
- a standby tries every `ttl / 5` seconds, so it takes over at most `ttl + ttl / 5` seconds after the leader's
  last renewal (12 s with the default 10 s);
- a leader stopping cleanly deletes the lease, and a standby takes over at its next try.

Clocks: expiry is compared with each process's wall clock, so the machines' clocks must agree to well under
`margin` (NTP does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable

from pymongo.errors import DuplicateKeyError, PyMongoError

from storage.mongo import Database, raise_if_cancelled

log = logging.getLogger(__name__)

COLLECTION = "leases"
DEFAULT_TTL = 10.0  # seconds; BOT_LEASE_TTL


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Lease:
    """The lease document's three operations, each one atomic statement."""

    def __init__(self, db: Database, holder: str, *, name: str = "bot", ttl: float = DEFAULT_TTL,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.collection = db[COLLECTION]
        self.holder = holder
        self.name = name
        self.ttl = ttl
        self.wall_clock = wall_clock

    def _now_ms(self) -> int:
        return int(self.wall_clock() * 1000)

    async def acquire(self) -> bool:
        """Take or renew the lease; True when this process holds it now."""
        now = self._now_ms()
        expires = now + int(self.ttl * 1000)
        taken = await self.collection.update_one(
            {"_id": self.name, "$or": [{"holder": self.holder}, {"expires_at": {"$lt": now}}]},
            {"$set": {"holder": self.holder, "expires_at": expires}},
        )
        if taken.matched_count:
            return True
        if await self.collection.count_documents({"_id": self.name}, limit=1):
            return False
        try:
            await self.collection.insert_one({"_id": self.name, "holder": self.holder, "expires_at": expires})
            return True
        except DuplicateKeyError:
            return False

    async def release(self) -> None:
        await self.collection.delete_one({"_id": self.name, "holder": self.holder})

    async def current(self) -> dict | None:
        return await self.collection.find_one({"_id": self.name})


class LeaderElection:
    """Keeps trying to be the leader; calls `on_elected` when it becomes one and `on_lost` when it must stop."""

    def __init__(self, lease: Lease, *, on_elected: Callable[[], Awaitable[None]],
                 on_lost: Callable[[], Awaitable[None]], stale_after: float | None = None) -> None:
        self.lease = lease
        self.on_elected = on_elected
        self.on_lost = on_lost
        self.stale_after = stale_after if stale_after is not None else 3 * lease.ttl
        self.renew_every = lease.ttl / 4
        self.try_every = lease.ttl / 5
        self.is_leader = False
        self._renewed = 0.0  # monotonic time of the last successful take or renewal
        self._task: asyncio.Task | None = None

    async def try_once(self) -> bool:
        """One attempt (start-up calls it before starting the loop, so a lone bot is leader at once)."""
        started = time.monotonic()
        try:
            held = await self.lease.acquire()
        except PyMongoError as exc:
            log.warning("lease: database unreachable (%s)", type(exc).__name__)
            held = None
        if held:
            self._renewed = started
            if not self.is_leader:
                self.is_leader = True
                log.info("lease: %s is the leader now", self.lease.holder)
                try:
                    await self.on_elected()
                except BaseException:  # could not start leading: undo, give the lease to someone who can
                    self.is_leader = False
                    with contextlib.suppress(Exception):
                        await self.on_lost()
                    with contextlib.suppress(PyMongoError):
                        await self.lease.release()
                    raise
        elif self.is_leader and (held is False or time.monotonic() - self._renewed > self.stale_after):
            self.is_leader = False
            log.warning("lease: %s lost the lease (%s); stepping down", self.lease.holder,
                        "another holder" if held is False else "not renewed in time")
            await self.on_lost()
        return self.is_leader

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="leader-election")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every if self.is_leader else self.try_every)
            try:
                await self.try_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # becoming or stopping being the leader failed: try again at the next tick
                log.exception("lease: leadership change failed")
            raise_if_cancelled()  # one that came back as the driver's error (see storage.mongo)

    async def halt(self) -> None:
        """Stop trying and renewing (the lease is kept until `stop` or its expiry)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def stop(self) -> None:
        """Stop trying; a leader gives the lease up (a standby takes over at its next try)."""
        await self.halt()
        if self.is_leader:
            self.is_leader = False
            with contextlib.suppress(PyMongoError):
                await self.lease.release()
