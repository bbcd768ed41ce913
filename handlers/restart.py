"""What the users are told after a restart (or when a standby becomes the leader), paced
(`STARTUP_NOTICES_PER_SECOND`) in the background so start-up does not wait for it and Telegram's limits are
never approached: sessions that ended while the bot was down, daily reminders whose time passed meanwhile
(`handlers.jobs.missed_reminders`), and analyses the bot was stopped in the middle of (the preview comes back
with Confirm). Notices and reminders are claimed in the database before they are sent: at most once.
Chats that blocked the bot are skipped and, when Telegram first says so, marked (`storage.chats`)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from telegram.error import Forbidden, TelegramError
from telegram.ext import Application

from accounts.models import Session
from content.reminders import Reminder
from handlers import texts
from handlers.context import services_of
from handlers.diagnosis import offer_again
from handlers.jobs import catch_up_reminder, missed_reminders, notify
from handlers.limits import STARTUP_NOTICES_PER_SECOND
from storage.inflight import InFlight

log = logging.getLogger(__name__)


@dataclass
class Leftovers:
    ended_sessions: list[Session]
    interrupted: list[InFlight]
    missed_reminders: list[Reminder] = field(default_factory=list)


async def collect(application: Application) -> Leftovers:
    """Before polling starts (so nothing of this run is mistaken for a leftover of the last one)."""
    services = services_of(application)
    return Leftovers(await services.accounts.unnotified_ended_sessions(), await services.in_flight.all(),
                     await missed_reminders(application))


async def announce(application: Application, leftovers: Leftovers) -> None:
    services = services_of(application)
    interval = 1 / STARTUP_NOTICES_PER_SECOND
    try:
        for session in leftovers.ended_sessions:
            text = texts.SESSION_EXPIRED if session.end_reason == "expired" else texts.SESSION_ENDED_BY_RESET
            await notify(application, [session], text)
            await asyncio.sleep(interval)
        for reminder in leftovers.missed_reminders:
            if await catch_up_reminder(application, reminder.user_id):
                await asyncio.sleep(interval)
        for record in leftovers.interrupted:
            if not services.blocked_chats.is_blocked(record.chat_id):
                try:
                    await offer_again(application, record)
                except Forbidden:
                    await services.blocked_chats.mark(record.chat_id, services.clock.now())
                except TelegramError as exc:
                    log.warning("could not tell a chat that its analysis was interrupted: %s", exc)
            await services.in_flight.finish(record.id)
            await asyncio.sleep(interval)
        await application.update_persistence()
    except Exception:
        log.exception("start-up notifications stopped")
